// Benchmarks of the memory spine's snapshots (storage/spine.h,
// storage/snapshot_store.h, docs/formats/spine.md), with their RocksDB
// baselines measured in the same run (DESIGN.md, "What fast means").
// bench/report.py computes the ratios; this file only names and counts.
//
//   BM_SnapshotWrite/<method>   Spine::Snapshot of one layer holding every
//                               session, per SnapshotWriteMethod (sst_ingest,
//                               write_batch). One iteration = one complete
//                               snapshot: freeze + serialize every shard,
//                               write (SST + ingest, or WriteBatches +
//                               FlushWAL(sync)), log sync, manifest Put
//                               (sync), retention. Iterations accumulate in
//                               one store, so a method's deferred work (the
//                               memtable flushes the WriteBatch method leaves
//                               behind) is paid by the next iteration.
//   BM_SnapshotLoad/<cache>     SnapshotStore::Load of a published snapshot
//                               (written by the same Builder Spine::Snapshot
//                               uses, SST ingest) from a store reopened
//                               read-only. `warm`: the files are in the page
//                               cache; `cold`: before each iteration the
//                               store is reopened and its files dropped from
//                               the page cache (posix_fadvise DONTNEED; the
//                               `cached_MB` counter shows what was left).
//   BM_BaselineRocksDbPutSessions        the same sessions through plain
//                               RocksDB (default options, WAL on): one Put
//                               per session with sync=false, 16-byte key
//                               (big-endian session id, iteration), the same
//                               200-byte state as value, in population (not
//                               key) order; then one SyncWAL, so that, like a
//                               snapshot, an iteration ends durable
//                               (`sync_ms` is that last sync alone).
//   BM_BaselineRocksDbWriteBatchSessions the same, in WriteBatches of 1000.
//   BM_SnapshotAppendPause/<method>     2 appender threads, paced (one call
//                               due every kAppendIntervalUs each), alternate
//                               UpdateSession and Beat on the snapshotted
//                               layer while the main thread runs one
//                               Spine::Snapshot of it; before that, the same
//                               appenders run kIdleSeconds without a
//                               snapshot. Per-call latencies go into
//                               pre-sized vectors. Paced, not closed-loop: on
//                               2 cores, two spinning appenders plus the
//                               snapshot thread would measure the scheduler,
//                               not the freeze. The log's durability is none,
//                               so a call costs microseconds and a freeze
//                               stands out.
//
// Sessions: `sessions` (the Arg; 100k for a quick run with
// --benchmark_filter='sessions:100000/', 1M for the figure) sessions with
// distinct pseudo-random 64-bit ids and kStateBytes of incompressible state
// each, all in one layer. Populating a Spine (OpenSession, durability none,
// no scheduled snapshots) happens before the timed loop (`populate_s`), as
// does a log sync, so that the first snapshot does not pay for populating.
//
// Counters: `sessions_per_s` (a rate over real time, counted from what each
// call reported, never assumed); `MB_per_s`: session state bytes (10^6 B/s,
// the same numerator for snapshot and baseline, so that their ratio is the
// sessions ratio); `written_MB_per_s` / `read_MB_per_s`: key + value bytes
// the benchmark hands to / reads from RocksDB (snapshot values are sealed
// FlatBuffers, larger than the state); `max_freeze_us`: the longest
// single-shard freeze SnapshotReport saw (a maximum: on a shared VM one
// preemption inside a freeze sets it); `store_MB`: disk bytes of the store
// after the run; `populate_s`: untimed setup. Latencies are nearest-rank
// percentiles of per-call samples, never means: `p50_us`, `p99_us`,
// `p999_us`, `max_us` during the snapshot, `idle_*` without one, with the
// achieved `appends_per_s`. Every Status is checked; a failure ends the
// benchmark with SkipWithError.
//
// Each run works in a fresh subdirectory of $RAZAR_BENCH_DIR (default
// /tmp/razar-bench), removed afterwards. One pass over the file takes about
// 2 minutes on 2 cores (most of it populating 1M-session spines), 25 s with
// only the 100k sizes.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "storage/snapshot_store.h"
#include "storage/spine.h"
#include "storage/state.h"
#include "storage/status.h"

