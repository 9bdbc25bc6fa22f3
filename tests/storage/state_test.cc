// State::Apply — the one definition of what a record means — record kind by
// record kind; RouteOf; orphans; and State::Diff / Equals
// (storage/state.h, docs/formats/spine.md "State model and routing").
#include "storage/state.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "storage/record_codec.h"
#include "testing/spine_test_util.h"
#include "testing/log_test_util.h"

namespace razar::storage {
namespace {

using testing::ApplyEncoded;
using testing::Bytes;
using testing::kAllLayers;
using testing::StateDiffOf;

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

const Session* FindSession(const State& st, Layer l, uint64_t id) {
  const auto& m = st.layer(l).shards[ShardOfSession(id)].sessions;
  auto it = m.find(id);
  return it == m.end() ? nullptr : it->second.get();
}

const PendingEvent* FindEvent(const State& st, Layer l, uint64_t session_id, uint64_t event_id) {
  const auto& m = st.layer(l).shards[ShardOfSession(session_id)].events;
  auto it = m.find(event_id);
  return it == m.end() ? nullptr : it->second.get();
}

// Total sessions / events / components over every layer and shard, counted
// independently of State::session_count().
struct Totals {
  size_t sessions = 0, events = 0, components = 0;
};
Totals Count(const State& st) {
  Totals t;
  for (Layer l : kAllLayers) {
    for (const Shard& s : st.layer(l).shards) {
      t.sessions += s.sessions.size();
      t.events += s.events.size();
    }
    t.components += st.layer(l).components.size();
  }
  return t;
}

class StateApplyTest : public ::testing::Test {
 protected:
  void Apply(Lsn lsn, int64_t ts, const RecordEncoder::Encoded& e) {
    ApplyEncoded(&st_, lsn, ts, e);
  }
  // Two session ids that fall in different shards.
  static std::pair<uint64_t, uint64_t> TwoShards() {
    uint64_t a = 1001, b = 1002;
    while (ShardOfSession(b) == ShardOfSession(a)) ++b;
    return {a, b};
  }

  RecordEncoder enc_;
  State st_;
};

TEST(ShardOfSessionTest, IsSplitMix64ModuloShardCount) {
  for (uint64_t id : {0ull, 1ull, 2ull, 42ull, 255ull, 256ull, 123456789ull, ~0ull}) {
    EXPECT_EQ(ShardOfSession(id), testing::SplitMix64(id) % kShardCount) << "session " << id;
  }
  std::mt19937_64 rng(7);
  std::set<uint32_t> seen;
  for (int i = 0; i < 100000; ++i) {
    uint64_t id = rng();
    uint32_t s = ShardOfSession(id);
    ASSERT_LT(s, kShardCount);
    ASSERT_EQ(s, testing::SplitMix64(id) % kShardCount) << "session " << id;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), kShardCount) << "100000 random ids should reach every shard";
}

TEST_F(StateApplyTest, SessionOpenCreatesSessionInItsLayerAndShardWithEveryField) {
  const Bytes state = B("hello");
  const KeyValueArg kv[] = {{"a", std::span<const uint8_t>(state)}, {"b", std::nullopt}};
  Apply(10, 1000, enc_.SessionOpen(42, Layer::heart, 7, "svc", state, kv));

  const Session* s = FindSession(st_, Layer::heart, 42);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->session_id, 42u);
  EXPECT_EQ(s->layer, Layer::heart);
  EXPECT_EQ(s->component_id, 7u);
  EXPECT_EQ(s->component, "svc");
  EXPECT_EQ(s->state, state);
  ASSERT_EQ(s->kv.count("a"), 1u);
  EXPECT_EQ(s->kv.at("a"), state);
  EXPECT_EQ(s->opened_lsn, 10u);
  EXPECT_EQ(s->opened_unix_ns, 1000);
  EXPECT_EQ(st_.session_count(), 1u);
  EXPECT_EQ(st_.event_count(), 0u);
  EXPECT_EQ(st_.layer(Layer::heart).applied_lsn, 10u);
  Totals t = Count(st_);
  EXPECT_EQ(t.sessions, 1u) << "the session must exist in exactly one place";
  EXPECT_EQ(st_.orphans(), 0u);
  EXPECT_EQ(testing::PlacementProblem(st_), "");
}

