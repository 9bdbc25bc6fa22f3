// Spine: recovery rebuilds the live State exactly (property test over many
// seeds, with and without snapshots), snapshots taken while appends run,
// crashes at every step of a snapshot publish, damaged snapshots, retention
// of snapshots and log segments, and refusal of bad spine directories
// (docs/formats/spine.md).
#include "storage/spine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/child_process.h"
#include "testing/log_test_util.h"
#include "testing/spine_test_util.h"
#include "tests/storage/spine_crash_child.h"

namespace razar::storage {
namespace {

using testing::kAllLayers;
using testing::Op;
using testing::OpGen;
using testing::StateDiffOf;
using testing::TempDir;
using testing::TestSpineOptions;
using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<Spine>> OpenSpine(const SpineOptions& o) { return Spine::Open(o); }

// Live state vs. a model applied with timestamp 0 (the spine stamps real
// times): everything but the wall-clock fields.
::testing::AssertionResult MatchesModel(const State& live, const State& model) {
  std::string d = StateDiffOf(live, model, /*with_time=*/false);
  if (!d.empty()) return ::testing::AssertionFailure() << "live vs model: " << d;
  return ::testing::AssertionSuccess();
}

// Recovered state vs. the state before close: bit for bit, by State::Equals
// and by the independent comparator.
::testing::AssertionResult SameState(const State& got, const State& want) {
  if (!got.Equals(want)) {
    return ::testing::AssertionFailure() << "State::Diff: " << got.Diff(want);
  }
  std::string d = StateDiffOf(got, want, /*with_time=*/true);
  if (!d.empty()) return ::testing::AssertionFailure() << "independent diff: " << d;
  std::string p = testing::PlacementProblem(got);
  if (!p.empty()) return ::testing::AssertionFailure() << "placement: " << p;
  return ::testing::AssertionSuccess();
}

uint64_t LayerSessions(const State& st, Layer l) {
  uint64_t n = 0;
  for (const Shard& s : st.layer(l).shards) n += s.sessions.size();
  return n;
}
uint64_t LayerEvents(const State& st, Layer l) {
  uint64_t n = 0;
  for (const Shard& s : st.layer(l).shards) n += s.events.size();
  return n;
}

// Newest listed snapshot id of a layer (0: none).
uint64_t NewestId(SnapshotStore* store, Layer l) {
  auto list = store->List(l);
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  if (!list.ok() || list->empty()) return 0;
  return list->front().snapshot_id;
}

// ---------------------------------------------------------------------------
// Property test: a random stream of typed calls with snapshots at random
// points; close; reopen; the recovered state equals the state before close.

enum class SnapMode {
  kNone,         // pure log replay
  kRandom,       // Snapshot(layer) / SnapshotAll at random points, appends after
  kEndsWithAll,  // random points and a SnapshotAll as the very last call
};

struct PropertyCase {
  uint64_t seed;
  SnapshotWriteMethod method;
  SnapMode mode;
};

std::string CaseName(const ::testing::TestParamInfo<PropertyCase>& info) {
  const char* mode = info.param.mode == SnapMode::kNone     ? "NoSnapshot"
                     : info.param.mode == SnapMode::kRandom ? "RandomSnapshots"
                                                            : "EndsWithSnapshotAll";
  return std::string(mode) + "_" + testing::MethodTag(info.param.method) + "_seed" +
         std::to_string(info.param.seed);
}

class SpinePropertyTest : public ::testing::TestWithParam<PropertyCase> {
 protected:
  void SetUp() override { RAZAR_SKIP_WITHOUT_URING(); }

  // Runs `ops` random operations on spine and model; snapshots per mode.
  void RunOps(Spine* spine, int ops, SnapMode mode) {
    const int snapshot_every = 120;  // on average
    for (int i = 0; i < ops; ++i) {
      Op op = gen_->Next();
      auto lsn = testing::RunOp(spine, enc_, op);
      ASSERT_TRUE(lsn.ok()) << "op #" << i << ": " << lsn.status().ToString();
      ASSERT_GT(*lsn, last_lsn_) << "LSNs increase";
      last_lsn_ = *lsn;
      testing::ApplyOp(&model_, enc_, op, *lsn);
      ++appended_;
      if (mode != SnapMode::kNone && rng_() % snapshot_every == 0) {
        TakeSnapshot(spine);
        if (HasFatalFailure()) return;
      }
    }
    if (mode == SnapMode::kEndsWithAll) TakeSnapshotAll(spine);
  }

  void TakeSnapshot(Spine* spine) {
    if (rng_() % 3 == 0) return TakeSnapshotAll(spine);
    const Layer l = kAllLayers[rng_() % kLayerCount];
    auto rep = spine->Snapshot(l);
    ASSERT_TRUE(rep.ok()) << "Snapshot(" << LayerName(l) << "): " << rep.status().ToString();
    CheckReport(spine, *rep, l);
  }
  void TakeSnapshotAll(Spine* spine) {
    auto reps = spine->SnapshotAll();
    ASSERT_TRUE(reps.ok()) << "SnapshotAll: " << reps.status().ToString();
    ASSERT_EQ(reps->size(), static_cast<size_t>(kLayerCount));
    std::set<int> layers;
    for (const SnapshotReport& r : *reps) {
      layers.insert(static_cast<int>(r.layer));
      CheckReport(spine, r, r.layer);
    }
    EXPECT_EQ(layers.size(), static_cast<size_t>(kLayerCount)) << "one report per layer";
  }
  // Single-threaded: the snapshot holds exactly the model's layer.
  void CheckReport(Spine* spine, const SnapshotReport& r, Layer l) {
    EXPECT_EQ(r.layer, l);
    EXPECT_EQ(r.sessions, LayerSessions(model_, l)) << LayerName(l);
    EXPECT_EQ(r.events, LayerEvents(model_, l)) << LayerName(l);
    EXPECT_NE(r.snapshot_id, 0u);
    EXPECT_EQ(NewestId(spine->store(), l), r.snapshot_id) << "the report's snapshot is listed";
    snapshotted_[static_cast<int>(l)] = true;
  }

