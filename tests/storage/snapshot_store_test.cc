// SnapshotStore: Builder + Publish + List + Load round trips for both write
// methods, invisibility of unpublished snapshots, verification of every
// value (checksum, counts) on load, Delete, newest-first listing, read-only
// opens, and the on-disk key / value / manifest layout
// (docs/formats/spine.md "Snapshot store").
#include "storage/snapshot_store.h"

#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "razar/formats/snapshot_generated.h"
#include "testing/spine_test_util.h"
#include "testing/log_test_util.h"

namespace razar::storage {
namespace {

using testing::BigEndian64;
using testing::kAllLayers;
using testing::RawSnapshotDb;
using testing::ReadBigEndian64;
using testing::ReadLittleEndian64;
using testing::TempDir;

// A state with content in every layer: sessions (with kv), pending events,
// components with beats and statuses, chakra changes, pulses. LSN i+1,
// timestamp 1000 + 7i (non-zero, so timestamps must round-trip too).
void FillState(State* st, uint64_t seed, int ops) {
  testing::OpGen gen(seed, /*id_base=*/seed << 32, /*max_sessions=*/400);
  RecordEncoder enc;
  std::vector<KeyValueArg> scratch;
  for (int i = 0; i < ops; ++i) {
    testing::Op op = gen.Next();
    testing::ApplyEncoded(st, static_cast<Lsn>(i + 1), 1000 + 7 * i,
                          testing::EncodeOp(enc, op, &scratch));
  }
}

struct Counts {
  uint64_t sessions = 0, events = 0, components = 0;
};
Counts CountLayer(const LayerState& ls) {
  Counts c;
  for (const Shard& s : ls.shards) {
    c.sessions += s.sessions.size();
    c.events += s.events.size();
  }
  c.components = ls.components.size();
  return c;
}

// Shard LSNs the tests write: distinct per shard, so a round trip that
// mixes them up shows.
Lsn ShardLsnFor(Lsn base, uint32_t shard) { return base + shard * 3; }

// Writes one layer through a Builder in the documented order and finishes
// it (durable, not published).
Result<SnapshotManifest> WriteSnapshot(SnapshotStore* store, Layer l, const LayerState& ls,
                                       Lsn lsn_base) {
  auto b = store->Begin(l);
  if (!b.ok()) return b.status();
  SnapshotStore::Builder* builder = b->get();
  for (uint32_t shard = 0; shard < kShardCount; ++shard) {
    std::map<uint64_t, const Session*> sessions;
    for (const auto& [id, p] : ls.shards[shard].sessions) sessions[id] = p.get();
    for (const auto& [id, p] : sessions) RAZAR_RETURN_IF_ERROR(builder->AddSession(shard, *p));
    std::map<uint64_t, const PendingEvent*> events;
    for (const auto& [id, p] : ls.shards[shard].events) events[id] = p.get();
    for (const auto& [id, p] : events) RAZAR_RETURN_IF_ERROR(builder->AddEvent(shard, *p));
    builder->SetShardLsn(shard, ShardLsnFor(lsn_base, shard));
  }
  for (const auto& [id, c] : ls.components) RAZAR_RETURN_IF_ERROR(builder->AddComponent(c));
  RAZAR_RETURN_IF_ERROR(builder->SetMeta(ls.meta));
  builder->SetShardLsn(kLayerShard, ShardLsnFor(lsn_base, kLayerShard));
  return builder->Finish();
}

Result<SnapshotManifest> WriteAndPublish(SnapshotStore* store, Layer l, const LayerState& ls,
                                         Lsn lsn_base) {
  auto m = WriteSnapshot(store, l, ls, lsn_base);
  if (!m.ok()) return m;
  RAZAR_RETURN_IF_ERROR(store->Publish(*m));
  return m;
}

// Loaded layer vs. source layer, via the independent comparator and
// State::Diff (the loaded layer is moved into an otherwise empty State).
::testing::AssertionResult SameLayer(Layer l, const LayerState& want, LayerState got) {
  std::string d = testing::LayerStateDiff(l, want, got, /*with_time=*/true);
  if (!d.empty()) return ::testing::AssertionFailure() << d;
  State a, b;
  for (uint32_t s = 0; s < kShardCount; ++s) a.layer(l).shards[s] = want.shards[s];
  a.layer(l).components = want.components;
  a.layer(l).meta = want.meta;
  b.layer(l) = std::move(got);
  if (!a.Equals(b)) return ::testing::AssertionFailure() << "State::Diff: " << a.Diff(b);
  std::string p = testing::PlacementProblem(b);
  if (!p.empty()) return ::testing::AssertionFailure() << "placement: " << p;
  return ::testing::AssertionSuccess();
}

class SnapshotStoreTest : public ::testing::TestWithParam<SnapshotWriteMethod> {
 protected:
  void SetUp() override {
    db_path_ = dir_.Sub("snapshots");
    FillState(&state_, 17, 1500);
    OpenStore();
  }
  void OpenStore(bool read_only = false) {
    store_.reset();
    SnapshotStoreOptions o;
    o.path = db_path_;
    o.read_only = read_only;
    o.method = GetParam();
    auto s = SnapshotStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void CloseStore() { store_.reset(); }

  TempDir dir_{"razar-snapstore"};
  std::string db_path_;
  State state_;
  std::unique_ptr<SnapshotStore> store_;
};

TEST_P(SnapshotStoreTest, PublishedSnapshotOfEveryLayerListsAndLoadsEqual) {
  std::map<Layer, SnapshotManifest> written;
  for (Layer l : kAllLayers) {
    const Lsn base = 100 * (static_cast<Lsn>(l) + 1);
    auto m = WriteAndPublish(store_.get(), l, state_.layer(l), base);
    ASSERT_TRUE(m.ok()) << LayerName(l) << ": " << m.status().ToString();
    const Counts c = CountLayer(state_.layer(l));
    EXPECT_EQ(m->layer, l);
    EXPECT_EQ(m->sessions, c.sessions) << LayerName(l);
    EXPECT_EQ(m->events, c.events) << LayerName(l);
    EXPECT_EQ(m->components, c.components) << LayerName(l);
    EXPECT_GT(m->value_bytes, 0u) << "every layer snapshot holds at least its meta";
    EXPECT_EQ(m->min_lsn(), base);
    EXPECT_EQ(m->max_lsn(), ShardLsnFor(base, kLayerShard));
    written[l] = *m;
  }
  ASSERT_GT(state_.session_count(), 50u) << "the fixture should have a real state";
  ASSERT_GT(state_.event_count(), 10u);

  for (int round = 0; round < 2; ++round) {  // live store, then after reopen
    SCOPED_TRACE(round == 0 ? "same store" : "after reopen");
    for (Layer l : kAllLayers) {
      auto list = store_->List(l);
      ASSERT_TRUE(list.ok()) << list.status().ToString();
      ASSERT_EQ(list->size(), 1u) << LayerName(l);
      const SnapshotManifest& got = list->front();
      const SnapshotManifest& want = written[l];
      EXPECT_EQ(got.layer, l);
      EXPECT_EQ(got.snapshot_id, want.snapshot_id);
      EXPECT_EQ(got.created_unix_ns, want.created_unix_ns);
      EXPECT_EQ(got.shard_lsns, want.shard_lsns) << LayerName(l);
      EXPECT_EQ(got.sessions, want.sessions);
      EXPECT_EQ(got.events, want.events);
      EXPECT_EQ(got.components, want.components);
      EXPECT_EQ(got.value_bytes, want.value_bytes);
      EXPECT_EQ(got.content_checksum, want.content_checksum);

      LayerState loaded;
      Status s = store_->Load(got, &loaded);
      ASSERT_TRUE(s.ok()) << LayerName(l) << ": " << s.ToString();
      EXPECT_TRUE(SameLayer(l, state_.layer(l), std::move(loaded))) << LayerName(l);
    }
    OpenStore();
  }
}

TEST_P(SnapshotStoreTest, LoadReplacesWhateverTheTargetLayerHeld) {
  auto m = WriteAndPublish(store_.get(), Layer::throat, state_.layer(Layer::throat), 1);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  // Junk in the target: a session in a shard, a component, a meta.
  State junk;
  FillState(&junk, 99, 400);
  LayerState target = std::move(junk.layer(Layer::heart));
  ASSERT_GT(CountLayer(target).sessions, 0u);
  ASSERT_TRUE(store_->Load(*m, &target).ok());
  EXPECT_TRUE(SameLayer(Layer::throat, state_.layer(Layer::throat), std::move(target)));
}

TEST_P(SnapshotStoreTest, EmptyLayerSnapshotRoundTrips) {
  LayerState empty;
  auto m = WriteAndPublish(store_.get(), Layer::crown, empty, 5);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->sessions, 0u);
  EXPECT_EQ(m->events, 0u);
  EXPECT_EQ(m->components, 0u);
  auto list = store_->List(Layer::crown);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  LayerState loaded;
  ASSERT_TRUE(store_->Load(list->front(), &loaded).ok());
  EXPECT_TRUE(SameLayer(Layer::crown, empty, std::move(loaded)));
}

TEST_P(SnapshotStoreTest, UnpublishedSnapshotIsInvisibleAndDeleteUnpublishedRemovesItsEntries) {
  const LayerState& ls = state_.layer(Layer::heart);
  ASSERT_GT(CountLayer(ls).sessions, 0u);
  auto published = WriteAndPublish(store_.get(), Layer::heart, ls, 10);
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  auto unpublished = WriteSnapshot(store_.get(), Layer::heart, ls, 20);
  ASSERT_TRUE(unpublished.ok()) << unpublished.status().ToString();
  ASSERT_NE(unpublished->snapshot_id, published->snapshot_id);

  auto list = store_->List(Layer::heart);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u) << "a snapshot without its manifest entry does not exist";
  EXPECT_EQ(list->front().snapshot_id, published->snapshot_id);
  CloseStore();

