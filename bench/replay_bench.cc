// Benchmarks of replay (replay/replay.h, docs/replay.md) with the physical
// limit measured in the same run (DESIGN.md, "What fast means").
// bench/report.py computes the ratios and bench/plot.py draws the curve;
// this file only names and counts.
//
// Corpus (built once per process, before any timing, under
// $RAZAR_BENCH_DIR/replay-corpus-<MB>, reused by later runs if complete):
// a heartbeat log of $RAZAR_BENCH_REPLAY_MB MiB (default 1024) written
// through LogWriter with durability none in 64 MiB segments: 1M sessions
// opened (spread over the 7 layers, 64-byte state, 24 components), then
// until the size is reached a mix per 20 records of 8 session updates (64-byte
// state), 4 event pending (48-byte payload), 4 event done, 3 beats and a
// close + reopen of a session. Every record as the spine writes it.
//
//   BM_ReplayScan               read every segment file whole with pread
//                               into one reused 64 MiB buffer (`cat`-like).
//   BM_ReplayScanHash           the same, plus XXH3-64 over every byte read:
//                               the physical limit a checksummed replay is
//                               compared with (docs/benchmarks.md).
//   BM_ReplayReadOnly           storage::LogReader over the whole log
//                               (checksums and LSN sequence, no decode, no
//                               apply): the one serial stage of replay.
//   BM_ReplayParallel/threads:N ReplayLogParallel of the whole log into a
//                               fresh State (no snapshot: every record is
//                               decoded, verified and applied), N = 1, 2 and
//                               the hardware threads.
//   BM_ReplaySequential         the reference replayer, same input.
//   BM_RebuildSnapshotPlusLog   time-to-rebuilt of a spine: 1M sessions in a
//                               snapshot of every layer, then a log tail of
//                               ~10% of the corpus size; Rebuild() (read-only
//                               open, parallel snapshot load, parallel
//                               replay of the tail) with all threads.
//
// Counters: records_per_s, MB_per_s (framed log bytes, 10^6 B/s),
// sessions (rebuilt, checked against the corpus). The State a replay built
// is destroyed outside the timed region.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "bench/bench_util.h"
#include "replay/replay.h"
#include "storage/log_reader.h"
#include "storage/log_writer.h"
#include "storage/record_codec.h"
#include "storage/spine.h"