  // Close, reopen, compare; returns the reopened spine.
  std::unique_ptr<Spine> CloseAndReopen(std::unique_ptr<Spine> spine, const SpineOptions& o) {
    State live = spine->CopyState();
    EXPECT_TRUE(MatchesModel(live, model_));
    std::array<uint64_t, kLayerCount> newest{};
    for (Layer l : kAllLayers) newest[static_cast<int>(l)] = NewestId(spine->store(), l);
    Status s = spine->Close();
    EXPECT_TRUE(s.ok()) << s.ToString();
    spine.reset();

    auto re = OpenSpine(o);
    EXPECT_TRUE(re.ok()) << "reopen: " << re.status().ToString();
    if (!re.ok()) return nullptr;
    State got = (*re)->CopyState();
    EXPECT_TRUE(SameState(got, live));
    const RecoveryReport& rep = (*re)->recovery_report();
    EXPECT_TRUE(rep.problems.empty()) << "first problem: " << rep.problems.front();
    for (Layer l : kAllLayers) {
      EXPECT_EQ(rep.snapshot_ids[static_cast<int>(l)], newest[static_cast<int>(l)])
          << LayerName(l) << ": recovery uses the newest snapshot";
    }
    if (GetParam().mode == SnapMode::kNone) {
      EXPECT_EQ(rep.records_replayed, appended_) << "pure replay applies every record";
      EXPECT_EQ(rep.records_skipped, 0u);
    }
    return std::move(*re);
  }