  {
    std::string err;
    auto raw = RawSnapshotDb::Open(db_path_, /*read_only=*/true, &err);
    ASSERT_NE(raw, nullptr) << err;
    auto counts = testing::EntryCountsById(*raw, Layer::heart);
    EXPECT_GT(counts[unpublished->snapshot_id], 0u)
        << "Finish makes the entries durable before publishing";
    EXPECT_GT(counts[published->snapshot_id], 0u);
  }

  OpenStore();
  EXPECT_GT(store_->NextId(), unpublished->snapshot_id)
      << "an id whose entries exist on disk is not unused";
  auto removed = store_->DeleteUnpublished();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1u);
  list = store_->List(Layer::heart);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  LayerState loaded;
  ASSERT_TRUE(store_->Load(list->front(), &loaded).ok());
  EXPECT_TRUE(SameLayer(Layer::heart, ls, std::move(loaded)));
  removed = store_->DeleteUnpublished();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u) << "nothing left to delete";
  CloseStore();

  std::string err;
  auto raw = RawSnapshotDb::Open(db_path_, /*read_only=*/true, &err);
  ASSERT_NE(raw, nullptr) << err;
  auto counts = testing::EntryCountsById(*raw, Layer::heart);
  EXPECT_EQ(counts.count(unpublished->snapshot_id), 0u) << "entries of the unpublished id remain";
  EXPECT_GT(counts[published->snapshot_id], 0u) << "the published snapshot lost entries";
}