namespace razar::bench {
namespace {

namespace fs = std::filesystem;
using razar::storage::Layer;
using razar::storage::LayerState;
using razar::storage::Lsn;
using razar::storage::SnapshotManifest;
using razar::storage::SnapshotReport;
using razar::storage::SnapshotStore;
using razar::storage::SnapshotStoreOptions;
using razar::storage::SnapshotWriteMethod;
using razar::storage::Spine;
using razar::storage::SpineOptions;
using Clock = std::chrono::steady_clock;

constexpr size_t kStateBytes = 200;
constexpr Layer kLayer = Layer::heart;
constexpr uint32_t kComponentId = 7;
constexpr const char* kComponent = "bench-session";  // fits the SSO: no allocation per session
// Snapshot keys are 19 bytes (docs/formats/spine.md, "Keys of a layer column family").
constexpr uint64_t kSnapshotKeyBytes = 19;
constexpr uint64_t kBaselineKeyBytes = 16;
constexpr int64_t kBaselineBatch = 1000;
constexpr double kMB = 1e6;

// Appender-pause parameters.
constexpr int kAppenders = 2;
constexpr int64_t kAppendIntervalUs = 100;
constexpr double kWarmupSeconds = 0.2;
constexpr double kIdleSeconds = 2.0;
// Sample vectors hold this long a phase at the pace (a longer phase fails
// loudly rather than drop samples).
constexpr double kMaxPhaseSeconds = 60.0;

// ---- Small helpers (shared ones are in bench_util.h) -------------------

// Distinct (a bijection of i), pseudo-random session ids.
uint64_t SessionId(uint64_t i) {
  uint64_t z = (i + 1) * 0xD1B54A32D192ED03ull;
  z = (z ^ (z >> 29)) * 0xBF58476D1CE4E5B9ull;
  return z ^ (z >> 32);
}

// Every session's state is a kStateBytes window of one random pool, chosen
// by its id: distinct per session, and nothing to generate per call.
class StatePool {
 public:
  StatePool() : bytes_(kBytes) { FillPattern(bytes_.data(), bytes_.size(), 42); }
  std::span<const uint8_t> For(uint64_t id) const {
    return {bytes_.data() + id % (kBytes - kStateBytes + 1), kStateBytes};
  }