namespace razar::bench {
namespace {

using storage::Layer;
using storage::RecordEncoder;

constexpr uint64_t kSessions = 1'000'000;
constexpr uint32_t kComponents = 24;

uint64_t CorpusMb() {
  const char* env = std::getenv("RAZAR_BENCH_REPLAY_MB");
  const uint64_t mb = env != nullptr ? std::strtoull(env, nullptr, 10) : 0;
  return mb > 0 ? mb : 1024;
}

Layer LayerOf(uint64_t sid) { return static_cast<Layer>(sid % storage::kLayerCount); }
// The session an event belongs to, computable from the event id alone.
uint64_t EventSession(uint64_t event_id) { return event_id * 2654435761u % kSessions + 1; }

// Appends the corpus mix through `append` until `bytes` framed bytes (or
// `records` records, whichever first); sessions 1..kSessions open first.
template <typename AppendFn>
bool WriteMix(AppendFn append, uint64_t bytes, uint64_t max_records, bool open_sessions,
              uint64_t seed) {
  RecordEncoder enc;
  uint8_t state[64], payload[48];
  uint64_t written = 0, n = 0;
  auto put = [&](const RecordEncoder::Encoded& e) {
    written += 32 + ((e.payload.size() + 7) & ~size_t{7});
    ++n;
    return append(e);
  };
  if (open_sessions) {
    for (uint64_t sid = 1; sid <= kSessions; ++sid) {
      FillPattern(state, sizeof(state), sid);
      const uint32_t comp = static_cast<uint32_t>(sid % kComponents) + 1;
      if (!put(
              enc.SessionOpen(sid, LayerOf(sid), comp, "component-" + std::to_string(comp), state)))
        return false;
    }
  }
  uint64_t x = seed, next_event = 1, done_event = 1;
  while (written < bytes && n < max_records) {
    for (int i = 0; i < 20; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const uint64_t sid = (x >> 20) % kSessions + 1;
      bool ok;
      if (i < 8) {
        FillPattern(state, sizeof(state), x);
        ok = put(enc.SessionUpdate(sid, LayerOf(sid), std::span<const uint8_t>(state)));
      } else if (i < 12) {
        FillPattern(payload, sizeof(payload), x);
        const uint64_t e = next_event++;
        ok = put(enc.EventPending(e, EventSession(e), LayerOf(EventSession(e)), payload));
      } else if (i < 16) {
        // Done for the oldest pending event, most of the time: a backlog of
        // pending events remains, as after a crash.
        ok = true;
        if (done_event < next_event && (x >> 60) != 0) {
          const uint64_t e = done_event++;
          ok = put(enc.EventDone(e, EventSession(e), LayerOf(EventSession(e))));
        }
      } else if (i < 19) {
        const uint32_t comp = static_cast<uint32_t>(x % kComponents) + 1;
        ok = put(enc.Beat(comp, static_cast<Layer>(comp % storage::kLayerCount), x >> 8));
      } else {
        FillPattern(state, sizeof(state), x);
        ok = put(enc.SessionClose(sid, LayerOf(sid))) &&
             put(enc.SessionOpen(sid, LayerOf(sid), 1, "component-1", state));
      }
      if (!ok) return false;
    }
  }
  return true;
}

struct Corpus {
  std::string log_dir;        // the big log
  std::string rebuild_spine;  // snapshot + tail
  uint64_t bytes = 0;         // framed bytes of the big log
  uint64_t file_bytes = 0;    // segment file bytes
  std::string error;
};

std::string MarkerOf(const std::string& dir) { return dir + "/COMPLETE"; }

Corpus BuildCorpus() {
  Corpus c;
  const uint64_t mb = CorpusMb();
  const std::string root = BenchRoot() + "/replay-corpus-" + std::to_string(mb);
  c.log_dir = root + "/log";
  c.rebuild_spine = root + "/spine";
  if (!std::filesystem::exists(MarkerOf(root))) {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
    std::filesystem::create_directories(c.log_dir, ec);
    storage::LogWriterOptions o;
    o.dir = c.log_dir;
    o.durability = storage::Durability::kNone;
    auto w = storage::LogWriter::Open(o);
    if (!w.ok()) {
      c.error = w.status().ToString();
      return c;
    }
    const bool ok = WriteMix(
        [&](const RecordEncoder::Encoded& e) { return (*w)->Append(e.type, e.payload).ok(); },
        mb << 20, UINT64_MAX, true, 42);
    if (!ok || !(*w)->Close().ok()) {
      c.error = "writing the corpus log failed";
      return c;
    }
    // The rebuild spine: every session in a snapshot, then a tail.
    storage::SpineOptions so;
    so.dir = c.rebuild_spine;
    so.log.durability = storage::Durability::kNone;
    so.snapshot_interval_s = 0;
    auto spine = storage::Spine::Open(so);
    if (!spine.ok()) {
      c.error = spine.status().ToString();
      return c;
    }
    storage::Spine* sp = spine->get();
    auto via_spine = [&](const RecordEncoder::Encoded& e) {
      return sp->Append(e.type, e.payload).ok();
    };
    if (!WriteMix(via_spine, 0, 0, true, 7) || !sp->SnapshotAll().ok() ||
        !WriteMix(via_spine, (mb << 20) / 10, UINT64_MAX, false, 9) || !sp->Close().ok()) {
      c.error = "writing the rebuild spine failed";
      return c;
    }
    std::ofstream(MarkerOf(root)) << "complete\n";
    SyncFs(root);
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(c.log_dir, ec)) {
    c.file_bytes += e.file_size(ec);
  }
  // Framed bytes: what the reader verifies (also the replayers' bytes_read).
  storage::LogReaderOptions ro;
  ro.dir = c.log_dir;
  auto r = storage::LogReader::Open(ro);
  storage::RecordView v;
  for (;;) {
    Result<bool> more = r.ok() ? (*r)->Next(&v) : Result<bool>(r.status());
    if (!more.ok()) {
      c.error = "corpus unreadable: " + more.status().ToString();
      return c;
    }
    if (!*more) break;
  }
  c.bytes = (*r)->report().bytes_scanned;
  return c;
}

const Corpus& TheCorpus() {
  static const Corpus c = BuildCorpus();
  return c;
}

#define RAZAR_CORPUS_OR_SKIP(state)              \
  const Corpus& corpus = TheCorpus();            \
  if (!corpus.error.empty()) {                   \
    (state).SkipWithError(corpus.error.c_str()); \
    return;                                      \
  }

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".hblog") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Reads every segment whole into one reused buffer; XXH3 over it if `hash`.
void Scan(benchmark::State& state, bool hash) {
  RAZAR_CORPUS_OR_SKIP(state);
  const auto files = SegmentFiles(corpus.log_dir);
  std::vector<uint8_t> buf(64u << 20);
  std::fill(buf.begin(), buf.end(), 1);  // pre-fault: fresh memory is slow here
  uint64_t bytes = 0, sink = 0;
  for (auto _ : state) {
    for (const auto& f : files) {
      const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        state.SkipWithError("open failed");
        return;
      }
      uint64_t off = 0;
      for (;;) {
        const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
        if (n <= 0) break;
        off += static_cast<uint64_t>(n);
        if (hash) sink ^= XXH3_64bits(buf.data(), static_cast<size_t>(n));
      }
      ::close(fd);
      bytes += off;
    }
  }
  benchmark::DoNotOptimize(sink);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["MB_per_s"] =
      benchmark::Counter(static_cast<double>(bytes) / 1e6, benchmark::Counter::kIsRate);
  state.counters["file_MB"] = static_cast<double>(corpus.file_bytes) / 1e6;
}