TEST_P(SnapshotStoreTest, FlippedByteInAValueMakesLoadFailWithCorruption) {
  auto damaged = WriteAndPublish(store_.get(), Layer::solar, state_.layer(Layer::solar), 1);
  auto intact = WriteAndPublish(store_.get(), Layer::root, state_.layer(Layer::root), 1);
  ASSERT_TRUE(damaged.ok() && intact.ok());
  CloseStore();
  std::string err;
  std::string key =
      testing::FlipSnapshotValueByte(db_path_, Layer::solar, damaged->snapshot_id, &err);
  ASSERT_FALSE(key.empty()) << err;

  OpenStore();
  auto list = store_->List(Layer::solar);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u) << "the manifest entry itself is intact";
  LayerState out;
  Status s = store_->Load(list->front(), &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();

  auto root_list = store_->List(Layer::root);
  ASSERT_TRUE(root_list.ok());
  ASSERT_EQ(root_list->size(), 1u);
  LayerState root_out;
  s = store_->Load(root_list->front(), &root_out);
  ASSERT_TRUE(s.ok()) << "damage in one layer must not affect another: " << s.ToString();
  EXPECT_TRUE(SameLayer(Layer::root, state_.layer(Layer::root), std::move(root_out)));
}

TEST_P(SnapshotStoreTest, MissingEntryMakesLoadFailWithCorruption) {
  auto m = WriteAndPublish(store_.get(), Layer::heart, state_.layer(Layer::heart), 1);
  ASSERT_TRUE(m.ok());
  CloseStore();
  {
    std::string err;
    auto raw = RawSnapshotDb::Open(db_path_, /*read_only=*/false, &err);
    ASSERT_NE(raw, nullptr) << err;
    const std::string prefix = BigEndian64(m->snapshot_id);
    std::string victim;
    for (const auto& [k, v] : raw->Entries("heart")) {
      if (k.compare(0, 8, prefix) == 0 && k.size() > 10 && k[10] == 1) {
        victim = k;
        break;
      }
    }
    ASSERT_FALSE(victim.empty()) << "no session entry to delete";
    ASSERT_TRUE(raw->Delete("heart", victim).ok());
  }
  OpenStore();
  LayerState out;
  Status s = store_->Load(*m, &out);
  EXPECT_TRUE(s.IsCorruption()) << "counts must be checked: " << s.ToString();
}