  std::unique_ptr<OpGen> gen_;
  RecordEncoder enc_;
  State model_;
  std::mt19937_64 rng_;
  Lsn last_lsn_ = 0;
  uint64_t appended_ = 0;
  std::array<bool, kLayerCount> snapshotted_{};
};

TEST_P(SpinePropertyTest, ReopenRebuildsTheStateBeforeClose) {
  const PropertyCase& c = GetParam();
  TempDir dir("razar-spine-prop");
  gen_ = std::make_unique<OpGen>(c.seed, /*id_base=*/0, /*max_sessions=*/250);
  rng_.seed(c.seed * 7919 + 1);
  SpineOptions o = TestSpineOptions(dir.Sub("spine"), c.method);

  auto sp = OpenSpine(o);
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  std::unique_ptr<Spine> spine = std::move(*sp);
  const int ops = 400 + static_cast<int>(rng_() % 500);
  RunOps(spine.get(), ops, c.mode);
  if (HasFatalFailure()) return;
  if (c.mode == SnapMode::kRandom) {
    // At least one snapshot in the middle and appends after the last one.
    TakeSnapshot(spine.get());
    RunOps(spine.get(), 60, SnapMode::kNone);
  }
  if (HasFatalFailure()) return;

  spine = CloseAndReopen(std::move(spine), o);
  ASSERT_NE(spine, nullptr);
  if (HasFatalFailure()) return;

  // Second generation on the recovered spine: typed calls on sessions
  // opened before the restart (the session index is rebuilt), LSNs go on.
  const Lsn before = last_lsn_;
  RunOps(spine.get(), 200, c.mode);
  if (HasFatalFailure()) return;
  EXPECT_GT(last_lsn_, before);
  spine = CloseAndReopen(std::move(spine), o);
  ASSERT_NE(spine, nullptr);
  EXPECT_TRUE(spine->Close().ok());
}

std::vector<PropertyCase> PropertyCases() {
  std::vector<PropertyCase> out;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    const SnapMode mode = seed % 3 == 0   ? SnapMode::kNone
                          : seed % 3 == 1 ? SnapMode::kRandom
                                          : SnapMode::kEndsWithAll;
    const SnapshotWriteMethod method =
        (seed / 3) % 2 == 0 ? SnapshotWriteMethod::kSstIngest : SnapshotWriteMethod::kWriteBatch;
    out.push_back({seed, method, mode});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Seeds, SpinePropertyTest, ::testing::ValuesIn(PropertyCases()), CaseName);

// ---------------------------------------------------------------------------
// Concurrent appends while SnapshotAll runs.

class SpineMethodTest : public ::testing::TestWithParam<SnapshotWriteMethod> {
 protected:
  void SetUp() override { RAZAR_SKIP_WITHOUT_URING(); }
};

std::string MethodName(const ::testing::TestParamInfo<SnapshotWriteMethod>& info) {
  return testing::MethodTag(info.param);
}

TEST_P(SpineMethodTest, ConcurrentAppendsDuringSnapshotAllReopenEqual) {
  TempDir dir("razar-spine-conc");
  SpineOptions o = TestSpineOptions(dir.Sub("spine"), GetParam());
  auto sp = OpenSpine(o);
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  Spine* spine = sp->get();

  constexpr int kThreads = 3;
  constexpr int kOpsPerThread = 2500;
  struct Done {
    Lsn lsn;
    Op op;
  };
  std::vector<std::vector<Done>> done(kThreads);
  std::atomic<int> running{kThreads};
  std::atomic<int> failures{0};
  std::array<std::atomic<int>, kThreads> progress{};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Disjoint sessions per thread; components (1..24) shared on purpose.
      OpGen gen(1000 + t, (static_cast<uint64_t>(t) + 1) << 40, 200);
      RecordEncoder enc;
      for (int i = 0; i < kOpsPerThread; ++i) {
        Op op = gen.Next();
        auto lsn = testing::RunOp(spine, enc, op);
        if (!lsn.ok()) {
          ADD_FAILURE() << "thread " << t << " op #" << i << ": " << lsn.status().ToString();
          failures++;
          break;
        }
        done[t].push_back({*lsn, std::move(op)});
        progress[t]++;
      }
      running--;
    });
  }
  std::atomic<int> snapshots{0};
  std::thread snapper([&] {
    while (running.load() > 0 || snapshots < 2) {
      auto reps = spine->SnapshotAll();
      if (!reps.ok()) {
        ADD_FAILURE() << "SnapshotAll: " << reps.status().ToString();
        failures++;
        return;
      }
      ++snapshots;
    }
  });
  // Bounded: a stall (every appender blocked) fails the run instead of
  // hanging it; threads cannot be abandoned, so the process ends here.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (running.load() > 0) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr,
                   "FATAL: %d appender thread(s) still running after 30 s (normally ~1 s): "
                   "the spine is deadlocked (appends: %d %d %d, snapshots: %d)\n",
                   running.load(), progress[0].load(), progress[1].load(), progress[2].load(),
                   snapshots.load());
      std::fflush(stderr);
      std::abort();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& th : threads) th.join();
  snapper.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_GE(snapshots.load(), 2);

  // Each layer applies its records in LSN order: the live state equals the
  // records of all threads applied in LSN order.
  std::vector<const Done*> all;
  for (const auto& v : done) {
    for (const Done& d : v) all.push_back(&d);
  }
  std::sort(all.begin(), all.end(), [](const Done* a, const Done* b) { return a->lsn < b->lsn; });
  for (size_t i = 1; i < all.size(); ++i) ASSERT_NE(all[i]->lsn, all[i - 1]->lsn) << "LSN reused";
  State model;
  RecordEncoder enc;
  for (const Done* d : all) testing::ApplyOp(&model, enc, d->op, d->lsn);
  State live = spine->CopyState();
  EXPECT_TRUE(MatchesModel(live, model));
  // One more round of appends after the last snapshot.
  OpGen tail(7, 9ull << 40, 50);
  ASSERT_NO_FATAL_FAILURE(testing::RunOps(spine, enc, tail, 100));
  live = spine->CopyState();
  ASSERT_TRUE(spine->Close().ok());
  sp->reset();

  auto re = OpenSpine(o);
  ASSERT_TRUE(re.ok()) << re.status().ToString();
  EXPECT_TRUE(SameState((*re)->CopyState(), live));
  for (Layer l : kAllLayers) {
    EXPECT_NE((*re)->recovery_report().snapshot_ids[static_cast<int>(l)], 0u) << LayerName(l);
  }
  EXPECT_TRUE((*re)->recovery_report().problems.empty());
  EXPECT_TRUE((*re)->Close().ok());
}

// ---------------------------------------------------------------------------
// A damaged newest snapshot: recovery reports it, falls back to the older
// snapshot of that layer plus a longer replay, and still rebuilds the state.

TEST_P(SpineMethodTest, CorruptedNewestSnapshotFallsBackToTheOlderOne) {
  TempDir dir("razar-spine-corrupt");
  SpineOptions o = TestSpineOptions(dir.Sub("spine"), GetParam());
  auto sp = OpenSpine(o);
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  Spine* spine = sp->get();
  OpGen gen(4242, 0, 300, 24, /*allow_append=*/false);
  RecordEncoder enc;
  auto run = [&](int n) { testing::RunOps(spine, enc, gen, n); };
  ASSERT_NO_FATAL_FAILURE(run(800));
  auto first = spine->SnapshotAll();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::array<uint64_t, kLayerCount> older{};
  for (const SnapshotReport& r : *first) older[static_cast<int>(r.layer)] = r.snapshot_id;
  ASSERT_NO_FATAL_FAILURE(run(400));
  auto second = spine->Snapshot(Layer::heart);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  const uint64_t newer = second->snapshot_id;
  ASSERT_GT(second->sessions, 0u) << "the damaged snapshot should hold sessions";
  ASSERT_NO_FATAL_FAILURE(run(300));
  State live = spine->CopyState();
  ASSERT_TRUE(spine->Close().ok());
  sp->reset();

  std::string err;
  std::string key =
      testing::FlipSnapshotValueByte(dir.Sub("spine") + "/snapshots", Layer::heart, newer, &err);
  ASSERT_FALSE(key.empty()) << err;

  auto re = OpenSpine(o);
  ASSERT_TRUE(re.ok()) << "a damaged snapshot with an older one behind it must not stop recovery: "
                       << re.status().ToString();
  const RecoveryReport& rep = (*re)->recovery_report();
  ASSERT_FALSE(rep.problems.empty()) << "the damaged snapshot must be reported";
  bool names_layer = false, names_id = false;
  for (const std::string& p : rep.problems) {
    names_layer |= p.find("heart") != std::string::npos;
    names_id |= p.find(std::to_string(newer)) != std::string::npos;
  }
  EXPECT_TRUE(names_layer) << "problem should name the layer: " << rep.problems.front();
  EXPECT_TRUE(names_id) << "problem should name snapshot " << newer << ": " << rep.problems.front();
  EXPECT_EQ(rep.snapshot_ids[static_cast<int>(Layer::heart)], older[static_cast<int>(Layer::heart)])
      << "the older snapshot of the layer is used";
  for (Layer l : kAllLayers) {
    if (l == Layer::heart) continue;
    EXPECT_EQ(rep.snapshot_ids[static_cast<int>(l)], older[static_cast<int>(l)]) << LayerName(l);
  }
  EXPECT_TRUE(SameState((*re)->CopyState(), live));
  EXPECT_TRUE((*re)->Close().ok());
}

