#include "replay/replay.h"

#include <fcntl.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "replay/spine_dir.h"
#include "storage/spine.h"

namespace razar::replay {

using storage::DecodedRecord;
using storage::Env;
using storage::kLayerCount;
using storage::Layer;
using storage::LayerState;
using storage::LogReader;
using storage::RecordView;
using storage::Route;
using storage::State;

// --- Targets and times ---

std::string FormatTime(int64_t unix_ns) {
  const time_t secs = static_cast<time_t>(unix_ns / 1'000'000'000);
  int64_t frac = unix_ns % 1'000'000'000;
  time_t s = secs;
  if (frac < 0) {
    frac += 1'000'000'000;
    --s;
  }
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[64];
  const size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%09lldZ", static_cast<long long>(frac));
  return buf;
}

Result<int64_t> ParseTime(std::string_view text) {
  const std::string t(text);
  struct tm tm {};
  const char* rest = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) rest = strptime(t.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
  if (rest == nullptr) {
    return Status::InvalidArgument("not a UTC time YYYY-MM-DDTHH:MM:SS[.fraction][Z]: '" + t + "'");
  }
  int64_t frac_ns = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 9) frac_ns = frac_ns * 10 + (*rest - '0');
      ++digits;
      ++rest;
    }
    if (digits == 0) return Status::InvalidArgument("empty fraction of a second in '" + t + "'");
    for (int d = std::min(digits, 9); d < 9; ++d) frac_ns *= 10;
  }
  if (*rest == 'Z') ++rest;
  if (*rest != '\0') {
    return Status::InvalidArgument("unexpected '" + std::string(rest) + "' in time '" + t +
                                   "' (times are UTC: end with Z or nothing)");
  }
  const time_t secs = timegm(&tm);
  return static_cast<int64_t>(secs) * 1'000'000'000 + frac_ns;
}

Result<Target> ParseTarget(std::string_view text) {
  std::string_view digits = text;
  if (digits.rfind("lsn:", 0) == 0) digits.remove_prefix(4);
  if (!digits.empty() &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (digits.size() > 19)
      return Status::InvalidArgument("LSN out of range: " + std::string(text));
    return Target::AtLsn(std::stoull(std::string(digits)));
  }
  RAZAR_ASSIGN_OR_RETURN(int64_t ns, ParseTime(text));
  return Target::AtTime(ns);
}

storage::ReplayBound Target::Bound() const {
  storage::ReplayBound b;
  if (kind == Kind::kLsn) b.last_lsn = lsn;
  if (kind == Kind::kTime) b.last_unix_ns = unix_ns;
  return b;
}

std::string Target::ToString() const {
  switch (kind) {
    case Kind::kEnd:
      return "end of log";
    case Kind::kLsn:
      return "LSN " + std::to_string(lsn);
    case Kind::kTime:
      return FormatTime(unix_ns);
  }
  return "?";
}

namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Bytes of the segment files in `dir` (what the reader will read at most).
uint64_t LogBytes(Env* env, const std::string& dir) {
  Result<std::vector<std::string>> names = env->ListDir(dir);
  if (!names.ok()) return 0;  // the reader reports a missing directory
  uint64_t total = 0;
  for (const std::string& n : *names) {
    Lsn first = 0;
    if (!storage::log_format::ParseSegmentFileName(n, &first)) continue;
    Result<int> fd = env->Open(storage::JoinPath(dir, n), O_RDONLY);
    if (!fd.ok()) continue;  // deleted by retention since the listing
    storage::ScopedFd guard(env, *fd);
    Result<uint64_t> size = env->FileSize(*fd);
    if (size.ok()) total += *size;
  }
  return total;
}

Result<std::unique_ptr<LogReader>> OpenReader(const LogReplayOptions& o) {
  storage::LogReaderOptions ro;
  ro.env = o.env != nullptr ? o.env : Env::Default();
  ro.dir = o.log_dir;
  ro.mode = o.mode;
  return LogReader::Open(ro);
}