 private:
  static constexpr size_t kBytes = size_t{1} << 20;
  std::vector<uint8_t> bytes_;
};
const StatePool& Pool() {
  static const StatePool pool;
  return pool;
}

double MaxUs(const std::vector<int64_t>& ns) {
  return ns.empty() ? 0.0 : static_cast<double>(*std::max_element(ns.begin(), ns.end())) / 1000.0;
}

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

benchmark::Counter Rate(double v) { return benchmark::Counter(v, benchmark::Counter::kIsRate); }

// sessions_per_s and MB_per_s (state bytes) over the timed real time.
void SetSessionCounters(benchmark::State& state, uint64_t sessions) {
  state.counters["sessions_per_s"] = Rate(static_cast<double>(sessions));
  state.counters["MB_per_s"] = Rate(static_cast<double>(sessions * kStateBytes) / kMB);
}

// Bytes of the files under `dir` (SSTs, WAL, manifest files).
uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

const char* MethodTag(SnapshotWriteMethod m) {
  return m == SnapshotWriteMethod::kSstIngest ? "sst_ingest" : "write_batch";
}

// ---- A populated Spine ------------------------------------------------------

// Opens a Spine in `dir` (durability none: the log is not what is measured
// here; no scheduled snapshots) and opens `sessions` sessions in kLayer.
// Syncs the log and the file system afterwards, so that the timed region
// does not pay for the population. *populate_s: how long that took.
Result<std::unique_ptr<Spine>> OpenPopulated(const std::string& dir, SnapshotWriteMethod method,
                                             uint64_t sessions, double* populate_s) {
  const auto t0 = Clock::now();
  SpineOptions options;
  options.dir = dir;
  options.log.durability = razar::storage::Durability::kNone;
  options.snapshot_method = method;
  options.snapshot_interval_s = 0;
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<Spine> spine, Spine::Open(options));
  for (uint64_t i = 0; i < sessions; ++i) {
    const uint64_t id = SessionId(i);
    RAZAR_ASSIGN_OR_RETURN(
        Lsn lsn, spine->OpenSession(id, kLayer, kComponentId, kComponent, Pool().For(id)));
    (void)lsn;  // durability none: acknowledged on return
  }
  RAZAR_RETURN_IF_ERROR(spine->log()->Sync());
  SyncFs(dir);
  *populate_s = SecondsSince(t0);
  return spine;
}

// Reports a Close failure unless an error was already reported.
void CloseSpine(benchmark::State& state, std::unique_ptr<Spine>& spine) {
  if (spine == nullptr) return;
  razar::Status s = spine->Close();
  if (!s.ok() && !state.error_occurred()) {
    state.SkipWithError(("Spine::Close: " + s.ToString()).c_str());
  }
  spine.reset();
}

// ---- BM_SnapshotWrite --------------------------------------------------------

void BM_SnapshotWrite(benchmark::State& state, SnapshotWriteMethod method) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  ScratchDir dir("snap-write");
  if (!dir.error().empty()) return state.SkipWithError(dir.error().c_str());
  double populate_s = 0;
  Result<std::unique_ptr<Spine>> opened = OpenPopulated(dir.File("spine"), method, n, &populate_s);
  if (!opened.ok()) {
    return state.SkipWithError(("populate: " + opened.status().ToString()).c_str());
  }
  std::unique_ptr<Spine> spine = std::move(opened).value();
  uint64_t sessions = 0, written_bytes = 0, max_freeze_ns = 0;
  for (auto _ : state) {
    Result<SnapshotReport> r = spine->Snapshot(kLayer);
    if (!r.ok()) {
      state.SkipWithError(("Spine::Snapshot: " + r.status().ToString()).c_str());
      break;
    }
    if (r->sessions != n) {
      state.SkipWithError(
          ("snapshot holds " + std::to_string(r->sessions) + " sessions, not " + std::to_string(n))
              .c_str());
      break;
    }
    sessions += r->sessions;
    // Entries: the sessions, the events and the layer meta (no components here).
    written_bytes += r->value_bytes + kSnapshotKeyBytes * (r->sessions + r->events + 1);
    max_freeze_ns = std::max(max_freeze_ns, r->max_freeze_ns);
  }
  SetSessionCounters(state, sessions);
  state.counters["written_MB_per_s"] = Rate(static_cast<double>(written_bytes) / kMB);
  state.counters["max_freeze_us"] = static_cast<double>(max_freeze_ns) / 1000.0;
  state.counters["populate_s"] = populate_s;
  state.counters["store_MB"] = static_cast<double>(DirBytes(dir.File("spine/snapshots"))) / kMB;
  CloseSpine(state, spine);
}

// ---- BM_SnapshotLoad ----------------------------------------------------------