// Rewrites one session value of a published snapshot through raw RocksDB
// with a correct value checksum (XXH3 of key || bytes), so only the deeper
// checks — Verifier, key/value agreement, content_checksum — can catch it.
void ResealSessionValue(
    const std::string& db_path, Layer l, uint64_t snapshot_id,
    const std::function<std::string(const std::string& key, const std::string& fb)>& rewrite) {
  std::string err;
  auto raw = RawSnapshotDb::Open(db_path, /*read_only=*/false, &err);
  ASSERT_NE(raw, nullptr) << err;
  const std::string prefix = BigEndian64(snapshot_id);
  for (const auto& [k, v] : raw->Entries(LayerName(l))) {
    if (k.compare(0, 8, prefix) != 0 || k.size() != 19 || k[10] != 1) continue;
    std::string fb = rewrite(k, v.substr(0, v.size() - 8));
    std::string keyed = k + fb;
    uint64_t sum = XXH3_64bits(keyed.data(), keyed.size());
    std::string value = fb;
    for (int i = 0; i < 8; ++i) value.push_back(static_cast<char>((sum >> (8 * i)) & 0xff));
    ASSERT_TRUE(raw->Put(LayerName(l), k, value).ok());
    return;
  }
  FAIL() << "no session entry in snapshot " << snapshot_id;
}

TEST_P(SnapshotStoreTest, ValueWithValidChecksumButNoFlatBufferIsCorruption) {
  auto m = WriteAndPublish(store_.get(), Layer::heart, state_.layer(Layer::heart), 1);
  ASSERT_TRUE(m.ok());
  CloseStore();
  ResealSessionValue(db_path_, Layer::heart, m->snapshot_id,
                     [](const std::string&, const std::string& fb) {
                       std::string junk(fb.size(), '\xff');  // offsets point out of bounds
                       return junk;
                     });
  OpenStore();
  LayerState out;
  Status s = store_->Load(*m, &out);
  EXPECT_TRUE(s.IsCorruption()) << "the Verifier must reject it: " << s.ToString();
}

TEST_P(SnapshotStoreTest, ValidValueOfAnotherSessionUnderTheKeyIsCorruption) {
  auto m = WriteAndPublish(store_.get(), Layer::heart, state_.layer(Layer::heart), 1);
  ASSERT_TRUE(m.ok());
  CloseStore();
  ResealSessionValue(
      db_path_, Layer::heart, m->snapshot_id, [](const std::string& key, const std::string&) {
        const uint64_t id = ReadBigEndian64(key.data() + 11);
        flatbuffers::FlatBufferBuilder fbb;
        auto comp = fbb.CreateString("impostor");
        fbb.Finish(fb::CreateSessionSnap(fbb, id + 1, Layer::heart, 1, comp));
        return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
      });
  OpenStore();
  LayerState out;
  Status s = store_->Load(*m, &out);
  EXPECT_TRUE(s.IsCorruption()) << "a value naming another session than its key: " << s.ToString();
}

TEST_P(SnapshotStoreTest, ResealedValueWithChangedContentFailsTheContentChecksum) {
  auto m = WriteAndPublish(store_.get(), Layer::heart, state_.layer(Layer::heart), 1);
  ASSERT_TRUE(m.ok());
  CloseStore();
  ResealSessionValue(
      db_path_, Layer::heart, m->snapshot_id, [](const std::string& key, const std::string& old) {
        // Same session id, same kind; different state bytes.
        auto* s = flatbuffers::GetRoot<fb::SessionSnap>(old.data());
        flatbuffers::FlatBufferBuilder fbb;
        auto comp = fbb.CreateString(s->component() ? s->component()->str() : "");
        std::vector<uint8_t> st = {0xde, 0xad};
        auto state = fbb.CreateVector(st);
        fbb.Finish(fb::CreateSessionSnap(fbb, s->session_id(), s->layer(), s->component_id(), comp,
                                         state, 0, s->opened_lsn(), s->updated_lsn(),
                                         s->opened_unix_ns(), s->updated_unix_ns()));
        return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
      });
  OpenStore();
  LayerState out;
  Status s = store_->Load(*m, &out);
  EXPECT_TRUE(s.IsCorruption()) << "content_checksum must be checked: " << s.ToString();
}