TEST_F(StateApplyTest, SessionUpdateReplacesStateAndSetsAndDeletesKeys) {
  const Bytes v1 = B("one"), v2 = B("two"), v3 = B("three");
  const KeyValueArg open_kv[] = {{"keep", std::span<const uint8_t>(v1)},
                                 {"drop", std::span<const uint8_t>(v1)}};
  Apply(1, 100, enc_.SessionOpen(5, Layer::solar, 3, "c", B("s0"), open_kv));

  const KeyValueArg upd_kv[] = {{"drop", std::nullopt},
                                {"new", std::span<const uint8_t>(v2)},
                                {"keep", std::span<const uint8_t>(v3)}};
  const Bytes s1 = B("state-1");
  Apply(2, 200, enc_.SessionUpdate(5, Layer::solar, std::span<const uint8_t>(s1), upd_kv));

  const Session* s = FindSession(st_, Layer::solar, 5);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state, s1);
  EXPECT_EQ(s->kv.count("drop"), 0u) << "a kv entry without value deletes the key";
  ASSERT_EQ(s->kv.count("new"), 1u);
  EXPECT_EQ(s->kv.at("new"), v2);
  ASSERT_EQ(s->kv.count("keep"), 1u);
  EXPECT_EQ(s->kv.at("keep"), v3) << "a kv entry with a value overwrites the key";
  EXPECT_EQ(s->kv.size(), 2u);
  EXPECT_EQ(s->updated_lsn, 2u);
  EXPECT_EQ(s->updated_unix_ns, 200);
  EXPECT_EQ(s->opened_lsn, 1u) << "an update keeps the open LSN";
  EXPECT_EQ(s->opened_unix_ns, 100);
  EXPECT_EQ(s->component, "c");
  EXPECT_EQ(s->component_id, 3u);
  EXPECT_EQ(st_.layer(Layer::solar).applied_lsn, 2u);
}

TEST_F(StateApplyTest, SessionUpdateWithoutStateKeepsStateBytes) {
  Apply(1, 100, enc_.SessionOpen(5, Layer::root, 3, "c", B("orig")));
  const Bytes v = B("x");
  const KeyValueArg kv[] = {{"k", std::span<const uint8_t>(v)}};
  Apply(2, 200, enc_.SessionUpdate(5, Layer::root, std::nullopt, kv));
  const Session* s = FindSession(st_, Layer::root, 5);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state, B("orig"));
  ASSERT_EQ(s->kv.count("k"), 1u);
  EXPECT_EQ(s->kv.at("k"), v);
  EXPECT_EQ(s->updated_lsn, 2u);
}

TEST_F(StateApplyTest, SessionUpdateDoesNotMutateAFrozenSessionValue) {
  // Snapshots freeze a shard by copying pointers: an update must replace
  // the pointer, never write through it.
  Apply(1, 100, enc_.SessionOpen(5, Layer::root, 3, "c", B("orig")));
  std::shared_ptr<const Session> frozen =
      st_.layer(Layer::root).shards[ShardOfSession(5)].sessions.at(5);
  const Bytes s1 = B("new");
  Apply(2, 200, enc_.SessionUpdate(5, Layer::root, std::span<const uint8_t>(s1)));
  EXPECT_EQ(frozen->state, B("orig"));
  EXPECT_NE(frozen->updated_lsn, 2u);
  EXPECT_EQ(FindSession(st_, Layer::root, 5)->state, s1);
}

