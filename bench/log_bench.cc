// Benchmarks of the heartbeat-log writer (storage/log_writer.h). Baselines
// measured in the same run are in bench/baseline_bench.cc; bench/report.py
// turns the JSON output into docs/benchmarks.md with the ratios.
//
//   BM_LogAppend         pipelined producers: each thread calls Append per
//                        iteration and, on its last iteration, WaitDurable for
//                        its last LSN, so every counted record has been
//                        acknowledged in the writer's mode before the clock
//                        stops. 1 and 2 producers, every durability mode.
//   BM_LogAppendDurable  blocking appenders: each thread calls AppendDurable
//                        per iteration and records its latency. One thread in
//                        batch mode is the synced-append latency; 16 and 64
//                        threads are group commit.
//   BM_LogAppendWait     one producer appends `batch` records then waits for
//                        the last: the acknowledgement granularity of a
//                        RocksDB WriteBatch written with sync=true.
//
// A record is counted only once the call that acknowledges it returned OK;
// any failed Status ends the benchmark with SkipWithError. Counters:
// `records` (a rate), bytes_per_second (payload bytes), `framed_bytes` (a
// rate: the bytes the log writes, headers and padding included), p50/p99
// latencies in µs from per-operation samples, and writer statistics
// (records per commit, producer waits).
//
// Each run opens a writer on a fresh subdirectory of $RAZAR_BENCH_DIR
// (default /tmp/razar-bench) with default options except the durability mode
// (and interval_ms = 100 in interval mode, so that a short run pays its
// periodic syncs), and removes it afterwards.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "storage/log_format.h"
#include "storage/log_writer.h"
#include "storage/status.h"

namespace razar::bench {
namespace {

namespace fs = std::filesystem;
namespace lf = razar::storage::log_format;
using razar::storage::Durability;
using razar::storage::LogWriter;
using razar::storage::LogWriterOptions;
using razar::storage::Lsn;
using Clock = std::chrono::steady_clock;

// Benchmark records use a skippable type: readers that meet them skip them,
// and the writer frames them exactly like any other record.
constexpr uint16_t kBenchRecordType = lf::kFirstSkippableType + 0x42;
constexpr uint32_t kIntervalMs = 100;

// ---- The writer shared by the threads of one run ----------------------------

// Thread 0 creates it before the loop's start barrier (which every thread
// passes before its first iteration), so the other threads see a finished
// object. After their loops, threads deposit their latency samples and
// arrive at `done`; only then does thread 0 report, close and destroy.
struct SharedRun {
  std::string dir;
  std::string error;  // set when setup failed; `writer` is then null
  std::unique_ptr<LogWriter> writer;
  std::unique_ptr<std::barrier<>> done;
  std::mutex mu;
  std::vector<int64_t> latencies_ns;  // guarded by mu
};
SharedRun* g_run = nullptr;

// Right after Open the writer prepares its next spare segment in the
// background (in batch and interval mode 64 MiB of zeros and an fdatasync;
// the spare's name is part of the format spec). That happens once per
// segment in steady state; letting it finish keeps one-off open cost out of
// a short measurement. Waits until a full-size spare exists, then
// flushes the file system so its write-back is done. Bounded: 10 s.
void SettleAfterOpen(const std::string& dir, uint64_t segment_bytes) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    bool ready = false;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("spare-", 0) == 0 && e.file_size(ec) == segment_bytes) ready = true;
    }
    if (ready) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

void SetUpRun(const benchmark::State& state, Durability mode) {
  g_run = new SharedRun();
  g_run->done = std::make_unique<std::barrier<>>(state.threads());
  std::string err;
  g_run->dir = FreshDir("log", &err);
  if (!err.empty()) {
    g_run->error = err;
    return;
  }
  LogWriterOptions options;
  options.dir = g_run->dir + "/log";
  options.durability = mode;
  options.interval_ms = kIntervalMs;
  auto w = LogWriter::Open(options);
  if (!w.ok()) {
    g_run->error = "LogWriter::Open: " + w.status().ToString();
    return;
  }
  g_run->writer = std::move(w).value();
  SettleAfterOpen(options.dir, options.segment_bytes);
}