TEST_P(SnapshotStoreTest, DamagedManifestEntryIsSkippedAndReported) {
  auto older = WriteAndPublish(store_.get(), Layer::sacral, state_.layer(Layer::sacral), 1);
  auto newer = WriteAndPublish(store_.get(), Layer::sacral, state_.layer(Layer::sacral), 2);
  ASSERT_TRUE(older.ok() && newer.ok());
  CloseStore();
  {
    std::string err;
    auto raw = RawSnapshotDb::Open(db_path_, /*read_only=*/false, &err);
    ASSERT_NE(raw, nullptr) << err;
    const std::string key =
        std::string(1, static_cast<char>(Layer::sacral)) + BigEndian64(older->snapshot_id);
    std::string value;
    for (const auto& [k, v] : raw->Entries("manifest")) {
      if (k == key) value = v;
    }
    ASSERT_FALSE(value.empty()) << "manifest key layout: layer byte || id big-endian";
    value[value.size() / 2] = static_cast<char>(value[value.size() / 2] ^ 0x01);
    ASSERT_TRUE(raw->Put("manifest", key, value).ok());
  }
  OpenStore();
  std::vector<std::string> damaged;
  auto list = store_->List(Layer::sacral, &damaged);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().snapshot_id, newer->snapshot_id);
  EXPECT_EQ(damaged.size(), 1u);
}

TEST_P(SnapshotStoreTest, DeleteRemovesManifestEntryAndEntries) {
  const LayerState& ls = state_.layer(Layer::third_eye);
  auto a = WriteAndPublish(store_.get(), Layer::third_eye, ls, 1);
  auto b = WriteAndPublish(store_.get(), Layer::third_eye, ls, 2);
  ASSERT_TRUE(a.ok() && b.ok());
  Status s = store_->Delete(Layer::third_eye, a->snapshot_id);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto list = store_->List(Layer::third_eye);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().snapshot_id, b->snapshot_id);
  LayerState out;
  ASSERT_TRUE(store_->Load(list->front(), &out).ok());
  EXPECT_TRUE(SameLayer(Layer::third_eye, ls, std::move(out)));
  CloseStore();

  std::string err;
  auto raw = RawSnapshotDb::Open(db_path_, /*read_only=*/true, &err);
  ASSERT_NE(raw, nullptr) << err;
  auto counts = testing::EntryCountsById(*raw, Layer::third_eye);
  EXPECT_EQ(counts.count(a->snapshot_id), 0u) << "entries of the deleted snapshot remain";
  EXPECT_GT(counts[b->snapshot_id], 0u);
  for (const auto& [k, v] : raw->Entries("manifest")) {
    ASSERT_EQ(k.size(), 9u);
    EXPECT_FALSE(static_cast<uint8_t>(k[0]) == static_cast<uint8_t>(Layer::third_eye) &&
                 ReadBigEndian64(k.data() + 1) == a->snapshot_id)
        << "manifest entry of the deleted snapshot remains";
  }
}

TEST_P(SnapshotStoreTest, ListIsNewestFirstAndPerLayer) {
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    auto m = WriteAndPublish(store_.get(), Layer::heart, state_.layer(Layer::heart), 10 * i + 1);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ids.push_back(m->snapshot_id);
    auto other = WriteAndPublish(store_.get(), Layer::root, state_.layer(Layer::root), 1);
    ASSERT_TRUE(other.ok());
  }
  for (size_t i = 1; i < ids.size(); ++i) ASSERT_GT(ids[i], ids[i - 1]) << "ids increase";
  auto list = store_->List(Layer::heart);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ((*list)[i].snapshot_id, ids[ids.size() - 1 - i]) << "position " << i;
    EXPECT_EQ((*list)[i].layer, Layer::heart);
    EXPECT_EQ((*list)[i].min_lsn(), static_cast<Lsn>(10 * (ids.size() - 1 - i) + 1));
  }
  auto none = store_->List(Layer::crown);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(SnapshotStoreTest, IdsKeepIncreasingAcrossReopen) {
  auto a = WriteAndPublish(store_.get(), Layer::heart, state_.layer(Layer::heart), 1);
  ASSERT_TRUE(a.ok());
  OpenStore();
  auto b = WriteAndPublish(store_.get(), Layer::root, state_.layer(Layer::root), 1);
  ASSERT_TRUE(b.ok());
  EXPECT_GT(b->snapshot_id, a->snapshot_id) << "an id is never reused";
}