// The only snapshot of a layer is damaged and the log before it is gone:
// recovery cannot rebuild the layer and says so.
TEST_P(SpineMethodTest, CorruptedOnlySnapshotWithoutTheLogBeforeItFailsNamingTheLayer) {
  TempDir dir("razar-spine-gap");
  SpineOptions o = TestSpineOptions(dir.Sub("spine"), GetParam());
  auto sp = OpenSpine(o);
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  Spine* spine = sp->get();
  OpGen gen(99, 0, 300, 24, /*allow_append=*/false);
  RecordEncoder enc;
  ASSERT_NO_FATAL_FAILURE(testing::RunOps(spine, enc, gen, 2500));
  // Every layer must have records, so every layer's snapshot covers LSNs.
  State live = spine->CopyState();
  for (Layer l : kAllLayers) ASSERT_GT(live.layer(l).applied_lsn, 0u) << LayerName(l);
  auto reps = spine->SnapshotAll();
  ASSERT_TRUE(reps.ok()) << reps.status().ToString();
  uint64_t root_id = 0;
  for (const SnapshotReport& r : *reps) {
    if (r.layer == Layer::root) root_id = r.snapshot_id;
  }
  const std::string log_dir = dir.Sub("spine") + "/log";
  auto segs = testing::SegmentNames(log_dir);
  ASSERT_FALSE(segs.empty());
  Lsn first = 0;
  ASSERT_TRUE(log_format::ParseSegmentFileName(segs.front(), &first));
  ASSERT_GT(first, 1u) << "segments covered by every layer's snapshot are deleted";
  ASSERT_TRUE(spine->Close().ok());
  sp->reset();

  std::string err;
  ASSERT_FALSE(
      testing::FlipSnapshotValueByte(dir.Sub("spine") + "/snapshots", Layer::root, root_id, &err)
          .empty())
      << err;
  auto re = OpenSpine(o);
  ASSERT_FALSE(re.ok()) << "the root layer cannot be rebuilt: its log starts at LSN " << first;
  EXPECT_TRUE(re.status().IsCorruption()) << re.status().ToString();
  EXPECT_NE(re.status().message().find("root"), std::string::npos)
      << "the error names the layer: " << re.status().ToString();
}

// The same with nothing at all left in the log: after a restart the writer
// starts a fresh, empty segment, and a snapshot of every layer then makes
// all older segments deletable. With the only snapshot of a layer damaged,
// recovery must still see that LSNs 1.. are gone instead of rebuilding the
// layer as empty.
TEST_P(SpineMethodTest, CorruptedOnlySnapshotWithAnEmptyLogFailsInsteadOfLosingTheLayer) {
  TempDir dir("razar-spine-empty-log");
  SpineOptions o = TestSpineOptions(dir.Sub("spine"), GetParam());
  o.retain_snapshots = 1;
  uint64_t root_id = 0;
  {
    auto sp = OpenSpine(o);
    ASSERT_TRUE(sp.ok()) << sp.status().ToString();
    OpGen gen(77, 0, 200, 24, /*allow_append=*/false);
    RecordEncoder enc;
    for (int i = 0; i < 1500; ++i) {
      auto lsn = testing::RunOp(sp->get(), enc, gen.Next());
      ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    }
    ASSERT_GT((*sp)->CopyState().layer(Layer::root).applied_lsn, 0u);
    ASSERT_TRUE((*sp)->SnapshotAll().ok());
    ASSERT_TRUE((*sp)->Close().ok());
  }
  {
    auto sp = OpenSpine(o);  // starts a new, empty segment
    ASSERT_TRUE(sp.ok()) << sp.status().ToString();
    auto reps = (*sp)->SnapshotAll();
    ASSERT_TRUE(reps.ok()) << reps.status().ToString();
    for (const SnapshotReport& r : *reps) {
      if (r.layer == Layer::root) root_id = r.snapshot_id;
    }
    EXPECT_GT(LayerSessions((*sp)->CopyState(), Layer::root), 0u);
    ASSERT_TRUE((*sp)->Close().ok());
  }
  auto read = testing::ReadLog(dir.Sub("spine") + "/log", RecoveryMode::kPointInTimeRecovery);
  EXPECT_TRUE(read.records.empty())
      << "setup: expected every record's segment deleted, " << testing::Describe(read);
  std::string err;
  ASSERT_FALSE(
      testing::FlipSnapshotValueByte(dir.Sub("spine") + "/snapshots", Layer::root, root_id, &err)
          .empty())
      << err;
  auto re = OpenSpine(o);
  if (re.ok()) {
    ADD_FAILURE() << "recovered root with " << LayerSessions((*re)->CopyState(), Layer::root)
                  << " sessions although its only snapshot is damaged and the log no longer "
                     "holds LSN 1..; problems: "
                  << ((*re)->recovery_report().problems.empty()
                          ? std::string("none")
                          : (*re)->recovery_report().problems.front());
  } else {
    EXPECT_TRUE(re.status().IsCorruption()) << re.status().ToString();
  }
}

