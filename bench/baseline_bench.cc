// Baselines for the heartbeat-log benchmarks (bench/log_bench.cc), measured
// in the same run so that docs/benchmarks.md can report same-machine,
// same-moment ratios (DESIGN.md, "What fast means"):
//
//   BM_DiskSeqWrite      fio-class sequential bandwidth: 1 MiB O_DIRECT writes
//                        to a preallocated file (fallocate'd, or also written
//                        once), a final fdatasync per pass.
//   BM_DiskFdatasync     latency of making 4 KiB durable: overwrite one block of
//                        a pre-written file + fdatasync (and, for contrast,
//                        append a block to a growing file + fdatasync).
//   BM_WriteLoop         a plain write(2) loop writing the log's framed record
//                        bytes: no sync, fdatasync per record, per 1000.
//   BM_RocksDbPut        RocksDB Put with its WAL, 16-byte key, the payload as
//                        value: sync=false, sync=true (1 and N threads).
//   BM_RocksDbWriteBatch a WriteBatch of 1000 Puts written with sync=true.
//
// Every benchmark works in a fresh subdirectory of $RAZAR_BENCH_DIR (default
// /tmp/razar-bench) that is removed afterwards. Buffers are allocated and
// touched before the timed loop: fresh memory is slow to fault in on the VM
// this runs on, and we measure the disk, not the page allocator. A counter
// named `records` (a rate) is what report.py compares; latencies are
// percentiles of per-operation samples, never means.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <liburing.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "storage/log_format.h"

namespace razar::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kPageBytes = 4096;
// Size of the pre-written files the write loops cycle through: one log segment.
constexpr uint64_t kCycleFileBytes = razar::storage::log_format::kDefaultSegmentBytes;

// ---- Small helpers (shared ones are in bench_util.h) ----

// Page-aligned, pre-faulted memory.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t n, uint8_t fill = 0) : size(n) {
    void* p = nullptr;
    if (::posix_memalign(&p, kPageBytes, n) != 0) std::abort();
    data = static_cast<uint8_t*>(p);
    std::memset(data, fill, n);
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* data = nullptr;
  size_t size = 0;
};

std::string ErrnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Writes `bytes` of zeros to `fd` from offset 0 and fdatasyncs, so that later
// writes overwrite allocated, written blocks (what fio lays out before a run
// and what the log writer does to its segments).
bool PrewriteZeros(int fd, uint64_t bytes, std::string* err) {
  AlignedBuffer zeros(kMiB);
  for (uint64_t off = 0; off < bytes; off += kMiB) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kMiB, bytes - off));
    if (::pwrite(fd, zeros.data, n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
      *err = ErrnoText("prewrite");
      return false;
    }
  }
  if (::fdatasync(fd) != 0) {
    *err = ErrnoText("prewrite fdatasync");
    return false;
  }
  return true;
}

void ReportLatency(benchmark::State& state, std::vector<int64_t>& ns) {
  state.counters["p50_us"] = PercentileUs(ns, 0.50);
  state.counters["p99_us"] = PercentileUs(ns, 0.99);
  state.counters["samples"] = static_cast<double>(ns.size());
}