// Writes and publishes one snapshot of `n` sessions of kLayer into a new
// store at `path`, through the Builder Spine::Snapshot uses (entries in
// shard order, sessions by id within a shard).
razar::Status WriteLoadSnapshot(const std::string& path, uint64_t n) {
  SnapshotStoreOptions so;
  so.path = path;
  so.method = SnapshotWriteMethod::kSstIngest;
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotStore> store, SnapshotStore::Open(so));
  std::vector<std::pair<uint32_t, uint64_t>> order(n);  // (shard, id)
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t id = SessionId(i);
    order[i] = {razar::storage::ShardOfSession(id), id};
  }
  std::sort(order.begin(), order.end());
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotStore::Builder> b, store->Begin(kLayer));
  razar::storage::Session s;
  s.layer = kLayer;
  s.component_id = kComponentId;
  s.component = kComponent;
  size_t next = 0;
  for (uint32_t shard = 0; shard < razar::storage::kShardCount; ++shard) {
    for (; next < order.size() && order[next].first == shard; ++next) {
      s.session_id = order[next].second;
      const auto st = Pool().For(s.session_id);
      s.state.assign(st.begin(), st.end());
      s.opened_lsn = s.updated_lsn = next + 1;
      s.opened_unix_ns = s.updated_unix_ns = 1'700'000'000'000'000'000 + static_cast<int64_t>(next);
      RAZAR_RETURN_IF_ERROR(b->AddSession(shard, s));
    }
    b->SetShardLsn(shard, n);
  }
  RAZAR_RETURN_IF_ERROR(b->SetMeta(razar::storage::LayerMeta{}));
  b->SetShardLsn(razar::storage::kLayerShard, n);
  RAZAR_ASSIGN_OR_RETURN(SnapshotManifest m, b->Finish());
  m.created_unix_ns = 1'700'000'000'000'000'000;
  return store->Publish(m);
}

// Opens the store read-only and finds the newest snapshot of kLayer.
razar::Status OpenForLoad(const std::string& path, std::unique_ptr<SnapshotStore>* store,
                          SnapshotManifest* m) {
  store->reset();  // close the previous instance first
  SnapshotStoreOptions so;
  so.path = path;
  so.read_only = true;
  RAZAR_ASSIGN_OR_RETURN(*store, SnapshotStore::Open(so));
  RAZAR_ASSIGN_OR_RETURN(std::vector<SnapshotManifest> list, (*store)->List(kLayer));
  if (list.empty()) return razar::Status::NotFound("no published snapshot");
  *m = list.front();
  return razar::Status::Ok();
}

// Drops every file under `dir` from the page cache (clean pages only: the
// file system is synced first). Fails only if a file cannot be opened.
razar::Status DropPageCache(const std::string& dir) {
  SyncFs(dir);
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) return razar::Status::FromErrno("open " + e.path().string(), errno);
    const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
    if (rc != 0) return razar::Status::FromErrno("posix_fadvise " + e.path().string(), rc);
  }
  if (ec) return razar::Status::IoError("list " + dir + ": " + ec.message());
  return razar::Status::Ok();
}

// Bytes of the files under `dir` that are in the page cache (mincore).
uint64_t CachedBytes(const std::string& dir) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  uint64_t cached = 0;
  std::error_code ec;
  std::vector<unsigned char> vec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const size_t size = static_cast<size_t>(e.file_size(ec));
    if (ec || size == 0) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) continue;
    vec.assign((size + page - 1) / page, 0);
    if (::mincore(p, size, vec.data()) == 0) {
      for (unsigned char v : vec) cached += (v & 1) ? page : 0;
    }
    ::munmap(p, size);
  }
  return cached;
}

void BM_SnapshotLoad(benchmark::State& state, bool cold) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  ScratchDir dir("snap-load");
  if (!dir.error().empty()) return state.SkipWithError(dir.error().c_str());
  const std::string path = dir.File("snapshots");
  razar::Status s = WriteLoadSnapshot(path, n);
  if (!s.ok()) return state.SkipWithError(("write snapshot: " + s.ToString()).c_str());
  SyncFs(path);
  std::unique_ptr<SnapshotStore> store;
  SnapshotManifest m;
  s = OpenForLoad(path, &store, &m);
  if (!s.ok()) return state.SkipWithError(("open store: " + s.ToString()).c_str());
  uint64_t sessions = 0, read_bytes = 0, cached = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (cold) {
      s = OpenForLoad(path, &store, &m);
      if (s.ok()) s = DropPageCache(path);
      if (!s.ok()) {
        state.SkipWithError(("reopen / drop cache: " + s.ToString()).c_str());
        break;
      }
    }
    cached = std::max(cached, CachedBytes(path));
    auto out = std::make_unique<LayerState>();
    state.ResumeTiming();
    s = store->Load(m, out.get());
    state.PauseTiming();
    if (!s.ok()) {
      state.SkipWithError(("SnapshotStore::Load: " + s.ToString()).c_str());
      break;
    }
    uint64_t loaded = 0;
    for (const auto& sh : out->shards) loaded += sh.sessions.size();
    if (loaded != n) {
      state.SkipWithError(
          ("loaded " + std::to_string(loaded) + " sessions, not " + std::to_string(n)).c_str());
      break;
    }
    sessions += loaded;
    read_bytes += m.value_bytes + kSnapshotKeyBytes * (m.sessions + m.events + m.components + 1);
    out.reset();  // freeing 1M sessions is not the load's cost
    state.ResumeTiming();
  }
  SetSessionCounters(state, sessions);
  state.counters["read_MB_per_s"] = Rate(static_cast<double>(read_bytes) / kMB);
  state.counters["cached_MB"] = static_cast<double>(cached) / kMB;  // before a load, the most seen
  state.counters["snapshot_MB"] = static_cast<double>(m.value_bytes) / kMB;
}