// Progress from the one thread that reads the log.
class ProgressTicker {
 public:
  ProgressTicker(const LogReplayOptions& o, Env* env)
      : fn_(o.progress),
        interval_(std::chrono::milliseconds(o.progress_interval_ms)),
        t0_(std::chrono::steady_clock::now()),
        next_(t0_ + interval_) {
    if (fn_) total_ = LogBytes(env, o.log_dir);
  }
  void Tick(uint64_t records, uint64_t bytes, bool done) {
    if (!fn_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!done && now < next_) return;
    next_ = now + interval_;
    Progress p;
    p.records = records;
    p.bytes = bytes;
    // At the end the total is what there was to read (segments are preallocated).
    p.total_bytes = done ? bytes : std::max(total_, bytes);
    p.seconds = std::chrono::duration<double>(now - t0_).count();
    p.done = done;
    fn_(p);
  }

 private:
  ProgressFn fn_;
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point t0_, next_;
  uint64_t total_ = 0;
};

}  // namespace

// --- The reference: one thread, one record at a time ---

Status ReplayLogSequential(const LogReplayOptions& options, const Cuts& cuts, State* state,
                           LogReplayStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  *stats = LogReplayStats();
  Env* env = options.env != nullptr ? options.env : Env::Default();
  std::unique_ptr<LogReader> owned;
  LogReader* reader = options.reader;
  if (reader == nullptr) {
    RAZAR_ASSIGN_OR_RETURN(owned, OpenReader(options));
    reader = owned.get();
  }
  ProgressTicker ticker(options, env);
  storage::LogReplayCounts counts;
  const Status result = storage::ReplayLog(
      reader, cuts, options.snapshot_ids, options.target.Bound(), state, &counts,
      [&ticker](uint64_t records, uint64_t bytes) { ticker.Tick(records, bytes, /*done=*/false); });
  stats->records_read = counts.records_read;
  stats->records_applied = counts.records_applied;
  stats->records_skipped = counts.records_skipped;
  stats->last_applied_lsn = counts.last_lsn;
  stats->stopped_at_target = counts.stopped_at_bound;
  stats->coverage_gap = counts.coverage_gap;
  stats->log = reader->report();
  stats->bytes_read = stats->log.bytes_scanned;
  stats->seconds = Since(t0);
  ticker.Tick(stats->records_read, stats->bytes_read, true);
  return result;
}

// --- The parallel pipeline ---
//
// Every thread runs the same loop and takes whichever job is ready, in this
// order of preference: apply its slots' records of the next batch (in
// batch order, so each slot sees its records in LSN order), decode a batch
// nobody has claimed, read the next batch from the log (one reader at a
// time). Batches come from a bounded pool and go back to it once every
// thread has applied its share.

namespace {

struct RawRecord {
  Lsn lsn;
  int64_t ts;
  uint32_t offset;  // into the batch arena, in bytes (8-aligned)
  uint32_t length;
  uint16_t type;
};

struct Item {
  Lsn lsn;
  int64_t ts;
  Route route;
  DecodedRecord rec;
};

struct Batch {
  uint64_t index = 0;
  std::vector<uint64_t> arena;  // 8-aligned payload bytes: FlatBuffers reads aligned words
  size_t arena_bytes = 0;
  std::vector<RawRecord> records;
  std::vector<std::vector<Item>> out;  // per thread: the records of its slots
  uint64_t skipped = 0;
  bool decode_claimed = false;
  bool decoded = false;
  uint32_t applied_by = 0;  // threads that have applied their share