TEST_P(SnapshotStoreTest, ReadOnlyOpenListsAndLoadsBesideAndAfterTheWriter) {
  auto m = WriteAndPublish(store_.get(), Layer::heart, state_.layer(Layer::heart), 1);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto check = [&](const char* when) {
    SnapshotStoreOptions o;
    o.path = db_path_;
    o.read_only = true;
    o.method = GetParam();
    auto ro = SnapshotStore::Open(o);
    ASSERT_TRUE(ro.ok()) << when << ": " << ro.status().ToString();
    auto list = (*ro)->List(Layer::heart);
    ASSERT_TRUE(list.ok()) << when;
    ASSERT_EQ(list->size(), 1u) << when;
    EXPECT_EQ(list->front().snapshot_id, m->snapshot_id);
    LayerState out;
    Status s = (*ro)->Load(list->front(), &out);
    ASSERT_TRUE(s.ok()) << when << ": " << s.ToString();
    EXPECT_TRUE(SameLayer(Layer::heart, state_.layer(Layer::heart), std::move(out))) << when;
  };
  check("while the writer has it open");
  CloseStore();
  const std::vector<std::string> before = testing::ListNames(db_path_);
  check("after the writer closed");
  EXPECT_EQ(testing::ListNames(db_path_), before) << "a read-only open must not write files";
}