TEST_F(StateApplyTest, SessionCloseRemovesTheSession) {
  auto [a, b] = TwoShards();
  Apply(1, 1, enc_.SessionOpen(a, Layer::throat, 1, "c", B("x")));
  Apply(2, 2, enc_.SessionOpen(b, Layer::throat, 1, "c", B("y")));
  Apply(3, 3, enc_.SessionClose(a, Layer::throat));
  EXPECT_EQ(FindSession(st_, Layer::throat, a), nullptr);
  EXPECT_NE(FindSession(st_, Layer::throat, b), nullptr);
  EXPECT_EQ(st_.session_count(), 1u);
  EXPECT_EQ(Count(st_).sessions, 1u);
  EXPECT_EQ(st_.layer(Layer::throat).applied_lsn, 3u);
  EXPECT_EQ(st_.orphans(), 0u);
}

TEST_F(StateApplyTest, EventPendingIsHeldInItsSessionsShardUntilDone) {
  auto [a, b] = TwoShards();
  Apply(1, 10, enc_.SessionOpen(a, Layer::crown, 1, "c", B("x")));
  // Event ids chosen so that routing by event id would pick another shard.
  uint64_t ev = a + 1;
  while (ShardOfSession(ev) == ShardOfSession(a)) ++ev;
  const Bytes payload = B("payload");
  Apply(2, 20, enc_.EventPending(ev, a, Layer::crown, payload));

  const PendingEvent* e = FindEvent(st_, Layer::crown, a, ev);
  ASSERT_NE(e, nullptr) << "the event lives in shard ShardOfSession(session_id)";
  EXPECT_EQ(e->event_id, ev);
  EXPECT_EQ(e->session_id, a);
  EXPECT_EQ(e->payload, payload);
  EXPECT_EQ(e->lsn, 2u);
  EXPECT_EQ(e->unix_ns, 20);
  EXPECT_EQ(st_.event_count(), 1u);
  EXPECT_EQ(Count(st_).events, 1u);
  EXPECT_EQ(testing::PlacementProblem(st_), "");

  Apply(3, 30, enc_.EventDone(ev, a, Layer::crown));
  EXPECT_EQ(FindEvent(st_, Layer::crown, a, ev), nullptr);
  EXPECT_EQ(st_.event_count(), 0u);
  EXPECT_EQ(Count(st_).events, 0u);
  EXPECT_EQ(st_.layer(Layer::crown).applied_lsn, 3u);
  EXPECT_EQ(st_.orphans(), 0u);
  (void)b;
}

TEST_F(StateApplyTest, BeatRecordsLastBeatOfTheComponentInItsLayer) {
  Apply(1, 100, enc_.Beat(9, Layer::sacral, 1));
  Apply(2, 200, enc_.Beat(9, Layer::sacral, 2));
  const auto& comps = st_.layer(Layer::sacral).components;
  ASSERT_EQ(comps.count(9), 1u);
  const Component& c = comps.at(9);
  EXPECT_EQ(c.component_id, 9u);
  EXPECT_EQ(c.last_beat_seq, 2u);
  EXPECT_EQ(c.last_beat_unix_ns, 200);
  EXPECT_EQ(c.last_beat_lsn, 2u);
  EXPECT_FALSE(c.has_state) << "a beat is not a status record";
  EXPECT_EQ(Count(st_).components, 1u) << "only the beat's layer holds the component";
  EXPECT_EQ(st_.layer(Layer::sacral).applied_lsn, 2u);
}