  void Reset(uint64_t i) {
    index = i;
    arena_bytes = 0;
    records.clear();
    for (auto& o : out) o.clear();
    skipped = 0;
    decode_claimed = decoded = false;
    applied_by = 0;
  }
  const uint8_t* bytes() const { return reinterpret_cast<const uint8_t*>(arena.data()); }
  // Copies a payload in; the arena grows only when a batch holds more than
  // ever before (buffers are reused: fresh memory is slow to touch here).
  uint32_t Add(std::span<const uint8_t> p) {
    const size_t at = arena_bytes;
    const size_t need = at + ((p.size() + 7) & ~size_t{7});
    if (need > arena.size() * 8) arena.resize(std::max(need / 8, arena.size() * 2));
    if (!p.empty()) std::memcpy(reinterpret_cast<uint8_t*>(arena.data()) + at, p.data(), p.size());
    arena_bytes = need;
    return static_cast<uint32_t>(at);
  }
};

// An error and where it happened, so that the first one in log order wins
// whichever thread saw it first.
struct Failure {
  uint64_t batch = UINT64_MAX;
  uint64_t record = UINT64_MAX;
  Status status;
  void Offer(uint64_t b, uint64_t r, Status s) {
    if (b < batch || (b == batch && r < record)) {
      batch = b;
      record = r;
      status = std::move(s);
    }
  }
  bool failed() const { return batch != UINT64_MAX; }
};

constexpr size_t kMaxArenaBytes = 4u << 20;

class ParallelReplay {
 public:
  ParallelReplay(const LogReplayOptions& o, const Cuts& cuts, State* state, uint32_t threads,
                 LogReader* reader, Env* env)
      : o_(o),
        cuts_(cuts),
        state_(state),
        threads_(threads),
        reader_(reader),
        ticker_(o, env),
        orphans_(threads, 0),
        applied_(threads, 0),
        layer_lsn_(threads) {
    const size_t pool = 3 * threads + 2;  // bounded read-ahead
    batches_.resize(pool);
    for (auto& b : batches_) {
      b.out.resize(threads);
      b.records.reserve(o.batch_records);
      free_.push_back(&b);
    }
  }

  Status Run(LogReplayStats* stats) {
    std::vector<std::thread> pool;
    for (uint32_t t = 1; t < threads_; ++t) pool.emplace_back([this, t] { Work(t); });
    Work(0);
    for (auto& th : pool) th.join();
    uint64_t orphans = 0;
    for (uint32_t t = 0; t < threads_; ++t) {
      orphans += orphans_[t];
      stats->records_applied += applied_[t];
      for (int li = 0; li < kLayerCount; ++li) {
        LayerState& ls = state_->layer(static_cast<Layer>(li));
        ls.applied_lsn = std::max(ls.applied_lsn, layer_lsn_[t][li]);
      }
    }
    state_->AddOrphans(orphans);
    stats->records_read = records_read_;
    stats->records_skipped = skipped_;
    stats->last_applied_lsn = last_lsn_;
    stats->stopped_at_target = stopped_at_target_;
    stats->coverage_gap = coverage_gap_;
    return failure_.failed() ? failure_.status : Status::Ok();
  }

 private:
  uint32_t Owner(const Route& r) const {
    return (r.shard + static_cast<uint32_t>(r.layer) * 613u) % threads_;
  }

  void Work(uint32_t me) {
    std::unique_lock<std::mutex> l(mu_);
    uint64_t next_apply = 0;  // index of the next batch this thread applies
    for (;;) {
      Batch* b = Find(next_apply);
      if (b != nullptr && b->decoded && !failure_.failed()) {
        l.unlock();
        Apply(me, *b);
        l.lock();
        ++next_apply;
        if (++b->applied_by == threads_) Recycle(b);
        continue;
      }
      if (Batch* d = Unclaimed()) {
        d->decode_claimed = true;
        l.unlock();
        Decode(*d);
        l.lock();
        d->decoded = true;
        skipped_ += d->skipped;
        if (failure_.failed()) Recycle(d);
        cv_.notify_all();
        continue;
      }
      if (!reading_ && !eof_ && !failure_.failed() && !free_.empty()) {
        Batch* r = free_.front();
        free_.pop_front();
        r->Reset(read_index_++);
        reading_ = true;
        l.unlock();
        Read(*r);
        l.lock();
        reading_ = false;
        window_.push_back(r);
        cv_.notify_all();
        continue;
      }
      // Done when nothing is left for this thread to apply, or on failure
      // once no read or decode is still running (one may find an earlier
      // error).
      const bool all_read = eof_ && !reading_;
      if (failure_.failed() && !reading_ && Unclaimed() == nullptr && decoding_done()) break;
      if (all_read && !failure_.failed() && next_apply == read_index_) break;
      cv_.wait(l);
    }
    cv_.notify_all();
  }