TEST_P(SnapshotStoreTest, EntriesKeysValuesAndManifestFollowTheSpecLayout) {
  const LayerState& ls = state_.layer(Layer::heart);
  auto m = WriteAndPublish(store_.get(), Layer::heart, ls, 1);
  ASSERT_TRUE(m.ok());
  CloseStore();

  std::string err;
  auto raw = RawSnapshotDb::Open(db_path_, /*read_only=*/true, &err);
  ASSERT_NE(raw, nullptr) << err;
  std::vector<std::string> cfs = raw->cf_names();
  for (const char* want :
       {"manifest", "root", "sacral", "solar", "heart", "throat", "third_eye", "crown"}) {
    EXPECT_NE(std::find(cfs.begin(), cfs.end(), want), cfs.end()) << "column family " << want;
  }

  const Counts c = CountLayer(ls);
  uint64_t sessions = 0, events = 0, components = 0, metas = 0, checksum_sum = 0;
  uint64_t value_bytes = 0;
  std::string prev_key;
  for (const auto& [k, v] : raw->Entries("heart")) {
    ASSERT_EQ(k.size(), 19u) << "key: id(8) shard(2) kind(1) id(8)";
    ASSERT_EQ(ReadBigEndian64(k.data()), m->snapshot_id);
    const uint32_t shard = (static_cast<uint8_t>(k[8]) << 8) | static_cast<uint8_t>(k[9]);
    const uint8_t kind = static_cast<uint8_t>(k[10]);
    const uint64_t id = ReadBigEndian64(k.data() + 11);
    ASSERT_LE(shard, kLayerShard);
    ASSERT_GE(kind, 1);
    ASSERT_LE(kind, 4);
    ASSERT_GT(v.size(), 8u);
    const size_t fb_len = v.size() - 8;
    std::string keyed = k + v.substr(0, fb_len);
    const uint64_t want_sum = XXH3_64bits(keyed.data(), keyed.size());
    ASSERT_EQ(ReadLittleEndian64(v.data() + fb_len), want_sum)
        << "value checksum: XXH3-64 of key || FlatBuffer, little-endian";
    checksum_sum += want_sum;
    value_bytes += v.size();
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(v.data()), fb_len);
    switch (kind) {
      case 1: {
        ASSERT_LT(shard, kShardCount);
        EXPECT_EQ(shard, ShardOfSession(id));
        ASSERT_TRUE(verifier.VerifyBuffer<fb::SessionSnap>(nullptr));
        auto* s = flatbuffers::GetRoot<fb::SessionSnap>(v.data());
        EXPECT_EQ(s->session_id(), id);
        EXPECT_EQ(s->layer(), Layer::heart);
        ++sessions;
        break;
      }
      case 2: {
        ASSERT_LT(shard, kShardCount);
        ASSERT_TRUE(verifier.VerifyBuffer<fb::EventSnap>(nullptr));
        auto* e = flatbuffers::GetRoot<fb::EventSnap>(v.data());
        EXPECT_EQ(e->event_id(), id);
        EXPECT_EQ(shard, ShardOfSession(e->session_id()));
        ++events;
        break;
      }
      case 3: {
        EXPECT_EQ(shard, kLayerShard);
        ASSERT_TRUE(verifier.VerifyBuffer<fb::ComponentSnap>(nullptr));
        EXPECT_EQ(flatbuffers::GetRoot<fb::ComponentSnap>(v.data())->component_id(), id);
        ++components;
        break;
      }
      case 4: {
        EXPECT_EQ(shard, kLayerShard);
        EXPECT_EQ(id, 0u);
        ASSERT_TRUE(verifier.VerifyBuffer<fb::LayerMetaSnap>(nullptr));
        ++metas;
        break;
      }
    }
    EXPECT_LT(prev_key, k);
    prev_key = k;
  }
  EXPECT_EQ(sessions, c.sessions);
  EXPECT_EQ(events, c.events);
  EXPECT_EQ(components, c.components);
  EXPECT_EQ(metas, 1u);
  EXPECT_EQ(checksum_sum, m->content_checksum)
      << "content_checksum is the sum of the value checksums";
  EXPECT_TRUE(m->value_bytes == value_bytes ||
              m->value_bytes == value_bytes - 8 * (sessions + events + components + metas))
      << "value_bytes " << m->value_bytes << " vs stored " << value_bytes;

  // Manifest: key layer || id (big-endian), value FlatBuffer || XXH3 of key || bytes.
  int found = 0;
  for (const auto& [k, v] : raw->Entries("manifest")) {
    ASSERT_EQ(k.size(), 9u);
    if (static_cast<uint8_t>(k[0]) != static_cast<uint8_t>(Layer::heart)) continue;
    ASSERT_EQ(ReadBigEndian64(k.data() + 1), m->snapshot_id);
    ++found;
    ASSERT_GT(v.size(), 8u);
    const size_t fb_len = v.size() - 8;
    std::string keyed = k + v.substr(0, fb_len);
    EXPECT_EQ(ReadLittleEndian64(v.data() + fb_len), XXH3_64bits(keyed.data(), keyed.size()));
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(v.data()), fb_len);
    ASSERT_TRUE(verifier.VerifyBuffer<fb::SnapshotManifest>(nullptr));
    auto* fm = flatbuffers::GetRoot<fb::SnapshotManifest>(v.data());
    EXPECT_EQ(fm->layer(), Layer::heart);
    EXPECT_EQ(fm->snapshot_id(), m->snapshot_id);
    ASSERT_NE(fm->shard_lsns(), nullptr);
    ASSERT_EQ(fm->shard_lsns()->size(), kShardSlots);
    for (uint32_t s = 0; s < kShardSlots; ++s) {
      EXPECT_EQ(fm->shard_lsns()->Get(s), ShardLsnFor(1, s)) << "shard " << s;
    }
    EXPECT_EQ(fm->sessions(), c.sessions);
    EXPECT_EQ(fm->events(), c.events);
    EXPECT_EQ(fm->components(), c.components);
    EXPECT_EQ(fm->content_checksum(), checksum_sum);
  }
  EXPECT_EQ(found, 1);
}

INSTANTIATE_TEST_SUITE_P(BothWriteMethods, SnapshotStoreTest,
                         ::testing::Values(SnapshotWriteMethod::kSstIngest,
                                           SnapshotWriteMethod::kWriteBatch),
                         [](const ::testing::TestParamInfo<SnapshotWriteMethod>& info) {
                           return std::string(testing::MethodTag(info.param));
                         });

TEST(SnapshotWriteMethodTest, NamesBothMethods) {
  const std::string a = SnapshotWriteMethodName(SnapshotWriteMethod::kSstIngest);
  const std::string b = SnapshotWriteMethodName(SnapshotWriteMethod::kWriteBatch);
  EXPECT_FALSE(a.empty());
  EXPECT_FALSE(b.empty());
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace razar::storage