TEST_F(StateApplyTest, ComponentStatusSetsStatusAndKeepsLastBeat) {
  Apply(1, 100, enc_.Beat(4, Layer::third_eye, 77));
  Apply(2, 200,
        enc_.ComponentStatus(4, "gateway", Layer::third_eye, ComponentState::quarantined, "why"));
  const Component& c = st_.layer(Layer::third_eye).components.at(4);
  EXPECT_EQ(c.name, "gateway");
  EXPECT_EQ(c.state, ComponentState::quarantined);
  EXPECT_TRUE(c.has_state);
  EXPECT_EQ(c.detail, "why");
  EXPECT_EQ(c.status_lsn, 2u);
  EXPECT_EQ(c.last_beat_seq, 77u) << "a status record keeps the last beat";
  EXPECT_EQ(c.last_beat_lsn, 1u);
  EXPECT_EQ(c.last_beat_unix_ns, 100);

  Apply(3, 300, enc_.Beat(4, Layer::third_eye, 78));
  const Component& c2 = st_.layer(Layer::third_eye).components.at(4);
  EXPECT_EQ(c2.state, ComponentState::quarantined) << "a beat keeps the status";
  EXPECT_EQ(c2.name, "gateway");
  EXPECT_EQ(c2.status_lsn, 2u);
  EXPECT_EQ(c2.last_beat_seq, 78u);

  Apply(4, 400, enc_.ComponentStatus(4, "gateway", Layer::third_eye, ComponentState::resolved, ""));
  EXPECT_EQ(st_.layer(Layer::third_eye).components.at(4).state, ComponentState::resolved);
  EXPECT_EQ(st_.layer(Layer::third_eye).components.at(4).detail, "");
  EXPECT_EQ(st_.layer(Layer::third_eye).components.at(4).status_lsn, 4u);
  EXPECT_EQ(Count(st_).components, 1u);
}

TEST_F(StateApplyTest, ChakraDownAndUpChangeTheLayerMeta) {
  Apply(5, 500, enc_.ChakraDown(Layer::heart, "missed beats"));
  const LayerMeta& m = st_.layer(Layer::heart).meta;
  EXPECT_TRUE(m.down);
  EXPECT_EQ(m.reason, "missed beats");
  EXPECT_EQ(m.changed_lsn, 5u);
  EXPECT_EQ(m.changed_unix_ns, 500);
  for (Layer l : kAllLayers) {
    if (l != Layer::heart) {
      EXPECT_FALSE(st_.layer(l).meta.down) << LayerName(l);
    }
  }
  Apply(6, 600, enc_.ChakraUp(Layer::heart));
  EXPECT_FALSE(st_.layer(Layer::heart).meta.down);
  EXPECT_EQ(st_.layer(Layer::heart).meta.changed_lsn, 6u);
  EXPECT_EQ(st_.layer(Layer::heart).meta.changed_unix_ns, 600);
  EXPECT_EQ(st_.layer(Layer::heart).applied_lsn, 6u);
}

TEST_F(StateApplyTest, FailurePulseCountsPulsesOfTheLayer) {
  Apply(1, 1, enc_.FailurePulse(Layer::root, "db", "kill", 250));
  Apply(2, 2, enc_.FailurePulse(Layer::root, "db", "latency", 10));
  Apply(3, 3, enc_.FailurePulse(Layer::crown, "x", "kill", 1));
  EXPECT_EQ(st_.layer(Layer::root).meta.pulses, 2u);
  EXPECT_EQ(st_.layer(Layer::root).meta.last_pulse_lsn, 2u);
  EXPECT_EQ(st_.layer(Layer::crown).meta.pulses, 1u);
  EXPECT_EQ(st_.layer(Layer::crown).meta.last_pulse_lsn, 3u);
  EXPECT_EQ(st_.layer(Layer::sacral).meta.pulses, 0u);
  EXPECT_FALSE(st_.layer(Layer::root).meta.down) << "a pulse is not a chakra change";
}