// ---- Baselines: the same sessions through plain RocksDB ------------------------

void PutBE64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (56 - 8 * i));
}

// range(0): sessions. batch == 1: one Put per session; else WriteBatches of
// `batch`. Every iteration writes new keys (the iteration is part of the
// key) into one DB, as successive snapshots do with their ids, then SyncWAL.
void BM_BaselineRocksDb(benchmark::State& state, int64_t batch) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  ScratchDir dir("snap-baseline");
  if (!dir.error().empty()) return state.SkipWithError(dir.error().c_str());
  rocksdb::Options options;  // defaults, as a user would start; WAL on
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status rs = rocksdb::DB::Open(options, dir.File("db"), &raw);
  if (!rs.ok()) return state.SkipWithError(("rocksdb open: " + rs.ToString()).c_str());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = false;
  rocksdb::WriteBatch wb;
  char key[kBaselineKeyBytes];
  uint64_t sessions = 0, iteration = 0;
  int64_t sync_ns = 0;
  for (auto _ : state) {
    PutBE64(key + 8, iteration++);
    for (uint64_t i = 0; i < n && rs.ok(); ++i) {
      const uint64_t id = SessionId(i);
      PutBE64(key, id);
      const auto v = Pool().For(id);
      const rocksdb::Slice k(key, kBaselineKeyBytes);
      const rocksdb::Slice value(reinterpret_cast<const char*>(v.data()), v.size());
      if (batch == 1) {
        rs = db->Put(wo, k, value);
        continue;
      }
      rs = wb.Put(k, value);
      if (rs.ok() && (static_cast<int64_t>(wb.Count()) == batch || i + 1 == n)) {
        rs = db->Write(wo, &wb);
        wb.Clear();
      }
    }
    const auto t0 = Clock::now();
    if (rs.ok()) rs = db->SyncWAL();
    sync_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    if (!rs.ok()) {
      state.SkipWithError(("rocksdb write: " + rs.ToString()).c_str());
      break;
    }
    sessions += n;
  }
  SetSessionCounters(state, sessions);
  state.counters["written_MB_per_s"] =
      Rate(static_cast<double>(sessions * (kBaselineKeyBytes + kStateBytes)) / kMB);
  state.counters["sync_ms"] =
      iteration == 0 ? 0.0 : static_cast<double>(sync_ns) / 1e6 / static_cast<double>(iteration);
  rs = db->Close();
  if (!rs.ok() && !state.error_occurred()) {
    state.SkipWithError(("rocksdb close: " + rs.ToString()).c_str());
  }
}

// ---- BM_SnapshotAppendPause -----------------------------------------------------

enum Phase : int { kWarmup = 0, kIdle = 1, kDuringSnapshot = 2, kStop = 3 };

// One appender's per-call latencies: [0] without a snapshot, [1] during it.
struct Appender {
  explicit Appender(size_t capacity) {
    for (auto& v : call) v.assign(capacity, 0);  // pre-faulted, outside every timed region
  }
  std::vector<int64_t> call[2];
  size_t count[2] = {0, 0};
  std::string error;  // set by the appender thread, read after join
};