int64_t ElapsedNs(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

// ---- (a) Sequential write bandwidth ----------------------------------------

constexpr uint64_t kSeqFileBytes = 256 * kMiB;

// 1 MiB write buffers, registered with a ring when more than one is in flight.
struct SeqWriter {
  unsigned qd = 1;
  std::vector<std::unique_ptr<AlignedBuffer>> bufs;
  io_uring ring{};
  bool use_ring = false;

  ~SeqWriter() {
    if (use_ring) io_uring_queue_exit(&ring);
  }

  bool Init(unsigned depth, std::string* err) {
    qd = depth;
    for (unsigned i = 0; i < qd; ++i) {
      bufs.push_back(std::make_unique<AlignedBuffer>(kMiB));
      FillPattern(bufs.back()->data, kMiB, i);
    }
    if (qd == 1) return true;
    int rc = io_uring_queue_init(qd * 2, &ring, 0);
    if (rc < 0) return Fail(err, "io_uring_queue_init", -rc);
    use_ring = true;
    std::vector<iovec> iovs;
    for (auto& b : bufs) iovs.push_back({b->data, b->size});
    rc = io_uring_register_buffers(&ring, iovs.data(), static_cast<unsigned>(iovs.size()));
    return rc < 0 ? Fail(err, "io_uring_register_buffers", -rc) : true;
  }

  // Writes [0, bytes) of fd in 1 MiB pieces, then fdatasyncs.
  bool Pass(int fd, uint64_t bytes, std::string* err) {
    const uint64_t chunks = bytes / kMiB;
    if (!use_ring) {
      for (uint64_t c = 0; c < chunks; ++c) {
        if (::pwrite(fd, bufs[0]->data, kMiB, static_cast<off_t>(c * kMiB)) !=
            static_cast<ssize_t>(kMiB)) {
          return Fail(err, "pwrite", errno);
        }
      }
    } else {
      uint64_t next = 0, done = 0;
      unsigned inflight = 0;
      while (done < chunks) {
        for (; inflight < qd && next < chunks; ++next, ++inflight) {
          io_uring_sqe* sqe = io_uring_get_sqe(&ring);
          const int slot = static_cast<int>(next % qd);
          io_uring_prep_write_fixed(sqe, fd, bufs[slot]->data, kMiB, next * kMiB, slot);
        }
        int rc = io_uring_submit_and_wait(&ring, 1);
        if (rc < 0) return Fail(err, "io_uring_submit_and_wait", -rc);
        io_uring_cqe* cqe = nullptr;
        while (io_uring_peek_cqe(&ring, &cqe) == 0) {
          const int res = cqe->res;
          io_uring_cqe_seen(&ring, cqe);
          // A 1 MiB O_DIRECT write to an allocated file is never short here;
          // treat a short one as an error rather than resubmit.
          if (res != static_cast<int>(kMiB))
            return Fail(err, "io_uring write", res < 0 ? -res : EIO);
          --inflight;
          ++done;
        }
      }
    }
    return ::fdatasync(fd) == 0 || Fail(err, "fdatasync", errno);
  }

  static bool Fail(std::string* err, const char* what, int e) {
    *err = std::string(what) + ": " + std::strerror(e);
    return false;
  }
};

// A fresh seq-file for one pass: the previous one is removed, the file system
// synced (so the freed blocks' discards are not charged to the pass), and the
// new one fallocate'd (unwritten extents, as fio leaves a file it creates for
// a write job) or fallocate'd and written once with zeros (as fio does with
// overwrite=1, and as the log writer does to its segments in batch/interval
// mode). Returns an O_DIRECT descriptor, or -1 with *err set.
int FreshSeqFile(const ScratchDir& dir, bool prewritten, int old_fd, std::string* err) {
  const std::string path = dir.File("seq.dat");
  if (old_fd >= 0) ::close(old_fd);
  ::unlink(path.c_str());
  int dfd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::syncfs(dfd);
    ::close(dfd);
  }
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) {
    SeqWriter::Fail(err, "open", errno);
    return -1;
  }
  bool ok = ::fallocate(fd, 0, 0, kSeqFileBytes) == 0 || SeqWriter::Fail(err, "fallocate", errno);
  ok = ok && (prewritten ? PrewriteZeros(fd, kSeqFileBytes, err)
                         : (::fdatasync(fd) == 0 || SeqWriter::Fail(err, "fdatasync", errno)));
  ::close(fd);
  if (!ok) return -1;
  fd = ::open(path.c_str(), O_RDWR | O_DIRECT);
  if (fd < 0) SeqWriter::Fail(err, "open O_DIRECT", errno);
  return fd;
}