TEST_F(StateApplyTest, OrphanRecordsAreCountedAndChangeNothing) {
  Apply(1, 1, enc_.SessionOpen(5, Layer::root, 1, "c", B("x")));
  Apply(2, 2, enc_.EventPending(50, 5, Layer::root, B("p")));
  State reference;
  ApplyEncoded(&reference, 1, 1, enc_.SessionOpen(5, Layer::root, 1, "c", B("x")));
  ApplyEncoded(&reference, 2, 2, enc_.EventPending(50, 5, Layer::root, B("p")));
  ASSERT_EQ(StateDiffOf(st_, reference), "");

  const Bytes s = B("new");
  // An update / close of an unknown session; a done of an unknown event.
  Apply(3, 3, enc_.SessionUpdate(999, Layer::root, std::span<const uint8_t>(s)));
  Apply(4, 4, enc_.SessionClose(998, Layer::root));
  Apply(5, 5, enc_.EventDone(51, 5, Layer::root));
  // Records naming a layer that does not hold the session / event.
  Apply(6, 6, enc_.SessionUpdate(5, Layer::heart, std::span<const uint8_t>(s)));
  Apply(7, 7, enc_.SessionClose(5, Layer::crown));
  Apply(8, 8, enc_.EventDone(50, 5, Layer::solar));

  EXPECT_EQ(st_.orphans(), 6u);
  EXPECT_EQ(StateDiffOf(st_, reference), "") << "orphans must change nothing";
  EXPECT_TRUE(st_.Equals(reference)) << st_.Diff(reference);
  const Session* sess = FindSession(st_, Layer::root, 5);
  ASSERT_NE(sess, nullptr);
  EXPECT_EQ(sess->state, B("x"));
  EXPECT_EQ(sess->updated_lsn,
            reference.layer(Layer::root).shards[ShardOfSession(5)].sessions.at(5)->updated_lsn);
  EXPECT_EQ(st_.session_count(), 1u);
  EXPECT_EQ(st_.event_count(), 1u);
}

TEST_F(StateApplyTest, DecodingApplyAppliesAValidRecordAndRejectsGarbage) {
  RecordEncoder::Encoded e = enc_.SessionOpen(8, Layer::heart, 1, "c", B("x"));
  RecordView v;
  v.lsn = 3;
  v.timestamp_ns = 333;
  v.type = e.type;
  v.payload = e.payload;
  ASSERT_TRUE(st_.Apply(v).ok());
  const Session* s = FindSession(st_, Layer::heart, 8);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->opened_lsn, 3u) << "the LSN comes from the record view";
  EXPECT_EQ(s->opened_unix_ns, 333) << "the timestamp comes from the record view";

  const Bytes garbage = testing::PatternBytes(99, 40);
  RecordView bad;
  bad.lsn = 4;
  bad.type = log_format::kRecord;
  bad.payload = garbage;
  Status st = st_.Apply(bad);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  const Bytes short_beat(5, 0);
  bad.type = log_format::kBeat;
  bad.payload = short_beat;
  EXPECT_FALSE(st_.Apply(bad).ok());
  EXPECT_EQ(st_.session_count(), 1u);
  EXPECT_EQ(Count(st_).components, 0u);
}

// ---------------------------------------------------------------------------
// RouteOf.

struct RouteCase {
  const char* name;
  RecordEncoder::Encoded (*encode)(RecordEncoder&);
  Layer layer;
  uint32_t shard;
};

constexpr uint64_t kSid = 0x1234567890ull;
constexpr uint64_t kEid = 77;