// Called by every thread after its loop. Thread 0 reports the shared
// figures, then closes the writer (which must return OK: a latched error
// would mean some acknowledged record was not what it claimed) and cleans up.
void TearDownRun(benchmark::State& state, std::vector<int64_t>* latencies) {
  if (latencies != nullptr) {
    std::lock_guard<std::mutex> lock(g_run->mu);
    g_run->latencies_ns.insert(g_run->latencies_ns.end(), latencies->begin(), latencies->end());
  }
  g_run->done->arrive_and_wait();
  if (state.thread_index() != 0) return;
  if (g_run->writer != nullptr) {
    const razar::storage::LogWriterStats st = g_run->writer->stats();
    state.counters["framed_bytes"] =
        benchmark::Counter(static_cast<double>(st.append_bytes), benchmark::Counter::kIsRate);
    state.counters["recs_per_commit"] =
        st.commits == 0 ? 0.0 : static_cast<double>(st.appends) / static_cast<double>(st.commits);
    state.counters["producer_waits"] = static_cast<double>(st.producer_waits);
    state.counters["direct_io"] = st.direct_io ? 1.0 : 0.0;
    if (latencies != nullptr) {
      state.counters["p50_us"] = PercentileUs(g_run->latencies_ns, 0.50);
      state.counters["p99_us"] = PercentileUs(g_run->latencies_ns, 0.99);
      state.counters["samples"] = static_cast<double>(g_run->latencies_ns.size());
    }
    razar::Status s = g_run->writer->Close();
    if (!s.ok() && !state.error_occurred()) {
      state.SkipWithError(("LogWriter::Close: " + s.ToString()).c_str());
    }
    g_run->writer.reset();
  }
  RemoveDir(g_run->dir);
  delete g_run;
  g_run = nullptr;
}

std::vector<uint8_t> MakePayload(size_t n, int thread) {
  std::vector<uint8_t> p(n);
  FillPattern(p.data(), n, n * 131 + static_cast<uint64_t>(thread));
  return p;
}