// Paced loop: one call due every kAppendIntervalUs (a late appender catches
// up back to back: the schedule never slips). Calls alternate UpdateSession
// of a random open session and Beat, both in kLayer, so both need the lock
// the snapshot freezes under. A sample belongs to the phase its call
// started in.
void RunAppender(Spine* spine, uint64_t sessions, int index, const std::atomic<int>* phase,
                 Appender* a) {
  // Sleep to the microsecond, not to the default 50 us timer slack.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const auto interval = std::chrono::microseconds(kAppendIntervalUs);
  uint64_t rng = 0x2545F4914F6CDD1Dull * static_cast<uint64_t>(index + 1);
  uint64_t beat_seq = 0, op = 0;
  auto due = Clock::now();
  for (;;) {
    due += interval;
    if (due > Clock::now()) std::this_thread::sleep_until(due);
    const int ph = phase->load(std::memory_order_acquire);
    if (ph == kStop) return;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    const bool update = op++ % 2 == 0;
    const auto t0 = Clock::now();
    razar::Status s;
    if (update) {
      const uint64_t id = SessionId(rng % sessions);
      Result<Lsn> r = spine->UpdateSession(id, Pool().For(id ^ op));
      if (!r.ok()) s = r.status();
    } else {
      Result<Lsn> r = spine->Beat(1000 + static_cast<uint32_t>(index), kLayer, ++beat_seq);
      if (!r.ok()) s = r.status();
    }
    const auto t1 = Clock::now();
    if (!s.ok()) {
      a->error = (update ? "UpdateSession: " : "Beat: ") + s.ToString();
      return;
    }
    if (ph == kWarmup) continue;
    const int slot = ph == kIdle ? 0 : 1;
    const size_t i = a->count[slot]++;
    if (i == a->call[slot].size()) {
      a->error = "sample buffer full: phase longer than kMaxPhaseSeconds";
      return;
    }
    a->call[slot][i] = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  }
}

void SleepSeconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

// p50/p99/p99.9/max of one phase's samples under `prefix`. A freeze
// delays only the few calls that arrive during it (about one per appender
// per shard), so at ~50k samples it shows in p99.9 and max, hardly in p99.
void ReportPhase(benchmark::State& state, const std::string& prefix, std::vector<int64_t>& call) {
  state.counters[prefix + "p50_us"] = PercentileUs(call, 0.50);
  state.counters[prefix + "p99_us"] = PercentileUs(call, 0.99);
  state.counters[prefix + "p999_us"] = PercentileUs(call, 0.999);
  state.counters[prefix + "max_us"] = MaxUs(call);
  state.counters[prefix + "samples"] = static_cast<double>(call.size());
}