TEST(RouteOfTest, EveryRecordKindRoutesToItsLayerAndShard) {
  const uint32_t session_shard = ShardOfSession(kSid);
  ASSERT_NE(session_shard, ShardOfSession(kEid)) << "pick ids in different shards";
  static const Bytes bytes = {1, 2, 3};
  const RouteCase cases[] = {
      {"beat", [](RecordEncoder& e) { return e.Beat(3, Layer::sacral, 9); }, Layer::sacral,
       kLayerShard},
      {"session open",
       [](RecordEncoder& e) { return e.SessionOpen(kSid, Layer::heart, 1, "c", bytes); },
       Layer::heart, session_shard},
      {"session update",
       [](RecordEncoder& e) {
         return e.SessionUpdate(kSid, Layer::throat, std::span<const uint8_t>(bytes));
       },
       Layer::throat, session_shard},
      {"session close", [](RecordEncoder& e) { return e.SessionClose(kSid, Layer::crown); },
       Layer::crown, session_shard},
      {"event pending",
       [](RecordEncoder& e) { return e.EventPending(kEid, kSid, Layer::solar, bytes); },
       Layer::solar, session_shard},
      {"event done", [](RecordEncoder& e) { return e.EventDone(kEid, kSid, Layer::third_eye); },
       Layer::third_eye, session_shard},
      {"component status",
       [](RecordEncoder& e) {
         return e.ComponentStatus(4, "c", Layer::root, ComponentState::failed, "d");
       },
       Layer::root, kLayerShard},
      {"chakra down", [](RecordEncoder& e) { return e.ChakraDown(Layer::crown, "r"); },
       Layer::crown, kLayerShard},
      {"chakra up", [](RecordEncoder& e) { return e.ChakraUp(Layer::third_eye); }, Layer::third_eye,
       kLayerShard},
      {"failure pulse",
       [](RecordEncoder& e) { return e.FailurePulse(Layer::heart, "c", "kill", 5); }, Layer::heart,
       kLayerShard},
  };
  std::set<RecordKind> kinds;
  for (const RouteCase& c : cases) {
    RecordEncoder enc;
    RecordEncoder::Encoded e = c.encode(enc);
    auto d = DecodeRecord(e.type, e.payload);
    ASSERT_TRUE(d.ok()) << c.name << ": " << d.status().ToString();
    kinds.insert(d->kind);
    Route r = RouteOf(*d);
    EXPECT_EQ(r.layer, c.layer) << c.name;
    EXPECT_EQ(r.shard, c.shard) << c.name;
  }
  EXPECT_EQ(kinds.size(), static_cast<size_t>(kRecordKindCount)) << "every kind is covered";
}

// A random stream of valid records: each Apply changes only the (layer,
// shard) RouteOf names, and only in that layer.
TEST(RouteOfTest, ApplyChangesOnlyTheRoutedLayerAndShard) {
  testing::OpGen gen(/*seed=*/2024, /*id_base=*/0, /*max_sessions=*/60);
  RecordEncoder enc;
  State st;
  std::vector<KeyValueArg> scratch;
  // Images of every non-trivial (layer, shard), refreshed incrementally.
  auto image = [&](Layer l, uint32_t s) { return testing::ShardImage(st.layer(l), s); };
  std::map<std::pair<int, uint32_t>, std::string> images;
  for (Layer l : kAllLayers) {
    for (uint32_t s = 0; s < kShardSlots; ++s) images[{static_cast<int>(l), s}] = image(l, s);
  }
  for (int i = 0; i < 400; ++i) {
    testing::Op op = gen.Next();
    RecordEncoder::Encoded e = testing::EncodeOp(enc, op, &scratch);
    auto d = DecodeRecord(e.type, e.payload);
    ASSERT_TRUE(d.ok());
    Route r = RouteOf(*d);
    ASSERT_EQ(r.layer, op.layer) << "record #" << i;
    st.Apply(static_cast<Lsn>(i + 1), 1000 + i, *d);
    for (Layer l : kAllLayers) {
      for (uint32_t s = 0; s < kShardSlots; ++s) {
        std::string now = image(l, s);
        std::string& before = images[{static_cast<int>(l), s}];
        if (now != before) {
          ASSERT_TRUE(l == r.layer && s == r.shard)
              << "record #" << i << " (" << DescribeRecord(*d) << ") routed to "
              << LayerName(r.layer) << "/" << r.shard << " changed " << LayerName(l) << "/" << s;
          before = std::move(now);
        }
      }
    }
    ASSERT_EQ(st.layer(r.layer).applied_lsn, static_cast<Lsn>(i + 1));
  }
  EXPECT_EQ(st.orphans(), 0u) << "the generator only makes valid records";
  EXPECT_EQ(testing::PlacementProblem(st), "");
}

// ---------------------------------------------------------------------------
// Diff / Equals.