// After a restart and a snapshot of every layer, the log may hold no record
// at all (only the writer's fresh segment). LSNs must still continue after
// the snapshots' LSNs — a reused LSN would be skipped by the next recovery
// as "already in the snapshot".
TEST_P(SpineMethodTest, LsnsContinueAfterEveryRecordSegmentWasDeleted) {
  TempDir dir("razar-spine-lsn-cont");
  SpineOptions o = TestSpineOptions(dir.Sub("spine"), GetParam());
  o.retain_snapshots = 1;
  OpGen gen(78, 0, 200, 24, /*allow_append=*/false);
  RecordEncoder enc;
  Lsn last = 0;
  for (int cycle = 0; cycle < 3; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    auto sp = OpenSpine(o);
    ASSERT_TRUE(sp.ok()) << sp.status().ToString();
    for (int i = 0; i < 300; ++i) {
      auto lsn = testing::RunOp(sp->get(), enc, gen.Next());
      ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
      ASSERT_GT(*lsn, last) << "LSN reused after restart";
      last = *lsn;
    }
    ASSERT_TRUE((*sp)->SnapshotAll().ok());
    ASSERT_TRUE((*sp)->Close().ok());
    // Restart with nothing appended, snapshot again: every segment that
    // held records becomes deletable.
    auto again = OpenSpine(o);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ASSERT_TRUE((*again)->SnapshotAll().ok());
    State live = (*again)->CopyState();
    ASSERT_TRUE((*again)->Close().ok());
    auto re = OpenSpine(o);
    ASSERT_TRUE(re.ok()) << re.status().ToString();
    EXPECT_TRUE(SameState((*re)->CopyState(), live));
    ASSERT_TRUE((*re)->Close().ok());
  }
}

// ---------------------------------------------------------------------------
// Retention: the newest `retain` snapshots per layer, and the log back to
// the oldest retained snapshot of every layer.

TEST_P(SpineMethodTest, RetentionKeepsNewestSnapshotsAndDeletesCoveredSegments) {
  TempDir dir("razar-spine-retain");
  SpineOptions o = TestSpineOptions(dir.Sub("spine"), GetParam(), Durability::kBatch, 64u << 10);
  o.retain_snapshots = 2;
  auto sp = OpenSpine(o);
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  Spine* spine = sp->get();
  OpGen gen(5150, 0, 300, 24, /*allow_append=*/false);
  RecordEncoder enc;
  std::array<std::vector<uint64_t>, kLayerCount> ids;
  for (int round = 0; round < 5; ++round) {
    Lsn last = 0;
    ASSERT_NO_FATAL_FAILURE(testing::RunOps(spine, enc, gen, 700, &last));
    ASSERT_TRUE(spine->WaitDurable(last).ok());
    auto reps = spine->SnapshotAll();
    ASSERT_TRUE(reps.ok()) << "round " << round << ": " << reps.status().ToString();
    for (const SnapshotReport& r : *reps) ids[static_cast<int>(r.layer)].push_back(r.snapshot_id);
  }

  Lsn cutoff = ~Lsn{0};
  for (Layer l : kAllLayers) {
    auto list = spine->store()->List(l);
    ASSERT_TRUE(list.ok());
    const auto& want = ids[static_cast<int>(l)];
    ASSERT_EQ(list->size(), 2u) << LayerName(l) << ": retain_snapshots = 2";
    EXPECT_EQ((*list)[0].snapshot_id, want[4]) << LayerName(l);
    EXPECT_EQ((*list)[1].snapshot_id, want[3]) << LayerName(l);
    ASSERT_GT((*list)[1].min_lsn(), 0u) << LayerName(l) << " has records";
    cutoff = std::min(cutoff, (*list)[1].min_lsn());
  }

  const std::string log_dir = dir.Sub("spine") + "/log";
  std::vector<Lsn> firsts;
  for (const std::string& n : testing::SegmentNames(log_dir)) {
    Lsn f = 0;
    ASSERT_TRUE(log_format::ParseSegmentFileName(n, &f));
    firsts.push_back(f);
  }
  ASSERT_FALSE(firsts.empty());
  EXPECT_GT(firsts.front(), 1u) << "segments before every retained snapshot are deleted";
  EXPECT_LE(firsts.front(), cutoff + 1)
      << "the log must reach back to the oldest retained snapshot (LSN " << cutoff << ")";
  for (size_t i = 0; i + 1 < firsts.size(); ++i) {
    EXPECT_GT(firsts[i + 1] - 1, cutoff)
        << "segment starting at LSN " << firsts[i] << " holds only records <= " << cutoff
        << " and should have been deleted";
  }

  // Raw store: only the retained snapshots' entries remain.
  State live = spine->CopyState();
  ASSERT_TRUE(spine->Close().ok());
  sp->reset();
  {
    std::string err;
    auto raw = testing::RawSnapshotDb::Open(dir.Sub("spine") + "/snapshots", true, &err);
    ASSERT_NE(raw, nullptr) << err;
    for (Layer l : kAllLayers) {
      auto counts = testing::EntryCountsById(*raw, l);
      const auto& want = ids[static_cast<int>(l)];
      for (const auto& [id, n] : counts) {
        EXPECT_TRUE(id == want[3] || id == want[4])
            << LayerName(l) << ": entries of deleted snapshot " << id << " remain";
      }
    }
  }

  auto re = OpenSpine(o);
  ASSERT_TRUE(re.ok()) << re.status().ToString();
  EXPECT_TRUE(SameState((*re)->CopyState(), live));
  for (Layer l : kAllLayers) {
    auto list = (*re)->store()->List(l);
    ASSERT_TRUE(list.ok());
    EXPECT_EQ(list->size(), 2u);
  }
  EXPECT_TRUE((*re)->Close().ok());
}