void BM_ReplayScan(benchmark::State& state) { Scan(state, false); }
void BM_ReplayScanHash(benchmark::State& state) { Scan(state, true); }

// The log reader alone (checksums, LSN sequence; no decode, no apply):
// the serial stage every replayer shares.
void BM_ReplayReadOnly(benchmark::State& state) {
  RAZAR_CORPUS_OR_SKIP(state);
  uint64_t records = 0, bytes = 0;
  for (auto _ : state) {
    storage::LogReaderOptions ro;
    ro.dir = corpus.log_dir;
    auto r = storage::LogReader::Open(ro);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    storage::RecordView v;
    for (;;) {
      Result<bool> more = (*r)->Next(&v);
      if (!more.ok() || !*more) break;
      ++records;
    }
    bytes += (*r)->report().bytes_scanned;
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.counters["MB_per_s"] =
      benchmark::Counter(static_cast<double>(bytes) / 1e6, benchmark::Counter::kIsRate);
}

void Replay(benchmark::State& state, bool sequential, uint32_t threads) {
  RAZAR_CORPUS_OR_SKIP(state);
  uint64_t records = 0, bytes = 0, sessions = 0;
  replay::LogReplayOptions o;
  o.log_dir = corpus.log_dir;
  o.threads = threads;
  replay::Cuts none{};
  for (auto _ : state) {
    auto st = std::make_unique<storage::State>();
    replay::LogReplayStats stats;
    const Status s = sequential ? replay::ReplayLogSequential(o, none, st.get(), &stats)
                                : replay::ReplayLogParallel(o, none, st.get(), &stats);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    records += stats.records_read;
    bytes += stats.bytes_read;
    state.PauseTiming();
    sessions = st->session_count();
    st.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.counters["MB_per_s"] =
      benchmark::Counter(static_cast<double>(bytes) / 1e6, benchmark::Counter::kIsRate);
  state.counters["sessions"] = static_cast<double>(sessions);
  state.counters["threads"] = sequential ? 1 : threads;
}

void BM_ReplayParallel(benchmark::State& state) {
  Replay(state, false, static_cast<uint32_t>(state.range(0)));
}
void BM_ReplaySequential(benchmark::State& state) { Replay(state, true, 1); }

void BM_RebuildSnapshotPlusLog(benchmark::State& state) {
  RAZAR_CORPUS_OR_SKIP(state);
  replay::RebuildOptions o;
  o.spine_dir = corpus.rebuild_spine;
  uint64_t sessions = 0, tail = 0;
  double snap_s = 0, log_s = 0;
  for (auto _ : state) {
    Result<replay::Rebuilt> r = replay::Rebuild(o);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    state.PauseTiming();
    sessions = r->state.session_count();
    tail = r->log.records_applied;
    snap_s += r->snapshots.seconds;
    log_s += r->log.seconds;
    r = Status::Aborted("destroyed outside the timed region");
    state.ResumeTiming();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["sessions"] = static_cast<double>(sessions);
  state.counters["tail_records"] = static_cast<double>(tail);
  state.counters["snapshot_load_s"] = snap_s / n;
  state.counters["log_replay_s"] = log_s / n;
}

uint32_t HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

void ThreadArgs(benchmark::internal::Benchmark* b) {
  b->ArgName("threads");
  std::vector<int64_t> args = {1, 2};
  if (HardwareThreads() > 2) args.push_back(HardwareThreads());
  for (int64_t a : args) b->Arg(a);
}

BENCHMARK(BM_ReplayScan)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_ReplayScanHash)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_ReplayReadOnly)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_ReplayParallel)
    ->Apply(ThreadArgs)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK(BM_ReplaySequential)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_RebuildSnapshotPlusLog)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace
}  // namespace razar::bench