class StateDiffTest : public ::testing::Test {
 protected:
  // The same content applied to both states.
  void SetUp() override {
    a_ = State();
    b_ = State();
    for (State* st : {&a_, &b_}) {
      RecordEncoder enc;
      const Bytes v = B("v");
      const KeyValueArg kv[] = {{"k", std::span<const uint8_t>(v)}};
      ApplyEncoded(st, 1, 10, enc.SessionOpen(kS, Layer::heart, 2, "svc", B("state"), kv));
      ApplyEncoded(st, 2, 20, enc.EventPending(kE, kS, Layer::heart, B("payload")));
      ApplyEncoded(st, 3, 30, enc.Beat(2, Layer::heart, 5));
      ApplyEncoded(st, 4, 40,
                   enc.ComponentStatus(2, "svc", Layer::heart, ComponentState::healthy, "ok"));
      ApplyEncoded(st, 5, 50, enc.ChakraDown(Layer::heart, "r"));
      ApplyEncoded(st, 6, 60, enc.FailurePulse(Layer::heart, "svc", "kill", 1));
    }
    ASSERT_TRUE(a_.Equals(b_)) << a_.Diff(b_);
    ASSERT_EQ(a_.Diff(b_), "");
  }

  Session& MutSession() {
    auto& p = b_.layer(Layer::heart).shards[ShardOfSession(kS)].sessions.at(kS);
    auto copy = std::make_shared<Session>(*p);
    Session* raw = copy.get();
    p = copy;
    return *raw;
  }
  PendingEvent& MutEvent() {
    auto& p = b_.layer(Layer::heart).shards[ShardOfSession(kS)].events.at(kE);
    auto copy = std::make_shared<PendingEvent>(*p);
    PendingEvent* raw = copy.get();
    p = copy;
    return *raw;
  }
  Component& MutComponent() { return b_.layer(Layer::heart).components.at(2); }
  LayerMeta& MutMeta() { return b_.layer(Layer::heart).meta; }

  void ExpectDiffers(const std::string& what) {
    EXPECT_FALSE(a_.Equals(b_)) << what;
    EXPECT_FALSE(b_.Equals(a_)) << what << " (reversed)";
    EXPECT_NE(a_.Diff(b_), "") << what;
    EXPECT_NE(b_.Diff(a_), "") << what << " (reversed)";
    // Sanity: the independent comparator agrees there is a difference.
    EXPECT_NE(StateDiffOf(a_, b_), "") << what;
  }

  static constexpr uint64_t kS = 31337;
  static constexpr uint64_t kE = 4242;
  State a_, b_;
};

TEST_F(StateDiffTest, IdenticalStatesAreEqualEvenWithDifferentOrphansAndAppliedLsn) {
  RecordEncoder enc;
  ApplyEncoded(&b_, 100, 1000, enc.SessionClose(55555, Layer::root));  // orphan
  b_.layer(Layer::crown).applied_lsn = 999;
  EXPECT_EQ(b_.orphans(), 1u);
  EXPECT_TRUE(a_.Equals(b_)) << a_.Diff(b_);
  EXPECT_EQ(a_.Diff(b_), "");
}

TEST_F(StateDiffTest, DetectsAMissingOrExtraSession) {
  RecordEncoder enc;
  ApplyEncoded(&b_, 7, 70, enc.SessionClose(kS, Layer::heart));
  ExpectDiffers("session closed in one state");
}

TEST_F(StateDiffTest, DetectsTheSameSessionInAnotherLayer) {
  RecordEncoder enc;
  ApplyEncoded(&a_, 7, 70, enc.SessionOpen(777, Layer::root, 1, "c", B("s")));
  ApplyEncoded(&b_, 7, 70, enc.SessionOpen(777, Layer::crown, 1, "c", B("s")));
  ExpectDiffers("same session, different layer");
}

TEST_F(StateDiffTest, DetectsEachSessionFieldDifference) {
  struct Case {
    const char* field;
    void (*mutate)(Session&);
  };
  const Case cases[] = {
      {"component_id", [](Session& s) { s.component_id++; }},
      {"component", [](Session& s) { s.component += "x"; }},
      {"state", [](Session& s) { s.state.push_back(1); }},
      {"state byte", [](Session& s) { s.state[0] ^= 1; }},
      {"kv value", [](Session& s) { s.kv["k"].push_back(9); }},
      {"kv key", [](Session& s) { s.kv["other"] = {}; }},
      {"opened_lsn", [](Session& s) { s.opened_lsn++; }},
      {"updated_lsn", [](Session& s) { s.updated_lsn++; }},
      {"opened_unix_ns", [](Session& s) { s.opened_unix_ns++; }},
      {"updated_unix_ns", [](Session& s) { s.updated_unix_ns++; }},
  };
  for (const Case& c : cases) {
    SetUp();  // fresh, equal states
    c.mutate(MutSession());
    ExpectDiffers(std::string("session ") + c.field);
  }
}