// ---------------------------------------------------------------------------
// Bad input.

TEST_P(SpineMethodTest, UpdateOfUnknownSessionIsNotFoundAndAppendsNothing) {
  TempDir dir("razar-spine-nf");
  SpineOptions o = TestSpineOptions(dir.Sub("spine"), GetParam());
  auto sp = OpenSpine(o);
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  Spine* spine = sp->get();
  const std::vector<uint8_t> st = {1, 2, 3};
  ASSERT_TRUE(spine->OpenSession(1, Layer::heart, 1, "c", st).ok());
  ASSERT_TRUE(spine->OpenSession(2, Layer::heart, 1, "c", st).ok());
  ASSERT_TRUE(spine->CloseSession(2).ok());
  const Lsn before = spine->log()->last_lsn();
  State state_before = spine->CopyState();

  auto r = spine->UpdateSession(12345, st);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  r = spine->UpdateSession(2, st);  // closed
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_EQ(spine->log()->last_lsn(), before) << "nothing may be appended";
  EXPECT_TRUE(SameState(spine->CopyState(), state_before));

  auto ok = spine->UpdateSession(1, st);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, before + 1);
  EXPECT_TRUE(spine->Close().ok());
}

std::string ReadText(const std::string& path) {
  auto b = testing::ReadFileBytes(path);
  return std::string(b.begin(), b.end());
}
void WriteText(const std::string& path, const std::string& s) {
  testing::WriteFileBytes(path, std::vector<uint8_t>(s.begin(), s.end()));
}
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST_P(SpineMethodTest, NewSpineWritesItsIdentityFile) {
  TempDir dir("razar-spine-id");
  auto sp = OpenSpine(TestSpineOptions(dir.Sub("spine"), GetParam()));
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  ASSERT_TRUE((*sp)->Close().ok());
  std::string text = ReadText(dir.Sub("spine") + "/SPINE");
  std::string compact;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  }
  EXPECT_NE(compact.find("\"format\":\"razar-spine\""), std::string::npos) << text;
  EXPECT_NE(compact.find("\"version\":1"), std::string::npos) << text;
  EXPECT_NE(compact.find("\"shards\":" + std::to_string(kShardCount)), std::string::npos) << text;
  EXPECT_TRUE(std::filesystem::is_directory(dir.Sub("spine") + "/log"));
  EXPECT_TRUE(std::filesystem::is_directory(dir.Sub("spine") + "/snapshots"));
}

TEST_P(SpineMethodTest, GarbageSpineFileIsRefusedWithAClearError) {
  TempDir dir("razar-spine-bad");
  const std::string d = dir.Sub("spine");
  std::filesystem::create_directories(d);
  WriteText(d + "/SPINE", "this is not a spine\n\x01\x02");
  auto sp = OpenSpine(TestSpineOptions(d, GetParam()));
  ASSERT_FALSE(sp.ok()) << "a directory whose SPINE is garbage is not a spine";
  EXPECT_NE(Lower(sp.status().ToString()).find("spine"), std::string::npos)
      << "the error should name the SPINE file: " << sp.status().ToString();
  EXPECT_EQ(testing::ListNames(d), std::vector<std::string>{"SPINE"})
      << "refusing must not create a log or a store";
  EXPECT_EQ(ReadText(d + "/SPINE"), "this is not a spine\n\x01\x02");
}

TEST_P(SpineMethodTest, SpineFileOfAnotherVersionIsRefused) {
  TempDir dir("razar-spine-ver");
  const std::string d = dir.Sub("spine");
  SpineOptions o = TestSpineOptions(d, GetParam());
  {
    auto sp = OpenSpine(o);
    ASSERT_TRUE(sp.ok()) << sp.status().ToString();
    ASSERT_TRUE((*sp)->OpenSession(1, Layer::root, 1, "c", std::vector<uint8_t>{1}).ok());
    ASSERT_TRUE((*sp)->Close().ok());
  }
  const std::string v2 = "{\"format\":\"razar-spine\",\"version\":2,\"shards\":4096}\n";
  WriteText(d + "/SPINE", v2);
  auto sp = OpenSpine(o);
  ASSERT_FALSE(sp.ok()) << "version 2 is not this format";
  EXPECT_NE(Lower(sp.status().ToString()).find("version"), std::string::npos)
      << "the error should say the version is wrong: " << sp.status().ToString();
  EXPECT_EQ(ReadText(d + "/SPINE"), v2) << "refusing must not rewrite the identity";

  WriteText(d + "/SPINE", "{\"format\":\"other-thing\",\"version\":1,\"shards\":4096}\n");
  sp = OpenSpine(o);
  EXPECT_FALSE(sp.ok()) << "another format name is not a spine";
}