void SetRecordCounters(benchmark::State& state, int64_t records, size_t payload) {
  state.counters["records"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(records * static_cast<int64_t>(payload));
}

// ---- Benchmarks --------------------------------------------------------------

void BM_LogAppend(benchmark::State& state, Durability mode, size_t payload_bytes) {
  if (state.thread_index() == 0) SetUpRun(state, mode);
  const std::vector<uint8_t> payload = MakePayload(payload_bytes, state.thread_index());
  int64_t records = 0;
  const int64_t last = static_cast<int64_t>(state.max_iterations);
  for (auto _ : state) {
    LogWriter* w = g_run->writer.get();
    if (w == nullptr) {
      state.SkipWithError(g_run->error.c_str());
      break;
    }
    razar::Result<Lsn> lsn = w->Append(kBenchRecordType, payload);
    if (!lsn.ok()) {
      state.SkipWithError(("Append: " + lsn.status().ToString()).c_str());
      break;
    }
    if (++records == last) {
      // Nothing counts until acknowledged: wait for this thread's last
      // record (LSNs are acknowledged in order) before the clock stops.
      razar::Status s = w->WaitDurable(*lsn);
      if (!s.ok()) {
        state.SkipWithError(("WaitDurable: " + s.ToString()).c_str());
        break;
      }
    }
  }
  SetRecordCounters(state, state.error_occurred() ? 0 : records, payload_bytes);
  TearDownRun(state, nullptr);
}

void BM_LogAppendDurable(benchmark::State& state, Durability mode, size_t payload_bytes) {
  if (state.thread_index() == 0) SetUpRun(state, mode);
  const std::vector<uint8_t> payload = MakePayload(payload_bytes, state.thread_index());
  std::vector<int64_t> lat(static_cast<size_t>(state.max_iterations));  // touched here, not timed
  size_t n = 0;
  for (auto _ : state) {
    LogWriter* w = g_run->writer.get();
    if (w == nullptr) {
      state.SkipWithError(g_run->error.c_str());
      break;
    }
    const auto t0 = Clock::now();
    razar::Result<Lsn> lsn = w->AppendDurable(kBenchRecordType, payload);
    if (!lsn.ok()) {
      state.SkipWithError(("AppendDurable: " + lsn.status().ToString()).c_str());
      break;
    }
    lat[n++] = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  }
  lat.resize(n);
  SetRecordCounters(state, static_cast<int64_t>(n), payload_bytes);
  TearDownRun(state, &lat);
}

void BM_LogAppendWait(benchmark::State& state, Durability mode, size_t payload_bytes,
                      int64_t batch) {
  if (state.thread_index() == 0) SetUpRun(state, mode);
  const std::vector<uint8_t> payload = MakePayload(payload_bytes, state.thread_index());
  std::vector<int64_t> lat(static_cast<size_t>(state.max_iterations));
  size_t n = 0;
  int64_t records = 0;
  for (auto _ : state) {
    LogWriter* w = g_run->writer.get();
    if (w == nullptr) {
      state.SkipWithError(g_run->error.c_str());
      break;
    }
    const auto t0 = Clock::now();
    razar::Status s;
    Lsn lsn = 0;
    for (int64_t i = 0; i < batch && s.ok(); ++i) {
      razar::Result<Lsn> r = w->Append(kBenchRecordType, payload);
      if (r.ok()) {
        lsn = *r;
      } else {
        s = r.status();
      }
    }
    if (s.ok()) s = w->WaitDurable(lsn);
    if (!s.ok()) {
      state.SkipWithError(("Append/WaitDurable: " + s.ToString()).c_str());
      break;
    }
    records += batch;
    lat[n++] = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  }
  lat.resize(n);
  SetRecordCounters(state, records, payload_bytes);
  TearDownRun(state, &lat);
}

// ---- Registration --------------------------------------------------------------

std::string Name(const char* family, Durability mode, size_t payload) {
  return std::string(family) + "/mode:" + razar::storage::DurabilityName(mode) +
         "/payload:" + std::to_string(payload);
}

int RegisterAll() {
  constexpr Durability kModes[] = {Durability::kNone, Durability::kBatch, Durability::kInterval};
  constexpr size_t kPayloads[] = {64, 256};
  for (Durability mode : kModes) {
    for (size_t p : kPayloads) {
      benchmark::RegisterBenchmark(Name("BM_LogAppend", mode, p).c_str(), BM_LogAppend, mode, p)
          ->Threads(1)
          ->Threads(2)
          ->UseRealTime();
    }
  }
  // Blocking appenders: batch mode at every concurrency (1 thread is the
  // synced-append latency, 16 and 64 are group commit); none and interval
  // for the cost of the acknowledgement itself.
  for (size_t p : kPayloads) {
    auto* b =
        benchmark::RegisterBenchmark(Name("BM_LogAppendDurable", Durability::kBatch, p).c_str(),
                                     BM_LogAppendDurable, Durability::kBatch, p);
    b->Threads(1)->Threads(16)->Threads(64);
    // How group commit scales past the target's 64 appenders (report.py
    // shows it but does not judge targets on it).
    if (p == 64) b->Threads(256);
    b->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
  for (Durability mode : {Durability::kNone, Durability::kInterval}) {
    benchmark::RegisterBenchmark(Name("BM_LogAppendDurable", mode, 64).c_str(), BM_LogAppendDurable,
                                 mode, size_t{64})
        ->Threads(1)
        ->Threads(16)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  for (size_t p : kPayloads) {
    constexpr int64_t kBatch = 1000;
    benchmark::RegisterBenchmark(
        (Name("BM_LogAppendWait", Durability::kBatch, p) + "/batch:" + std::to_string(kBatch))
            .c_str(),
        BM_LogAppendWait, Durability::kBatch, p, kBatch)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  return 0;
}
const int kRegistered = RegisterAll();

}  // namespace
}  // namespace razar::bench