  bool decoding_done() const {
    for (const Batch* b : window_)
      if (b->decode_claimed && !b->decoded) return false;
    return true;
  }

  Batch* Find(uint64_t index) {
    for (Batch* b : window_)
      if (b->index == index) return b;
    return nullptr;
  }
  Batch* Unclaimed() {
    for (Batch* b : window_)
      if (!b->decode_claimed) return b;
    return nullptr;
  }
  void Recycle(Batch* b) {
    window_.erase(std::find(window_.begin(), window_.end(), b));
    free_.push_back(b);
  }

  // One thread at a time (reading_). Fills a batch from the log.
  void Read(Batch& b) {
    RecordView v;
    while (b.records.size() < o_.batch_records && b.arena_bytes < kMaxArenaBytes) {
      Result<bool> more = reader_->Next(&v);
      if (!more.ok()) {
        Fail(b.index, b.records.size(), more.status());
        return;
      }
      if (!checked_) {
        checked_ = true;
        Status st = storage::CheckLogCoverage(cuts_, o_.snapshot_ids, reader_->report());
        if (!st.ok()) {
          coverage_gap_ = true;
          Fail(0, 0, st);
          return;
        }
      }
      if (!*more || o_.target.Beyond(v.lsn, v.timestamp_ns)) {
        stopped_at_target_ = *more;
        MarkEof();
        break;
      }
      const uint32_t at = b.Add(v.payload);
      b.records.push_back(
          {v.lsn, v.timestamp_ns, at, static_cast<uint32_t>(v.payload.size()), v.type});
      last_lsn_ = v.lsn;
    }
    records_read_ += b.records.size();
    ticker_.Tick(records_read_, reader_->report().bytes_scanned, false);
  }

  void MarkEof() {
    std::lock_guard<std::mutex> l(mu_);
    eof_ = true;
  }
  void Fail(uint64_t batch, uint64_t record, Status s) {
    std::lock_guard<std::mutex> l(mu_);
    failure_.Offer(batch, record, std::move(s));
  }

  void Decode(Batch& b) {
    for (size_t i = 0; i < b.records.size(); ++i) {
      const RawRecord& r = b.records[i];
      Result<DecodedRecord> d =
          storage::DecodeRecord(r.type, std::span<const uint8_t>(b.bytes() + r.offset, r.length));
      if (!d.ok()) {
        Fail(b.index, i, d.status().WithContext("LSN " + std::to_string(r.lsn)));
        return;
      }
      const Route route = storage::RouteOf(*d);
      if (storage::HeldByCut(cuts_, route, r.lsn)) {
        ++b.skipped;
        continue;
      }
      b.out[Owner(route)].push_back({r.lsn, r.ts, route, *d});
    }
  }

  void Apply(uint32_t me, const Batch& b) {
    auto& lsns = layer_lsn_[me];
    for (const Item& it : b.out[me]) {
      const int li = static_cast<int>(it.route.layer);
      State::ApplyRouted(it.route, it.lsn, it.ts, it.rec, &state_->layer(it.route.layer),
                         &orphans_[me]);
      lsns[li] = std::max(lsns[li], it.lsn);
    }
    applied_[me] += b.out[me].size();
  }

  const LogReplayOptions& o_;
  const Cuts& cuts_;
  State* state_;
  const uint32_t threads_;
  LogReader* reader_;      // used by the thread that holds reading_
  ProgressTicker ticker_;  // likewise

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Batch> batches_;
  std::deque<Batch*> free_;    // guarded by mu_
  std::deque<Batch*> window_;  // read, not yet applied by all; guarded by mu_
  uint64_t read_index_ = 0;    // guarded by mu_
  bool reading_ = false;       // guarded by mu_
  bool eof_ = false;           // guarded by mu_
  Failure failure_;            // guarded by mu_
  uint64_t skipped_ = 0;       // guarded by mu_