// ---------------------------------------------------------------------------
// The background scheduler snapshots every layer on its own.

TEST_P(SpineMethodTest, SchedulerSnapshotsEveryLayerAndStopsPromptlyOnClose) {
  TempDir dir("razar-spine-sched");
  SpineOptions o = TestSpineOptions(dir.Sub("spine"), GetParam());
  o.snapshot_interval_s = 1;
  auto sp = OpenSpine(o);
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  Spine* spine = sp->get();
  OpGen gen(31, 0, 100, 24, false);
  RecordEncoder enc;
  ASSERT_NO_FATAL_FAILURE(testing::RunOps(spine, enc, gen, 300));
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  bool all = false;
  while (!all && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    all = true;
    for (Layer l : kAllLayers) all &= NewestId(spine->store(), l) != 0;
  }
  EXPECT_TRUE(all) << "no automatic snapshot of every layer within 5 s at a 1 s interval";
  ASSERT_NO_FATAL_FAILURE(testing::RunOps(spine, enc, gen, 100));
  State live = spine->CopyState();
  const auto t0 = Clock::now();
  ASSERT_TRUE(spine->Close().ok());
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3)) << "Close waits for the scheduler";
  sp->reset();
  auto re = OpenSpine(TestSpineOptions(dir.Sub("spine"), GetParam()));
  ASSERT_TRUE(re.ok()) << re.status().ToString();
  EXPECT_TRUE(SameState((*re)->CopyState(), live));
  EXPECT_TRUE((*re)->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(BothWriteMethods, SpineMethodTest,
                         ::testing::Values(SnapshotWriteMethod::kSstIngest,
                                           SnapshotWriteMethod::kWriteBatch),
                         MethodName);

// ---------------------------------------------------------------------------
// Crash at every step of a snapshot publish. The child is its own program,
// razar_spine_crash_child (spine_crash_child.h), started with fork + execve
// so that it inherits no RocksDB or writer threads from this process: it
// appends a known stream, takes one complete snapshot, appends more, arms
// the crash point and snapshots again — _exit(0) inside the store.

using crash_child::CrashSpineOptions;
using crash_child::kChildCrashed;
using crash_child::kCrashLayer;
using crash_child::kCrashSeed;
using crash_child::kOpsAfterFirst;
using crash_child::kOpsBeforeFirst;
using crash_child::LsnFile;

struct CrashCase {
  SnapshotCrashPoint point;
  SnapshotWriteMethod method;
};

const char* PointName(SnapshotCrashPoint p) {
  switch (p) {
    case SnapshotCrashPoint::kNone:
      return "None";
    case SnapshotCrashPoint::kAfterFirstShard:
      return "AfterFirstShard";
    case SnapshotCrashPoint::kBeforeIngest:
      return "BeforeIngest";
    case SnapshotCrashPoint::kAfterDataDurable:
      return "AfterDataDurable";
    case SnapshotCrashPoint::kAfterManifest:
      return "AfterManifest";
  }
  return "?";
}

class SpineCrashTest : public ::testing::TestWithParam<CrashCase> {
 protected:
  void SetUp() override { RAZAR_SKIP_WITHOUT_URING(); }

  // Runs the child program to its end; returns its wait status, or -1
  // after killing a child that did not finish in time.
  int RunChild(const std::string& base) {
    testing::ChildProcess child;
    child.Start({RAZAR_SPINE_CRASH_CHILD, base, std::to_string(static_cast<int>(GetParam().point)),
                 std::to_string(static_cast<int>(GetParam().method))},
                base + "/child.out");
    return child.pid() > 0 ? child.Wait(std::chrono::seconds(60)) : -1;
  }
};

TEST_P(SpineCrashTest, RecoveryFindsOldOrCompleteNewSnapshotAndTheFullState) {
  const CrashCase& c = GetParam();
  TempDir dir("razar-spine-crash");
  const std::string spine_dir = dir.Sub("spine");
  const int status = RunChild(dir.path());
  ASSERT_NE(status, -1);
  ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status) << "\n"
                                 << ReadText(dir.Sub("child.out"));
  ASSERT_EQ(WEXITSTATUS(status), kChildCrashed)
      << "child exit code " << WEXITSTATUS(status) << " (10: the snapshot completed without "
      << "reaching the crash point)\n"
      << ReadText(dir.Sub("child.out"));
  const std::vector<uint8_t> raw_lsns = testing::ReadFileBytes(LsnFile(dir.path()));
  ASSERT_EQ(raw_lsns.size(), (kOpsBeforeFirst + kOpsAfterFirst) * sizeof(Lsn))
      << "the child did not reach the crash step\n"
      << ReadText(dir.Sub("child.out"));
  std::vector<Lsn> lsns(kOpsBeforeFirst + kOpsAfterFirst);
  std::memcpy(lsns.data(), raw_lsns.data(), raw_lsns.size());

  // Expected: the child's stream (every record acknowledged in batch mode)
  // applied to a fresh State at the child's LSNs.
  State model;
  Lsn last_layer_lsn = 0;  // the crash layer's last record
  {
    OpGen gen(kCrashSeed, 0, 300);
    RecordEncoder enc;
    for (Lsn lsn : lsns) {
      Op op = gen.Next();
      testing::ApplyOp(&model, enc, op, lsn);
      if (op.layer == kCrashLayer) last_layer_lsn = lsn;
    }
  }
  // And the log itself replayed in full (timestamps included).
  State replayed;
  uint64_t records = 0;
  Status rs = testing::ReplayLogInto(spine_dir + "/log", &replayed, &records);
  ASSERT_TRUE(rs.ok()) << rs.ToString();
  EXPECT_EQ(records, lsns.size()) << "every acknowledged record is in the log";
  ASSERT_TRUE(MatchesModel(replayed, model));

  auto sp = OpenSpine(CrashSpineOptions(spine_dir, c.method));
  ASSERT_TRUE(sp.ok()) << "reopen after a crash in the snapshot publish: "
                       << sp.status().ToString();
  Spine* spine = sp->get();
  auto list = spine->store()->List(kCrashLayer);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  const bool published = c.point == SnapshotCrashPoint::kAfterManifest;
  ASSERT_EQ(list->size(), published ? 2u : 1u)
      << (published ? "a crash after the manifest leaves the new snapshot"
                    : "a crash before the manifest leaves only the old snapshot");
  if (published) {
    EXPECT_GT((*list)[0].snapshot_id, (*list)[1].snapshot_id);
  }
  for (const SnapshotManifest& m : *list) {
    LayerState ls;
    Status s = spine->store()->Load(m, &ls);
    EXPECT_TRUE(s.ok()) << "listed snapshot " << m.snapshot_id << ": " << s.ToString();
  }
  if (published) {
    // Taken after the whole stream, nothing appended during it: every shard
    // LSN covers the layer's last record and none is beyond the log.
    EXPECT_GE(list->front().min_lsn(), last_layer_lsn);
    EXPECT_LE(list->front().max_lsn(), lsns.back());
  }
  const RecoveryReport& rep = spine->recovery_report();
  EXPECT_EQ(rep.snapshot_ids[static_cast<int>(kCrashLayer)], list->front().snapshot_id);
  for (Layer l : kAllLayers) {
    if (l != kCrashLayer) {
      EXPECT_EQ(rep.snapshot_ids[static_cast<int>(l)], 0u) << LayerName(l);
    }
  }
  State got = spine->CopyState();
  EXPECT_TRUE(MatchesModel(got, model));
  EXPECT_TRUE(SameState(got, replayed));
  // The recovered spine keeps working: one more snapshot of the layer.
  auto again = spine->Snapshot(kCrashLayer);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  std::set<uint64_t> listed;
  auto list2 = spine->store()->List(kCrashLayer);
  ASSERT_TRUE(list2.ok());
  for (const auto& m : *list2) listed.insert(m.snapshot_id);
  ASSERT_TRUE(spine->Close().ok());
  sp->reset();

  // Entries no manifest names were deleted at open.
  std::string err;
  auto raw = testing::RawSnapshotDb::Open(spine_dir + "/snapshots", true, &err);
  ASSERT_NE(raw, nullptr) << err;
  for (const auto& [id, n] : testing::EntryCountsById(*raw, kCrashLayer)) {
    EXPECT_EQ(listed.count(id), 1u) << n << " entries of unpublished snapshot " << id << " remain";
  }
}