// One iteration = one snapshot with the appenders running. The idle phase
// runs before the timed loop, on the same Spine, with the same appenders.
void BM_SnapshotAppendPause(benchmark::State& state, SnapshotWriteMethod method) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  ScratchDir dir("snap-pause");
  if (!dir.error().empty()) return state.SkipWithError(dir.error().c_str());
  double populate_s = 0;
  Result<std::unique_ptr<Spine>> opened = OpenPopulated(dir.File("spine"), method, n, &populate_s);
  if (!opened.ok()) {
    return state.SkipWithError(("populate: " + opened.status().ToString()).c_str());
  }
  std::unique_ptr<Spine> spine = std::move(opened).value();

  const size_t capacity = static_cast<size_t>(kMaxPhaseSeconds * 1e6 / kAppendIntervalUs);
  std::vector<std::unique_ptr<Appender>> apps;
  for (int i = 0; i < kAppenders; ++i) apps.push_back(std::make_unique<Appender>(capacity));
  std::atomic<int> phase{kWarmup};
  std::vector<std::thread> threads;
  for (int i = 0; i < kAppenders; ++i) {
    threads.emplace_back(RunAppender, spine.get(), n, i, &phase, apps[i].get());
  }
  SleepSeconds(kWarmupSeconds);
  phase.store(kIdle, std::memory_order_release);
  const auto idle0 = Clock::now();
  SleepSeconds(kIdleSeconds);
  const double idle_s = SecondsSince(idle0);

  SnapshotReport rep;
  double snapshot_s = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    phase.store(kDuringSnapshot, std::memory_order_release);
    Result<SnapshotReport> r = spine->Snapshot(kLayer);
    phase.store(kStop, std::memory_order_release);
    snapshot_s = SecondsSince(t0);
    if (!r.ok()) {
      state.SkipWithError(("Spine::Snapshot: " + r.status().ToString()).c_str());
      break;
    }
    rep = *r;
  }
  phase.store(kStop, std::memory_order_release);
  for (auto& t : threads) t.join();

  std::vector<int64_t> call[2];
  for (const auto& a : apps) {
    if (!a->error.empty() && !state.error_occurred()) state.SkipWithError(a->error.c_str());
    for (int p = 0; p < 2; ++p) {
      const auto k = static_cast<ptrdiff_t>(std::min(a->count[p], a->call[p].size()));
      call[p].insert(call[p].end(), a->call[p].begin(), a->call[p].begin() + k);
    }
  }
  if (!state.error_occurred() && rep.sessions != n) {
    state.SkipWithError(
        ("snapshot holds " + std::to_string(rep.sessions) + " sessions, not " + std::to_string(n))
            .c_str());
  }
  SetSessionCounters(state, rep.sessions);
  ReportPhase(state, "idle_", call[0]);
  ReportPhase(state, "", call[1]);
  // Achieved append rates (paced: they show lost throughput, not capacity).
  state.counters["idle_appends_per_s"] = static_cast<double>(call[0].size()) / idle_s;
  state.counters["appends_per_s"] =
      snapshot_s > 0 ? static_cast<double>(call[1].size()) / snapshot_s : 0.0;
  state.counters["max_freeze_us"] = static_cast<double>(rep.max_freeze_ns) / 1000.0;
  state.counters["snapshot_s"] = snapshot_s;
  state.counters["populate_s"] = populate_s;
  CloseSpine(state, spine);
}

// ---- Registration ------------------------------------------------------------------

struct Size {
  int64_t sessions;
  int64_t iterations;  // of the throughput benchmarks
};
constexpr Size kSizes[] = {{100'000, 3}, {1'000'000, 2}};
constexpr SnapshotWriteMethod kMethods[] = {SnapshotWriteMethod::kSstIngest,
                                            SnapshotWriteMethod::kWriteBatch};

benchmark::internal::Benchmark* Common(benchmark::internal::Benchmark* b, const Size& size,
                                       int64_t iterations) {
  return b->ArgName("sessions")
      ->Arg(size.sessions)
      ->Iterations(iterations)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

int RegisterAll() {
  for (const Size& size : kSizes) {
    for (SnapshotWriteMethod m : kMethods) {
      Common(benchmark::RegisterBenchmark((std::string("BM_SnapshotWrite/") + MethodTag(m)).c_str(),
                                          BM_SnapshotWrite, m),
             size, size.iterations);
    }
    for (bool cold : {false, true}) {
      Common(benchmark::RegisterBenchmark(cold ? "BM_SnapshotLoad/cold" : "BM_SnapshotLoad/warm",
                                          BM_SnapshotLoad, cold),
             size, size.iterations);
    }
    Common(benchmark::RegisterBenchmark("BM_BaselineRocksDbPutSessions", BM_BaselineRocksDb,
                                        int64_t{1}),
           size, size.iterations);
    Common(benchmark::RegisterBenchmark("BM_BaselineRocksDbWriteBatchSessions", BM_BaselineRocksDb,
                                        kBaselineBatch),
           size, size.iterations);
    for (SnapshotWriteMethod m : kMethods) {
      Common(benchmark::RegisterBenchmark(
                 (std::string("BM_SnapshotAppendPause/") + MethodTag(m)).c_str(),
                 BM_SnapshotAppendPause, m),
             size, 1);
    }
  }
  return 0;
}
const int kRegistered = RegisterAll();

}  // namespace
}  // namespace razar::bench