TEST_F(StateDiffTest, DetectsEachPendingEventDifference) {
  struct Case {
    const char* field;
    void (*mutate)(PendingEvent&);
  };
  const Case cases[] = {
      {"payload", [](PendingEvent& e) { e.payload[0] ^= 1; }},
      {"lsn", [](PendingEvent& e) { e.lsn++; }},
      {"unix_ns", [](PendingEvent& e) { e.unix_ns++; }},
      {"session_id", [](PendingEvent& e) { e.session_id++; }},
  };
  for (const Case& c : cases) {
    SetUp();
    c.mutate(MutEvent());
    ExpectDiffers(std::string("event ") + c.field);
  }
  SetUp();
  RecordEncoder enc;
  ApplyEncoded(&b_, 7, 70, enc.EventDone(kE, kS, Layer::heart));
  ExpectDiffers("event done in one state");
  SetUp();
  ApplyEncoded(&b_, 7, 70, enc.EventPending(kE + 1, kS, Layer::heart, B("p")));
  ExpectDiffers("extra pending event");
}

TEST_F(StateDiffTest, DetectsEachComponentDifference) {
  struct Case {
    const char* field;
    void (*mutate)(Component&);
  };
  const Case cases[] = {
      {"name", [](Component& c) { c.name += "x"; }},
      {"state", [](Component& c) { c.state = ComponentState::failed; }},
      {"has_state", [](Component& c) { c.has_state = !c.has_state; }},
      {"detail", [](Component& c) { c.detail += "x"; }},
      {"status_lsn", [](Component& c) { c.status_lsn++; }},
      {"last_beat_seq", [](Component& c) { c.last_beat_seq++; }},
      {"last_beat_unix_ns", [](Component& c) { c.last_beat_unix_ns++; }},
      {"last_beat_lsn", [](Component& c) { c.last_beat_lsn++; }},
  };
  for (const Case& c : cases) {
    SetUp();
    c.mutate(MutComponent());
    ExpectDiffers(std::string("component ") + c.field);
  }
  SetUp();
  RecordEncoder enc;
  ApplyEncoded(&b_, 7, 70, enc.Beat(3, Layer::heart, 1));
  ExpectDiffers("extra component");
  SetUp();
  ApplyEncoded(&b_, 7, 70, enc.Beat(2, Layer::root, 5));
  ExpectDiffers("same component id in another layer");
}

TEST_F(StateDiffTest, DetectsEachLayerMetaDifference) {
  struct Case {
    const char* field;
    void (*mutate)(LayerMeta&);
  };
  const Case cases[] = {
      {"down", [](LayerMeta& m) { m.down = !m.down; }},
      {"reason", [](LayerMeta& m) { m.reason += "x"; }},
      {"changed_lsn", [](LayerMeta& m) { m.changed_lsn++; }},
      {"changed_unix_ns", [](LayerMeta& m) { m.changed_unix_ns++; }},
      {"pulses", [](LayerMeta& m) { m.pulses++; }},
      {"last_pulse_lsn", [](LayerMeta& m) { m.last_pulse_lsn++; }},
  };
  for (const Case& c : cases) {
    SetUp();
    c.mutate(MutMeta());
    ExpectDiffers(std::string("meta ") + c.field);
  }
  SetUp();
  RecordEncoder enc;
  ApplyEncoded(&b_, 7, 70, enc.ChakraDown(Layer::sacral, "other layer"));
  ExpectDiffers("meta of another layer");
}

}  // namespace
}  // namespace razar::storage