  // Written by the reading thread only; read after the threads joined.
  bool checked_ = false;
  bool coverage_gap_ = false;
  bool stopped_at_target_ = false;
  uint64_t records_read_ = 0;
  Lsn last_lsn_ = 0;

  // Per thread; each written by its own thread only.
  std::vector<uint64_t> orphans_;
  std::vector<uint64_t> applied_;
  std::vector<std::array<Lsn, kLayerCount>> layer_lsn_;
};

}  // namespace

Status ReplayLogParallel(const LogReplayOptions& options, const Cuts& cuts, State* state,
                         LogReplayStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  *stats = LogReplayStats();
  Env* env = options.env != nullptr ? options.env : Env::Default();
  uint32_t threads = options.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  if (options.batch_records == 0) return Status::InvalidArgument("batch_records must be > 0");
  std::unique_ptr<LogReader> owned;
  LogReader* reader = options.reader;
  if (reader == nullptr) {
    RAZAR_ASSIGN_OR_RETURN(owned, OpenReader(options));
    reader = owned.get();
  }
  stats->threads = threads;
  ParallelReplay run(options, cuts, state, threads, reader, env);
  Status st = run.Run(stats);
  stats->log = reader->report();
  stats->bytes_read = stats->log.bytes_scanned;
  stats->seconds = Since(t0);
  if (options.progress) {
    Progress p;
    p.records = stats->records_read;
    p.bytes = p.total_bytes = stats->bytes_read;
    p.seconds = stats->seconds;
    p.done = true;
    options.progress(p);
  }
  return st;
}

storage::LogReplayFn ParallelLogReplayer(uint32_t threads) {
  return [threads](const storage::LogReplayJob& job) -> Result<storage::LogReplayOutcome> {
    LogReplayOptions o;
    o.env = job.env;
    o.log_dir = job.log_dir;
    o.threads = threads;
    o.snapshot_ids = job.snapshot_ids;
    LogReplayStats stats;
    RAZAR_RETURN_IF_ERROR(ReplayLogParallel(o, *job.cuts, job.state, &stats));
    storage::LogReplayOutcome out;
    out.replayed = stats.records_applied;
    out.skipped = stats.records_skipped;
    out.log = std::move(stats.log);
    return out;
  };
}

// --- Snapshots ---

// Catch-ups with a live writer before a snapshot that fails to load is
// judged damaged (a secondary can lag the primary; see SnapshotStore::CatchUp).
constexpr int kMaxCatchUps = 5;