// range(0): writes in flight (1: plain pwrite loop; more: io_uring).
// range(1): 1 = overwrite a pre-written file, 0 = write a fallocate'd one.
// One iteration = one 256 MiB pass + fdatasync on a freshly laid-out file.
void BM_DiskSeqWrite(benchmark::State& state) {
  const bool prewritten = state.range(1) == 1;
  ScratchDir dir("disk-seq");
  if (!dir.error().empty()) return state.SkipWithError(dir.error().c_str());
  SeqWriter writer;
  std::string err;
  if (!writer.Init(static_cast<unsigned>(state.range(0)), &err)) {
    return state.SkipWithError(err.c_str());
  }
  int fd = -1;
  for (auto _ : state) {
    state.PauseTiming();
    fd = FreshSeqFile(dir, prewritten, fd, &err);
    state.ResumeTiming();
    if (fd < 0 || !writer.Pass(fd, kSeqFileBytes, &err)) {
      state.SkipWithError(err.c_str());
      break;
    }
  }
  if (fd >= 0) ::close(fd);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSeqFileBytes));
}
BENCHMARK(BM_DiskSeqWrite)
    ->ArgNames({"qd", "prewritten"})
    ->ArgsProduct({{1, 4}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---- (b) fdatasync latency ---------------------------------------------------

// Overwrite a 4 KiB block of a pre-written file, fdatasync; blocks advance
// through the file like an append log's tail does. The p50/p99 of
// (pwrite + fdatasync) are the disk's durable-write latency.
void BM_DiskFdatasync(benchmark::State& state) {
  const bool overwrite = state.range(0) == 1;
  ScratchDir dir("disk-sync");
  if (!dir.error().empty()) return state.SkipWithError(dir.error().c_str());
  int fd = ::open(dir.File("sync.dat").c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) return state.SkipWithError(ErrnoText("open").c_str());
  std::string err;
  if (overwrite && !PrewriteZeros(fd, kCycleFileBytes, &err)) {
    ::close(fd);
    return state.SkipWithError(err.c_str());
  }
  AlignedBuffer block(kPageBytes);
  FillPattern(block.data, block.size, 7);
  std::vector<int64_t> lat(static_cast<size_t>(state.max_iterations));
  const uint64_t blocks = kCycleFileBytes / kPageBytes;
  uint64_t i = 0;
  for (auto _ : state) {
    uint64_t off = (overwrite ? i % blocks : i) * kPageBytes;
    auto t0 = Clock::now();
    if (::pwrite(fd, block.data, kPageBytes, static_cast<off_t>(off)) !=
            static_cast<ssize_t>(kPageBytes) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError(ErrnoText("pwrite/fdatasync").c_str());
      break;
    }
    lat[i++] = ElapsedNs(t0);
  }
  ::close(fd);
  lat.resize(i);
  ReportLatency(state, lat);
}
BENCHMARK(BM_DiskFdatasync)
    ->ArgName("overwrite")
    ->Arg(1)
    ->Arg(0)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---- (c) plain write(2) loop -------------------------------------------------

enum SyncEvery : int64_t { kNoSync = 0, kPerRecord = 1, kPer1000 = 1000 };

// write(2) of one framed record (the bytes the log writes for this payload)
// at a time into a pre-written segment-sized file, wrapping at its end.
// range(0): payload bytes; range(1): records per fdatasync (0 = never).
// An iteration is one record, or for kPer1000 one batch of 1000 + its sync.
void BM_WriteLoop(benchmark::State& state) {
  const uint32_t payload = static_cast<uint32_t>(state.range(0));
  const int64_t sync_every = state.range(1);
  const uint64_t rec_bytes = razar::storage::log_format::RecordFootprint(payload);
  ScratchDir dir("write-loop");
  if (!dir.error().empty()) return state.SkipWithError(dir.error().c_str());
  int fd = ::open(dir.File("loop.dat").c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) return state.SkipWithError(ErrnoText("open").c_str());
  std::string err;
  if (!PrewriteZeros(fd, kCycleFileBytes, &err)) {
    ::close(fd);
    return state.SkipWithError(err.c_str());
  }
  AlignedBuffer rec(rec_bytes);
  FillPattern(rec.data, rec.size, payload);
  const uint64_t per_iter = sync_every == kPer1000 ? 1000 : 1;
  const uint64_t wrap = kCycleFileBytes / rec_bytes * rec_bytes;
  std::vector<int64_t> lat;
  if (sync_every == kPerRecord) lat.resize(static_cast<size_t>(state.max_iterations));
  uint64_t off = 0;
  size_t n_lat = 0;
  bool ok = true;
  for (auto _ : state) {
    auto t0 = Clock::now();
    for (uint64_t r = 0; r < per_iter && ok; ++r) {
      if (off == 0 && ::lseek(fd, 0, SEEK_SET) != 0) ok = false;
      ok = ok && ::write(fd, rec.data, rec_bytes) == static_cast<ssize_t>(rec_bytes);
      off = (off + rec_bytes) % wrap;
    }
    if (ok && sync_every != kNoSync) ok = ::fdatasync(fd) == 0;
    if (!ok) {
      state.SkipWithError(ErrnoText("write/fdatasync").c_str());
      break;
    }
    if (sync_every == kPerRecord) lat[n_lat++] = ElapsedNs(t0);
  }
  ::close(fd);
  const int64_t records = state.iterations() * static_cast<int64_t>(per_iter);
  state.counters["records"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(records * payload);
  if (sync_every == kPerRecord) {
    lat.resize(n_lat);
    ReportLatency(state, lat);
  }
}
BENCHMARK(BM_WriteLoop)
    ->ArgNames({"payload", "sync_every"})
    ->ArgsProduct({{64, 256}, {kNoSync, kPerRecord, kPer1000}})
    ->UseRealTime();

// ---- (d) RocksDB Put with WAL -----------------------------------------------

// One DB shared by the threads of a run: opened by thread 0 before the start
// barrier, closed by thread 0 after `done` (every thread has left its loop
// and deposited its samples).
struct RocksShared {
  std::unique_ptr<ScratchDir> dir;
  std::unique_ptr<rocksdb::DB> db;
  std::string error;
  std::unique_ptr<std::barrier<>> done;
  std::mutex mu;
  std::vector<int64_t> lat;  // guarded by mu
};
RocksShared* g_rocks = nullptr;

void OpenRocks(int threads) {
  g_rocks = new RocksShared();
  g_rocks->done = std::make_unique<std::barrier<>>(threads);
  g_rocks->dir = std::make_unique<ScratchDir>("rocksdb");
  if (!g_rocks->dir->error().empty()) {
    g_rocks->error = g_rocks->dir->error();
    return;
  }
  rocksdb::Options options;  // defaults, as a user would start; WAL on
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, g_rocks->dir->path(), &db);
  if (!s.ok()) {
    g_rocks->error = "rocksdb open: " + s.ToString();
    return;
  }
  g_rocks->db.reset(db);
}

void CloseRocks() {
  if (g_rocks->db) {
    g_rocks->db->Close().PermitUncheckedError();  // benchmark data: the close result is moot
  }
  delete g_rocks;
  g_rocks = nullptr;
}

// 16-byte key: big-endian sequence (so keys arrive in order, the WAL-friendly
// case) followed by the thread index.
inline void MakeKey(char* key, uint64_t seq, uint64_t thread) {
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(seq >> (56 - 8 * i));
  std::memcpy(key + 8, &thread, 8);
}

// range(0): payload bytes; range(1): sync (0/1). Latency samples per Put.
void BM_RocksDbPut(benchmark::State& state) {
  const size_t payload = static_cast<size_t>(state.range(0));
  const bool sync = state.range(1) != 0;
  if (state.thread_index() == 0) OpenRocks(state.threads());
  std::string value(payload, '\0');
  FillPattern(reinterpret_cast<uint8_t*>(value.data()), payload, payload);
  char key[16];
  // Latency samples only for synced Puts: two clock reads would be a visible
  // share of an unsynced Put and would flatter the ratios against it.
  std::vector<int64_t> lat(sync ? static_cast<size_t>(state.max_iterations) : 0);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  uint64_t seq = 0;
  size_t n = 0;
  for (auto _ : state) {
    if (!g_rocks->db) {
      state.SkipWithError(g_rocks->error.c_str());
      break;
    }
    MakeKey(key, seq++, static_cast<uint64_t>(state.thread_index()));
    Clock::time_point t0;
    if (sync) t0 = Clock::now();
    rocksdb::Status s = g_rocks->db->Put(wo, rocksdb::Slice(key, 16), value);
    if (!s.ok()) {
      state.SkipWithError(("rocksdb put: " + s.ToString()).c_str());
      break;
    }
    if (sync) lat[n] = ElapsedNs(t0);
    ++n;
  }
  state.counters["records"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(n * payload));
  {
    std::lock_guard<std::mutex> lock(g_rocks->mu);
    if (sync) {
      g_rocks->lat.insert(g_rocks->lat.end(), lat.begin(), lat.begin() + static_cast<ptrdiff_t>(n));
    }
  }
  g_rocks->done->arrive_and_wait();
  if (state.thread_index() == 0) {
    if (sync) ReportLatency(state, g_rocks->lat);
    CloseRocks();
  }
}
BENCHMARK(BM_RocksDbPut)
    ->ArgNames({"payload", "sync"})
    ->ArgsProduct({{64, 256}, {0, 1}})
    ->UseRealTime();
BENCHMARK(BM_RocksDbPut)
    ->ArgNames({"payload", "sync"})
    ->ArgsProduct({{64, 256}, {1}})
    ->Threads(16)
    ->Threads(64)
    ->UseRealTime();

// range(0): payload bytes, range(1): Puts per batch. One iteration = one
// WriteBatch, built
// in the timed loop (as the log frames its records in the timed loop),
// written with sync=true.
void BM_RocksDbWriteBatch(benchmark::State& state) {
  const size_t payload = static_cast<size_t>(state.range(0));
  const int64_t batch_records = state.range(1);
  OpenRocks(1);
  std::string value(payload, '\0');
  FillPattern(reinterpret_cast<uint8_t*>(value.data()), payload, payload);
  char key[16];
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::WriteBatch batch;
  uint64_t seq = 0;
  int64_t records = 0;
  for (auto _ : state) {
    if (!g_rocks->db) {
      state.SkipWithError(g_rocks->error.c_str());
      break;
    }
    batch.Clear();
    rocksdb::Status s;
    for (int64_t i = 0; i < batch_records && s.ok(); ++i) {
      MakeKey(key, seq++, 0);
      s = batch.Put(rocksdb::Slice(key, 16), value);
    }
    if (s.ok()) s = g_rocks->db->Write(wo, &batch);
    if (!s.ok()) {
      state.SkipWithError(("rocksdb write: " + s.ToString()).c_str());
      break;
    }
    records += batch_records;
  }
  state.counters["records"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(records * static_cast<int64_t>(payload));
  CloseRocks();
}
BENCHMARK(BM_RocksDbWriteBatch)
    ->ArgNames({"payload", "batch"})
    ->ArgsProduct({{64, 256}, {1000}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace razar::bench