// A crash leaves nothing behind that a reopen does not clean up: no
// temporary, never-ingested SST file of the dead process stays in the
// store directory (one per crash would pile up forever).
TEST_P(SpineCrashTest, ReopenRemovesFilesTheCrashedSnapshotLeftBehind) {
  TempDir dir("razar-spine-crash-files");
  const int status = RunChild(dir.path());
  ASSERT_NE(status, -1);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildCrashed)
      << ReadText(dir.Sub("child.out"));
  const std::string spine_dir = dir.Sub("spine");
  auto sp = OpenSpine(CrashSpineOptions(spine_dir, GetParam().method));
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  ASSERT_TRUE((*sp)->Close().ok());
  for (const std::string& n : testing::ListNames(spine_dir + "/snapshots")) {
    EXPECT_NE(n.rfind("ingest-", 0), 0u)
        << "temporary SST file " << n << " left behind by the crash survives a reopen";
  }
}

std::vector<CrashCase> CrashCases() {
  std::vector<CrashCase> out;
  for (SnapshotWriteMethod m :
       {SnapshotWriteMethod::kSstIngest, SnapshotWriteMethod::kWriteBatch}) {
    for (SnapshotCrashPoint p :
         {SnapshotCrashPoint::kAfterFirstShard, SnapshotCrashPoint::kBeforeIngest,
          SnapshotCrashPoint::kAfterDataDurable, SnapshotCrashPoint::kAfterManifest}) {
      out.push_back({p, m});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(EveryPointBothMethods, SpineCrashTest, ::testing::ValuesIn(CrashCases()),
                         [](const ::testing::TestParamInfo<CrashCase>& info) {
                           return std::string(PointName(info.param.point)) + "_" +
                                  testing::MethodTag(info.param.method);
                         });

}  // namespace
}  // namespace razar::storage