Result<SnapshotLoad> LoadSnapshots(storage::SnapshotStore* store, const Target& target,
                                   uint32_t threads, State* state, bool live) {
  const auto t0 = std::chrono::steady_clock::now();
  SnapshotLoad out;
  std::array<std::vector<std::string>, kLayerCount> problems, notes;
  std::array<Status, kLayerCount> errors;
  std::atomic<int> next{0};
  auto work = [&] {
    for (int li; (li = next.fetch_add(1)) < kLayerCount;) {
      const Layer layer = static_cast<Layer>(li);
      std::vector<std::string> damaged;
      Result<std::vector<storage::SnapshotManifest>> list = store->List(layer, &damaged);
      if (!list.ok()) {
        errors[li] = list.status();
        continue;
      }
      problems[li] = std::move(damaged);
      int catch_ups = 0;
      for (size_t i = 0; i < list->size(); ++i) {
        const storage::SnapshotManifest m = (*list)[i];
        if (target.kind == Target::Kind::kLsn && m.max_lsn() > target.lsn) continue;
        if (target.kind == Target::Kind::kTime && m.created_unix_ns > target.unix_ns) continue;
        Status st = store->Load(m, &state->layer(layer));
        if (st.ok()) {
          out.layers[li].snapshot_id = m.snapshot_id;
          out.layers[li].manifest = m;
          out.cuts[li] = m.shard_lsns;
          break;
        }
        state->layer(layer) = LayerState();
        if (catch_ups < kMaxCatchUps) {
          // On a live spine the failure may be this reader's lag (or the
          // snapshot's deletion by retention): catch up, then look again.
          if (catch_ups++ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
          if (store->CatchUp().ok()) {
            Result<std::vector<storage::SnapshotManifest>> again = store->List(layer);
            if (again.ok()) {
              *list = std::move(*again);
              i = static_cast<size_t>(-1);  // restart from the newest
              continue;
            }
          }
        }
        (live ? notes : problems)[li].push_back((live ? "live spine, changed while read: " : "") +
                                                st.ToString() +
                                                "; falling back to an older snapshot");
      }
    }
  };
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const uint32_t n = std::min<uint32_t>(threads, kLayerCount);
  std::vector<std::thread> pool;
  for (uint32_t t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  for (int li = 0; li < kLayerCount; ++li) {
    RAZAR_RETURN_IF_ERROR(errors[li]);
    for (auto& p : problems[li]) out.problems.push_back(std::move(p));
    for (auto& n : notes[li]) out.notes.push_back(std::move(n));
  }
  out.seconds = Since(t0);
  return out;
}

// --- The whole rebuild ---

namespace {

Result<Rebuilt> RebuildOnce(const RebuildOptions& options, bool* coverage_gap) {
  const auto t0 = std::chrono::steady_clock::now();
  Env* env = options.env != nullptr ? options.env : Env::Default();
  Rebuilt out;
  LogReplayOptions lo;
  lo.env = env;
  lo.log_dir = storage::SpineLogDir(options.spine_dir);
  lo.mode = options.mode;
  lo.target = options.target;
  lo.threads = options.threads;
  lo.batch_records = options.batch_records;
  lo.progress = options.progress;
  // The log first: see LogReplayOptions::reader.
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> reader, OpenReader(lo));
  lo.reader = reader.get();
  if (options.use_snapshots) {
    RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<ReadOnlySnapshotStore> store,
                           ReadOnlySnapshotStore::Create());
    Status opened = store->Open(options.spine_dir);
    if (!opened.ok()) {
      out.snapshots.problems.push_back("snapshot store unreadable (" + opened.ToString() +
                                       "); rebuilding from the log alone");
    } else {
      RAZAR_ASSIGN_OR_RETURN(SnapshotLoad load,
                             LoadSnapshots(store->get(), options.target, options.threads,
                                           &out.state, SpineIsLive(options.spine_dir)));
      load.problems.insert(load.problems.begin(), out.snapshots.problems.begin(),
                           out.snapshots.problems.end());
      out.snapshots = std::move(load);
    }
  }
  Cuts cuts = out.snapshots.cuts;
  for (int li = 0; li < kLayerCount; ++li)
    lo.snapshot_ids[li] = out.snapshots.layers[li].snapshot_id;
  Status st = options.sequential ? ReplayLogSequential(lo, cuts, &out.state, &out.log)
                                 : ReplayLogParallel(lo, cuts, &out.state, &out.log);
  *coverage_gap = out.log.coverage_gap;
  RAZAR_RETURN_IF_ERROR(st);
  out.seconds = Since(t0);
  return out;
}

}  // namespace

Result<Rebuilt> Rebuild(const RebuildOptions& options) {
  RAZAR_RETURN_IF_ERROR(CheckSpineDir(options.spine_dir, options.env));
  // On a live spine, retention may delete the log segments a just-loaded
  // snapshot needs (it was replaced by newer ones meanwhile): start over
  // with the newer snapshots. A dead spine gets one attempt.
  constexpr int kLiveAttempts = 4;
  for (int attempt = 1;; ++attempt) {
    bool gap = false;
    Result<Rebuilt> r = RebuildOnce(options, &gap);
    if (r.ok() || !gap || attempt >= kLiveAttempts || !SpineIsLive(options.spine_dir)) return r;
  }
}

}  // namespace razar::replay
