// The parallel replayer must equal the sequential reference on every input:
// random record streams over several segments, snapshots of random layers
// at random points, orphan records, damaged logs (torn tails, flipped
// bytes) in every recovery mode, any thread count and batch size. And a
// point-in-time rebuild (snapshot + log prefix) must equal the log alone
// replayed to the same target.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "replay/replay.h"
#include "testing/spine_test_util.h"

namespace razar::replay {
namespace {

using storage::Layer;
using storage::RecordEncoder;
using storage::RecoveryMode;
using storage::SnapshotWriteMethod;
using storage::Spine;
using storage::State;
using namespace storage::testing;

constexpr RecoveryMode kModes[] = {
    RecoveryMode::kTolerateCorruptedTailRecords, RecoveryMode::kAbsoluteConsistency,
    RecoveryMode::kPointInTimeRecovery, RecoveryMode::kSkipAnyCorruptedRecords};

// Writes a random spine: `ops` typed operations (with orphan records mixed
// in) and snapshots of random layers at random points. With `keep_log` the
// crown layer is never snapshotted, so no log segment is ever covered by
// every layer and the log stays whole (the point-in-time reference needs
// it); otherwise covered segments are deleted as in production.
void WriteRandomSpine(const std::string& dir, uint64_t seed, int ops, std::vector<int64_t>* stamps,
                      State* live = nullptr, uint32_t retain = 5, bool keep_log = false) {
  std::mt19937_64 rng(seed * 7919 + 1);
  auto o = TestSpineOptions(
      dir, seed % 2 ? SnapshotWriteMethod::kSstIngest : SnapshotWriteMethod::kWriteBatch);
  o.retain_snapshots = retain;
  auto spine = Spine::Open(o);
  ASSERT_TRUE(spine.ok()) << spine.status().ToString();
  RecordEncoder enc;
  OpGen gen(seed, seed << 32);
  for (int i = 0; i < ops; ++i) {
    const uint64_t dice = rng() % 1000;
    if (dice < 4 || (keep_log && dice < 6)) {
      const int layers = keep_log ? storage::kLayerCount - 1 : storage::kLayerCount;
      auto rep = (*spine)->Snapshot(static_cast<Layer>(rng() % layers));
      ASSERT_TRUE(rep.ok()) << rep.status().ToString();
    } else if (dice < 6) {
      auto reps = (*spine)->SnapshotAll();
      ASSERT_TRUE(reps.ok()) << reps.status().ToString();
    } else if (dice < 30) {
      // Orphans: a done for an unknown event, an update of an unknown session.
      auto e = rng() % 2 ? enc.EventDone(1'000'000 + rng() % 100, 7, Layer::heart)
                         : enc.SessionUpdate(2'000'000 + rng() % 100, Layer::crown,
                                             std::span<const uint8_t>());
      ASSERT_TRUE((*spine)->Append(e.type, e.payload).ok());
    } else {
      Result<storage::Lsn> lsn = RunOp(spine->get(), enc, gen.Next());
      ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    }
  }
  if (live != nullptr) *live = (*spine)->CopyState();
  ASSERT_TRUE((*spine)->Close().ok());
  if (stamps != nullptr) {
    // Every record's timestamp, from the log itself.
    storage::LogReaderOptions ro;
    ro.dir = dir + "/log";
    auto r = storage::LogReader::Open(ro);
    ASSERT_TRUE(r.ok());
    storage::RecordView v;
    for (;;) {
      auto more = (*r)->Next(&v);
      ASSERT_TRUE(more.ok());
      if (!*more) break;
      stamps->push_back(v.timestamp_ns);
    }
  }
}

std::vector<std::string> Segments(const std::string& log_dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(log_dir)) {
    if (e.path().extension() == ".hblog") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Damages the log at random: nothing, a torn tail (truncation of the last
// segment), or one flipped byte in a random segment's written part.
std::string Damage(const std::string& log_dir, std::mt19937_64& rng) {
  const auto segs = Segments(log_dir);
  if (segs.empty()) return "none";
  const int kind = static_cast<int>(rng() % 3);
  if (kind == 0) return "none";
  if (kind == 1) {
    const uint64_t size = std::filesystem::file_size(segs.back());
    const uint64_t at = 4096 + rng() % std::max<uint64_t>(1, size - 4096);
    std::filesystem::resize_file(segs.back(), at);
    return "truncated " + segs.back() + " at " + std::to_string(at);
  }
  const std::string& seg = segs[rng() % segs.size()];
  std::string bytes;
  {
    FILE* f = fopen(seg.c_str(), "r+b");
    if (f == nullptr) return "none";
    bytes.resize(std::filesystem::file_size(seg));
    EXPECT_EQ(fread(bytes.data(), 1, bytes.size(), f), bytes.size());
    // Flip within the records actually written (zeros past them are the
    // preallocated tail; damage there is no damage).
    uint64_t end = bytes.size();
    while (end > 4096 && bytes[end - 1] == 0) --end;
    const uint64_t at = 4096 + rng() % std::max<uint64_t>(1, end - 4096);
    bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
    fseek(f, static_cast<long>(at), SEEK_SET);
    fputc(bytes[at], f);
    fclose(f);
    return "flipped " + seg + " at " + std::to_string(at);
  }
}

RebuildOptions Opts(const std::string& dir, bool sequential, uint32_t threads, RecoveryMode mode,
                    Target target = Target::End()) {
  RebuildOptions o;
  o.spine_dir = dir;
  o.sequential = sequential;
  o.threads = threads;
  o.mode = mode;
  o.target = target;
  return o;
}

void ExpectSameOutcome(const Result<Rebuilt>& a, const Result<Rebuilt>& b, const std::string& ctx) {
  ASSERT_EQ(a.ok(), b.ok()) << ctx << "\nsequential: " << a.status().ToString()
                            << "\nparallel:   " << b.status().ToString();
  if (!a.ok()) {
    EXPECT_EQ(a.status().ToString(), b.status().ToString()) << ctx;
    return;
  }
  EXPECT_EQ(StateDiffOf(a->state, b->state), "") << ctx;
  EXPECT_EQ(a->state.orphans(), b->state.orphans()) << ctx;
  EXPECT_EQ(a->log.records_read, b->log.records_read) << ctx;
  EXPECT_EQ(a->log.records_applied, b->log.records_applied) << ctx;
  EXPECT_EQ(a->log.records_skipped, b->log.records_skipped) << ctx;
  EXPECT_EQ(a->log.last_applied_lsn, b->log.last_applied_lsn) << ctx;
  EXPECT_EQ(a->log.stopped_at_target, b->log.stopped_at_target) << ctx;
  EXPECT_EQ(a->log.log.damages.size(), b->log.log.damages.size()) << ctx;
  for (int li = 0; li < storage::kLayerCount; ++li) {
    EXPECT_EQ(a->state.layer(static_cast<Layer>(li)).applied_lsn,
              b->state.layer(static_cast<Layer>(li)).applied_lsn)
        << ctx << " layer " << li;
  }
}

class ReplayPropertyTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ReplayPropertyTest, ParallelEqualsSequentialOnDamagedLogsInEveryMode) {
  const uint64_t seed = GetParam();
  TempDir dir("razar-replay-prop");
  std::mt19937_64 rng(seed);
  ASSERT_NO_FATAL_FAILURE(WriteRandomSpine(dir.path(), seed, 1500 + rng() % 1500, nullptr));
  const std::string damage = Damage(dir.path() + "/log", rng);
  for (RecoveryMode mode : kModes) {
    const uint32_t threads = 1 + rng() % 6;
    const Result<Rebuilt> seq = Rebuild(Opts(dir.path(), true, 1, mode));
    RebuildOptions po = Opts(dir.path(), false, threads, mode);
    constexpr uint32_t kBatches[] = {1, 7, 512, 8192};
    po.batch_records = kBatches[rng() % 4];
    const Result<Rebuilt> par = Rebuild(po);
    const std::string ctx = "seed " + std::to_string(seed) + ", " + damage + ", mode " +
                            storage::RecoveryModeName(mode) + ", threads " +
                            std::to_string(threads) + ", batch " + std::to_string(po.batch_records);
    ASSERT_NO_FATAL_FAILURE(ExpectSameOutcome(seq, par, ctx));
  }
}

TEST_P(ReplayPropertyTest, PointInTimeRebuildEqualsTheLogAloneToTheSameTarget) {
  const uint64_t seed = GetParam();
  TempDir dir("razar-replay-pit");
  std::mt19937_64 rng(seed ^ 0x5eed);
  std::vector<int64_t> stamps;
  ASSERT_NO_FATAL_FAILURE(WriteRandomSpine(dir.path(), seed, 1200 + rng() % 800, &stamps, nullptr,
                                           1000, /*keep_log=*/true));
  ASSERT_EQ(Segments(dir.path() + "/log").front(), dir.path() + "/log/00000000000000000001.hblog");
  ASSERT_FALSE(stamps.empty());
  for (int round = 0; round < 4; ++round) {
    Target t;
    const size_t i = rng() % stamps.size();
    if (round % 2 == 0) {
      t = Target::AtLsn(i + 1);
    } else {
      t = Target::AtTime(stamps[i]);
    }
    RebuildOptions with =
        Opts(dir.path(), false, 1 + rng() % 4, RecoveryMode::kPointInTimeRecovery, t);
    RebuildOptions alone = Opts(dir.path(), true, 1, RecoveryMode::kPointInTimeRecovery, t);
    alone.use_snapshots = false;
    const Result<Rebuilt> a = Rebuild(with);
    const Result<Rebuilt> b = Rebuild(alone);
    const std::string ctx = "seed " + std::to_string(seed) + " target " + t.ToString();
    ASSERT_TRUE(a.ok()) << ctx << ": " << a.status().ToString();
    ASSERT_TRUE(b.ok()) << ctx << ": " << b.status().ToString();
    EXPECT_EQ(StateDiffOf(a->state, b->state), "") << ctx;
    EXPECT_EQ(a->log.last_applied_lsn, b->log.last_applied_lsn) << ctx;
    if (t.kind == Target::Kind::kLsn) {
      EXPECT_EQ(b->log.last_applied_lsn, t.lsn) << ctx;
    }
    EXPECT_TRUE(b->log.stopped_at_target || b->log.last_applied_lsn == stamps.size()) << ctx;
  }
}

std::vector<uint64_t> Seeds() {
  std::vector<uint64_t> s;
  for (uint64_t i = 1; i <= 24; ++i) s.push_back(i);
  return s;
}
INSTANTIATE_TEST_SUITE_P(Seeds, ReplayPropertyTest, ::testing::ValuesIn(Seeds()));

// The batch size changes how records are grouped, never the result.
TEST(ReplayBatchTest, EveryBatchSizeAndThreadCountGivesTheSequentialResult) {
  TempDir dir("razar-replay-batch");
  ASSERT_NO_FATAL_FAILURE(WriteRandomSpine(dir.path(), 99, 2500, nullptr));
  storage::State ref;
  LogReplayOptions o;
  o.log_dir = dir.path() + "/log";
  LogReplayStats ref_stats;
  Cuts none{};
  ASSERT_TRUE(ReplayLogSequential(o, none, &ref, &ref_stats).ok());
  ASSERT_GT(ref_stats.records_applied, 2000u);
  for (uint32_t batch : {1u, 3u, 64u, 100000u}) {
    for (uint32_t threads : {1u, 2u, 5u, 16u}) {
      storage::State st;
      LogReplayOptions po = o;
      po.batch_records = batch;
      po.threads = threads;
      LogReplayStats stats;
      ASSERT_TRUE(ReplayLogParallel(po, none, &st, &stats).ok());
      const std::string ctx =
          "batch " + std::to_string(batch) + " threads " + std::to_string(threads);
      EXPECT_EQ(StateDiffOf(ref, st), "") << ctx;
      EXPECT_EQ(ref.orphans(), st.orphans()) << ctx;
      EXPECT_EQ(ref_stats.records_applied, stats.records_applied) << ctx;
      EXPECT_EQ(stats.threads, threads) << ctx;
    }
  }
}

// The rebuild equals the live state the spine held when it closed, and what
// the spine's own recovery rebuilds.
TEST(ReplayRebuildTest, RebuildEqualsTheLiveStateAndTheSpinesOwnRecovery) {
  TempDir dir("razar-replay-live");
  State live;
  ASSERT_NO_FATAL_FAILURE(WriteRandomSpine(dir.path(), 4242, 3000, nullptr, &live, 2));
  for (bool sequential : {true, false}) {
    auto r = Rebuild(Opts(dir.path(), sequential, 2, RecoveryMode::kPointInTimeRecovery));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(StateDiffOf(live, r->state), "") << (sequential ? "sequential" : "parallel");
    EXPECT_GT(r->log.records_skipped + r->log.records_applied, 0u);
  }
  for (bool parallel : {false, true}) {
    auto o = TestSpineOptions(dir.path(), SnapshotWriteMethod::kSstIngest);
    if (parallel) o.log_replayer = ParallelLogReplayer(3);
    auto spine = Spine::Open(o);
    ASSERT_TRUE(spine.ok()) << spine.status().ToString();
    EXPECT_EQ(StateDiffOf(live, (*spine)->CopyState()), "") << (parallel ? "parallel" : "own");
    EXPECT_GT((*spine)->recovery_report().records_replayed, 0u);
    // Reopened spines keep working: appends to sessions the replay rebuilt.
    ASSERT_TRUE((*spine)->Beat(1, Layer::root, 1).ok());
    ASSERT_TRUE((*spine)->Close().ok());
    live = State();
    auto again = Rebuild(Opts(dir.path(), true, 1, RecoveryMode::kPointInTimeRecovery));
    ASSERT_TRUE(again.ok());
    live = std::move(again->state);
  }
}

}  // namespace
}  // namespace razar::replay
