#include "storage/log_writer.h"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdlib>
#include <cstring>

namespace razar::storage {

namespace lf = log_format;

namespace {

constexpr uint64_t kUserDataWrite = 1;
constexpr uint64_t kUserDataSync = 2;
// Resubmissions of one commit after -EAGAIN or a short write with no
// progress before giving up (a bound on the retry loop, TigerStyle).
constexpr int kMaxStalledResubmits = 1000;
constexpr const char* kSparePrefix = "spare-";
constexpr const char* kSpareSuffix = ".hblog.tmp";

bool IsSpareName(const std::string& n) {
  return n.rfind(kSparePrefix, 0) == 0 && n.size() > std::strlen(kSpareSuffix) &&
         n.compare(n.size() - std::strlen(kSpareSuffix), std::string::npos, kSpareSuffix) == 0;
}

}  // namespace

Result<Durability> ParseDurability(std::string_view name) {
  if (name == "none") return Durability::kNone;
  if (name == "batch") return Durability::kBatch;
  if (name == "interval") return Durability::kInterval;
  return Status::InvalidArgument("unknown durability mode '" + std::string(name) +
                                 "' (expected none, batch or interval)");
}

const char* DurabilityName(Durability d) {
  switch (d) {
    case Durability::kNone:
      return "none";
    case Durability::kBatch:
      return "batch";
    case Durability::kInterval:
      return "interval";
  }
  return "?";
}

// A group-commit buffer: records of one segment, contiguous on disk from
// file_offset. Producers reserve space under mu_ and fill it outside the
// lock; `filling` counts fills in progress, and the flusher waits for zero
// after sealing before it reads the bytes.
struct LogWriter::Buffer {
  uint8_t* data = nullptr;  // 4096-aligned, pre-faulted
  uint32_t capacity = 0;
  int index = 0;      // registered-buffer index
  uint32_t used = 0;  // guarded by mu_; includes `head`
  uint32_t head = 0;  // leading bytes carried over from the previous commit's last block
  uint64_t file_offset = 0;
  Lsn seed = 0;       // first LSN of the segment these records belong to
  Lsn first_lsn = 0;  // 0 when empty
  Lsn last_lsn = 0;
  uint32_t last_record_pos = 0;  // offset in data of the last record
  std::atomic<uint32_t> filling{0};

  ~Buffer() { std::free(data); }
  // Starts the buffer at segment offset `end` (the end of the records so
  // far). With direct I/O the buffer begins at the block containing `end`,
  // whose leading bytes the flusher copies in from the previous commit.
  void Reset(uint64_t end, Lsn segment_seed, bool direct) {
    file_offset = direct ? end & ~uint64_t{lf::kBlockBytes - 1} : end;
    head = static_cast<uint32_t>(end - file_offset);
    used = head;
    seed = segment_seed;
    first_lsn = last_lsn = 0;
  }
  bool empty() const { return used == head; }
};

struct LogWriter::Segment {
  int fd = -1;
  Lsn first_lsn = 0;
  std::string path;
};

LogWriter::LogWriter(const LogWriterOptions& options)
    : options_(options), env_(options.env != nullptr ? options.env : Env::Default()) {
  options_.env = env_;
}

// Whether appending after what a point-in-time read recovered is safe.
// A torn or abandoned tail is what a crash leaves. A hole in the last
// segment that no later complete commit follows may be the last,
// unacknowledged commit torn by a power loss: its records are abandoned.
// Anything else — damage with later segments after it, damage a later
// synced commit proves was on disk, a bad header, a record type this build
// does not know — would make acknowledged records unreachable, so the
// writer refuses and the operator decides (docs/formats/heartbeat-log.md).
Status LogWriter::CheckAppendable(const ReadReport& rep, const std::string& dir) {
  if (rep.stop != StopReason::kDamage || rep.damages.empty()) return Status::Ok();
  const Damage& d = rep.damages.back();
  if (d.kind == DamageKind::kTornTail || d.kind == DamageKind::kAbandonedTail) return Status::Ok();
  const bool later_segments = rep.stop_segment + 1 < static_cast<int>(rep.segments.size());
  const std::string what = "refusing to append to " + dir + " after " + DescribeDamage(d);
  const std::string hint =
      "; inspect it with razar-replay verify, then move the damaged segments away or open with "
      "recovery mode skip-corrupted to keep every readable record";
  if (d.kind == DamageKind::kUnsupportedType) return Status::NotSupported(what + hint);
  if (d.kind == DamageKind::kCorruption && !later_segments && !d.synced_data_damaged)
    return Status::Ok();
  if (later_segments) {
    return Status::Corruption(what + " (" +
                              std::to_string(rep.segments.size() - rep.stop_segment - 1) +
                              " later segment(s) hold records after it)" + hint);
  }
  return Status::Corruption(what + hint);
}

Result<std::unique_ptr<LogWriter>> LogWriter::Open(const LogWriterOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("log directory not set");
  if (options.segment_bytes < lf::kMinSegmentBytes ||
      options.segment_bytes > lf::kMaxSegmentBytes ||
      options.segment_bytes % lf::kBlockBytes != 0) {
    return Status::InvalidArgument("segment_bytes " + std::to_string(options.segment_bytes) +
                                   " must be a multiple of 4096 between 64 KiB and 1 GiB");
  }
  // Direct I/O writes whole blocks from a buffer: a capacity that is not a
  // multiple of the block would let the last block run past its end.
  if (options.buffer_bytes < 64 * 1024 || options.buffer_bytes > (256u << 20) ||
      options.buffer_bytes % lf::kBlockBytes != 0) {
    return Status::InvalidArgument(
        "buffer_bytes must be a multiple of 4096 between 64 KiB and 256 MiB");
  }
  if (options.durability == Durability::kInterval && options.interval_ms == 0) {
    return Status::InvalidArgument("interval_ms must be > 0 in interval mode");
  }
  std::unique_ptr<LogWriter> w(new LogWriter(options));
  Env* env = w->env_;
  RAZAR_RETURN_IF_ERROR(env->CreateDirs(options.dir));

  RAZAR_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(options.dir));
  for (const std::string& n : names) {
    if (IsSpareName(n)) RAZAR_RETURN_IF_ERROR(env->Remove(JoinPath(options.dir, n)));
  }

  // Recover the end of the existing log.
  LogReaderOptions ro;
  ro.env = env;
  ro.dir = options.dir;
  ro.mode = options.recovery_mode;
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> reader, LogReader::Open(ro));
  RecordView v;
  for (;;) {
    Result<bool> more = reader->Next(&v);
    if (!more.ok()) return more.status().WithContext("recovering " + options.dir);
    if (!*more) break;
  }
  w->recovery_report_ = reader->report();
  const ReadReport& rep = w->recovery_report_;
  RAZAR_RETURN_IF_ERROR(CheckAppendable(rep, options.dir));
  Lsn next = rep.last_lsn + 1;
  if (rep.records == 0) {
    // No record: continue after the newest segment's range, never reusing a
    // name. An empty log starts at 1.
    next = 1;
    for (const SegmentSummary& s : rep.segments) next = std::max(next, s.first_lsn);
  }
  // Segments at or after `next` hold nothing the recovery accepted: a clean
  // empty one is removed; anything else is kept as evidence, renamed so that
  // readers ignore it (docs/formats/heartbeat-log.md, writer rules).
  for (const SegmentSummary& s : rep.segments) {
    if (s.first_lsn < next) continue;
    const std::string path = JoinPath(options.dir, s.name);
    const bool clean_empty = s.records == 0 && !s.damaged && s.read;
    if (clean_empty) {
      RAZAR_RETURN_IF_ERROR(env->Remove(path));
    } else {
      RAZAR_RETURN_IF_ERROR(
          env->Rename(path, path + ".abandoned-" + std::to_string(env->NowUnixNanos())));
    }
  }
  RAZAR_RETURN_IF_ERROR(env->SyncDir(options.dir));
  RAZAR_RETURN_IF_ERROR(w->Init(next));
  return w;
}

Status LogWriter::Init(Lsn next_lsn) {
  direct_ = options_.direct_io;
  next_lsn_ = next_lsn;
  written_lsn_.store(next_lsn - 1);
  synced_lsn_.store(next_lsn - 1);
  RAZAR_ASSIGN_OR_RETURN(ring_, env_->NewRing(8));
  std::vector<iovec> iovs;
  for (int i = 0; i < 2; ++i) {
    auto b = std::make_unique<Buffer>();
    b->capacity = options_.buffer_bytes;
    b->index = i;
    b->data = static_cast<uint8_t*>(std::aligned_alloc(lf::kBlockBytes, b->capacity));
    if (b->data == nullptr) return Status::IoError("out of memory for log buffers");
    std::memset(b->data, 0, b->capacity);  // pre-fault: fresh pages are slow to touch here
    iovs.push_back({b->data, b->capacity});
    buffers_.push_back(std::move(b));
  }
  RAZAR_RETURN_IF_ERROR(ring_->RegisterBuffers(iovs.data(), static_cast<unsigned>(iovs.size())));

  RAZAR_RETURN_IF_ERROR(PrepareSpare(JoinPath(options_.dir, "spare-0.hblog.tmp")));
  spare_path_ = JoinPath(options_.dir, "spare-0.hblog.tmp");
  spare_seq_ = 1;
  RAZAR_RETURN_IF_ERROR(OpenNextSegment(next_lsn));

  segment_first_lsn_ = next_lsn;
  segment_used_ = lf::kSegmentHeaderBytes;
  open_ = buffers_[0].get();
  open_->Reset(segment_used_, segment_first_lsn_, direct_);
  last_sync_mono_ns_ = env_->MonotonicNanos();
  preparer_ = std::thread([this] { PreparerLoop(); });
  flusher_ = std::thread([this] { FlusherLoop(); });
  return Status::Ok();
}

LogWriter::~LogWriter() { Close().IgnoreError(); }

Result<Lsn> LogWriter::Append(uint16_t type, std::span<const uint8_t> payload,
                              int64_t timestamp_ns) {
  if (type == lf::kNone) return Status::InvalidArgument("record type 0 is reserved");
  if (payload.size() > lf::kMaxPayloadBytes) {
    return Status::InvalidArgument("payload of " + std::to_string(payload.size()) +
                                   " bytes exceeds the 1 MiB maximum");
  }
  const uint64_t fp = lf::RecordFootprint(payload.size());
  if (fp > options_.buffer_bytes - lf::kBlockBytes ||
      fp > options_.segment_bytes - lf::kSegmentHeaderBytes) {
    return Status::InvalidArgument("record of " + std::to_string(fp) +
                                   " bytes does not fit a buffer or an empty segment");
  }
  if (timestamp_ns == 0) timestamp_ns = env_->NowUnixNanos();

  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    if (!latched_.ok()) return latched_;
    if (closing_) return Status::Failed("log writer is closed");
    if (segment_used_ + fp > options_.segment_bytes) {
      if (open_->empty()) {
        // Roll over: the open buffer starts the next segment.
        segment_first_lsn_ = next_lsn_;
        segment_used_ = lf::kSegmentHeaderBytes;
        open_->Reset(segment_used_, segment_first_lsn_, direct_);
        break;
      }
    } else if (open_->used + fp <= open_->capacity) {
      break;
    }
    // The open buffer must be sealed first: wake the flusher and wait for a
    // seal. (Not for `open_` to change: with two buffers the same one can be
    // open again, empty, before this producer wakes.)
    ++stats_.producer_waits;
    const uint64_t seen = seals_;
    work_cv_.notify_one();
    space_cv_.wait(l, [&] { return seals_ != seen || !latched_.ok() || closing_; });
  }
  const Lsn lsn = next_lsn_++;
  Buffer* b = open_;
  uint8_t* dst = b->data + b->used;
  b->used += static_cast<uint32_t>(fp);
  segment_used_ += fp;
  if (b->first_lsn == 0) b->first_lsn = lsn;
  b->last_lsn = lsn;
  b->last_record_pos = static_cast<uint32_t>(dst - b->data);
  const Lsn seed = b->seed;
  b->filling.fetch_add(1, std::memory_order_relaxed);
  ++stats_.appends;
  stats_.append_bytes += fp;
  const bool wake = !flusher_busy_;
  l.unlock();

  // Framing and checksumming happen outside the lock, in parallel across
  // producers; the flusher waits for `filling` to drain before writing.
  lf::EncodeRecord(dst, type, lsn, timestamp_ns, payload.data(),
                   static_cast<uint32_t>(payload.size()), seed);
  b->filling.fetch_sub(1, std::memory_order_release);
  if (wake) work_cv_.notify_one();
  return lsn;
}

// Waiters do not take mu_: they read the published LSNs and sleep on
// durable_epoch_ (a futex), so a commit that acknowledges many appenders
// wakes them without a convoy on the writer's mutex.
Status LogWriter::WaitFor(const std::atomic<Lsn>& published, Lsn lsn) {
  for (;;) {
    const uint32_t epoch = durable_epoch_.load(std::memory_order_acquire);
    if (published.load(std::memory_order_acquire) >= lsn) return Status::Ok();
    if (stop_waiting_.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> l(mu_);
      if (!latched_.ok()) return latched_;
      return Status::Failed("log writer closed before LSN " + std::to_string(lsn) +
                            " was acknowledged");
    }
    durable_epoch_.wait(epoch, std::memory_order_acquire);
  }
}

void LogWriter::PublishDurable() {
  durable_epoch_.fetch_add(1, std::memory_order_release);
  durable_epoch_.notify_all();
}

Status LogWriter::WaitDurable(Lsn lsn) {
  return WaitFor(options_.durability == Durability::kBatch ? synced_lsn_ : written_lsn_, lsn);
}

Result<Lsn> LogWriter::AppendDurable(uint16_t type, std::span<const uint8_t> payload,
                                     int64_t timestamp_ns) {
  RAZAR_ASSIGN_OR_RETURN(Lsn lsn, Append(type, payload, timestamp_ns));
  RAZAR_RETURN_IF_ERROR(WaitDurable(lsn));
  return lsn;
}

Status LogWriter::Sync() {
  Lsn target;
  {
    std::lock_guard<std::mutex> l(mu_);
    target = next_lsn_ - 1;
    if (synced_lsn_ >= target) return Status::Ok();
    sync_requested_lsn_ = std::max(sync_requested_lsn_, target);
  }
  work_cv_.notify_one();
  return WaitFor(synced_lsn_, target);
}

Status LogWriter::Close() {
  {
    std::unique_lock<std::mutex> l(mu_);
    if (closed_) return latched_;
    closed_ = true;
    closing_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  {
    std::lock_guard<std::mutex> l(prep_mu_);
    prep_stop_ = true;
  }
  prep_cv_.notify_all();
  if (preparer_.joinable()) preparer_.join();
  if (segment_ != nullptr && segment_->fd >= 0) {
    Status s = env_->Close(segment_->fd);
    segment_->fd = -1;
    if (!s.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      Latch(s);
    }
  }
  if (!spare_path_.empty()) {
    env_->Remove(spare_path_).IgnoreError();  // a spare holds no records
    spare_path_.clear();
  }
  std::lock_guard<std::mutex> l(mu_);
  return latched_;
}

void LogWriter::Latch(const Status& s) {
  if (latched_.ok()) latched_ = Status::Failed("log writer failed: " + s.ToString());
  stop_waiting_.store(true, std::memory_order_release);
  PublishDurable();
  space_cv_.notify_all();
}

// The flusher: seals the open buffer whenever it has records and no commit
// is in flight, writes it (linked to an fdatasync when this commit must
// sync), and publishes written_lsn_/synced_lsn_. One commit is in flight at
// a time, so completion order never matters across commits.
void LogWriter::FlusherLoop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    flusher_busy_ = false;
    WaitForFlusherWork(l);
    flusher_busy_ = true;
    if (!latched_.ok()) break;
    if (closing_ && open_->empty() && synced_lsn_ >= written_lsn_) break;

    Buffer* b = open_->empty() ? nullptr : SealOpenBuffer();
    const bool sync = options_.durability == Durability::kBatch || closing_ || SyncDue();
    const Lsn covered = b != nullptr ? b->last_lsn : written_lsn_.load();
    l.unlock();
    Lsn synced_through = 0;  // set when a segment switch synced the old one
    Status s;
    if (b != nullptr) {
      s = CommitBuffer(b, sync, &synced_through);
    } else if (sync) {
      s = WriteRange(segment_->fd, nullptr, 0, 0, -1, true);
    }
    l.lock();
    if (!s.ok()) {
      Latch(s);
      break;
    }
    PublishCommit(b != nullptr, sync, covered, synced_through);
  }
  flusher_busy_ = false;
  stop_waiting_.store(true, std::memory_order_release);
  PublishDurable();
  space_cv_.notify_all();
}

bool LogWriter::SyncDue() const {
  if (sync_requested_lsn_ > synced_lsn_) return true;
  return options_.durability == Durability::kInterval && written_lsn_ > synced_lsn_ &&
         env_->MonotonicNanos() - last_sync_mono_ns_ >= uint64_t{options_.interval_ms} * 1000000;
}

// Sleeps until there is something to write or sync, the writer closes or
// latches — or, in interval mode with unsynced data, until the interval's
// deadline.
void LogWriter::WaitForFlusherWork(std::unique_lock<std::mutex>& l) {
  auto has_work = [&] { return !latched_.ok() || closing_ || !open_->empty() || SyncDue(); };
  if (options_.durability == Durability::kInterval && written_lsn_ > synced_lsn_) {
    const uint64_t deadline_ns = last_sync_mono_ns_ + uint64_t{options_.interval_ms} * 1000000;
    const uint64_t now = env_->MonotonicNanos();
    if (!has_work() && deadline_ns > now) {
      work_cv_.wait_for(l, std::chrono::nanoseconds(deadline_ns - now));
    }
  } else {
    work_cv_.wait(l, has_work);
  }
}

// Swaps in the other buffer for the producers and returns the sealed one.
LogWriter::Buffer* LogWriter::SealOpenBuffer() {
  Buffer* b = open_;
  Buffer* next = buffers_[0].get() == b ? buffers_[1].get() : buffers_[0].get();
  next->Reset(segment_used_, segment_first_lsn_, direct_);
  open_ = next;
  ++seals_;
  space_cv_.notify_all();
  return b;
}

// Writes a sealed buffer as one commit, in a new segment if its records
// start one. Runs on the flusher without mu_ (producers fill the other
// buffer meanwhile).
Status LogWriter::CommitBuffer(Buffer* b, bool sync, Lsn* synced_through) {
  // Wait for producers still framing records into the sealed buffer.
  while (b->filling.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  // Mark the commit's last record, so that a reader can tell a torn last
  // commit from damage that a later commit proves was synced.
  lf::SetRecordFlags(b->data + b->last_record_pos, lf::kFlagCommitEnd, b->seed);
  uint32_t write_len = b->used;
  if (direct_) {
    write_len = AlignUp(b->used);
    std::memset(b->data + b->used, 0, write_len - b->used);  // the format's zero tail
    CarryTailBlock(b);
  }
  if (segment_ == nullptr || b->seed != segment_->first_lsn) {
    RAZAR_RETURN_IF_ERROR(FinishSegment());
    *synced_through = b->seed - 1;
    RAZAR_RETURN_IF_ERROR(OpenNextSegment(b->seed));
  }
  return WriteRange(segment_->fd, b->data, write_len, b->file_offset, b->index, sync);
}

// Publishes what a commit made durable and wakes its waiters.
void LogWriter::PublishCommit(bool wrote, bool synced, Lsn covered, Lsn synced_through) {
  if (synced_through > synced_lsn_) synced_lsn_.store(synced_through, std::memory_order_release);
  if (wrote) {
    written_lsn_.store(covered, std::memory_order_release);
    ++stats_.commits;
  }
  if (synced) {
    synced_lsn_.store(covered, std::memory_order_release);
    ++stats_.syncs;
    last_sync_mono_ns_ = env_->MonotonicNanos();
  }
  PublishDurable();
}

uint32_t LogWriter::AlignUp(uint32_t n) {
  return (n + lf::kBlockBytes - 1) & ~(lf::kBlockBytes - 1);
}

// Direct I/O writes whole blocks, so the buffer now open must begin with the
// bytes of `sealed`'s partly filled last block. Producers fill the open
// buffer only past its head, so the copy races nothing; a rollover reset it
// to a new segment (different seed), and then there is nothing to carry.
void LogWriter::CarryTailBlock(const Buffer* sealed) {
  std::lock_guard<std::mutex> l(mu_);
  Buffer* nb = open_;
  if (nb == sealed || nb->head == 0 || nb->seed != sealed->seed) return;
  const uint64_t from = nb->file_offset - sealed->file_offset;
  assert(nb->file_offset >= sealed->file_offset && from + nb->head == sealed->used);
  std::memcpy(nb->data, sealed->data + from, nb->head);
}

// Writes [data, data + len) at offset, then fdatasyncs when `sync`; with
// len == 0 only syncs. The write and the sync are linked (IOSQE_IO_LINK) and
// submitted together. A short write or -EAGAIN cancels the linked sync; the
// rest is resubmitted. Returns only when every byte is written (and synced).
Status LogWriter::WriteRange(int fd, const uint8_t* data, uint32_t len, uint64_t offset,
                             int buf_index, bool sync) {
  uint32_t done = 0;
  int stalled = 0;
  for (;;) {
    const bool write_pending = done < len;
    if (!write_pending && !sync) return Status::Ok();
    if (write_pending) {
      ring_->QueueWrite(fd, data + done, len - done, offset + done, buf_index, kUserDataWrite,
                        /*link_next=*/sync);
    }
    if (sync) ring_->QueueFdatasync(fd, kUserDataSync);
    RAZAR_RETURN_IF_ERROR(ring_->Submit());
    // Reap every completion of this submission first and only then judge:
    // the cancelled sync may arrive before the short write that caused it.
    const int expected = (write_pending ? 1 : 0) + (sync ? 1 : 0);
    int32_t write_res = 0, sync_res = 0;
    for (int i = 0; i < expected; ++i) {
      Ring::Completion c;
      RAZAR_RETURN_IF_ERROR(ring_->WaitCompletion(&c));
      (c.user_data == kUserDataWrite ? write_res : sync_res) = c.res;
    }
    bool retry = false;
    Status failure;
    if (write_pending) {
      if (write_res == -EAGAIN || write_res == -EINTR || write_res == 0) {
        retry = true;
      } else if (write_res < 0) {
        failure = Status::FromErrno("log write", -write_res);
      } else {
        done += static_cast<uint32_t>(write_res);
        stalled = 0;  // progress: only resubmissions without progress are bounded
        if (done < len) retry = true;
      }
    }
    const bool sync_cancelled_by_write = sync_res == -ECANCELED && (retry || !failure.ok());
    if (sync && sync_res < 0 && !sync_cancelled_by_write && failure.ok()) {
      failure = Status::FromErrno("log fdatasync", -sync_res);
    }
    if (!failure.ok()) return failure;
    if (!retry) return Status::Ok();
    {
      std::lock_guard<std::mutex> l(mu_);
      ++stats_.short_writes;
    }
    if (++stalled > kMaxStalledResubmits) {
      return Status::IoError("log write made no progress after " +
                             std::to_string(kMaxStalledResubmits) + " resubmissions");
    }
  }
}

Status LogWriter::FinishSegment() {
  if (segment_ == nullptr) return Status::Ok();
  // The old segment is synced before the next one is named, so a crash never
  // leaves a later segment after an unsynced hole.
  Status s = env_->Fdatasync(segment_->fd);
  Status c = env_->Close(segment_->fd);
  segment_.reset();
  if (!s.ok()) return s.WithContext("syncing finished segment");
  return c;
}

Status LogWriter::OpenNextSegment(Lsn first_lsn) {
  RAZAR_ASSIGN_OR_RETURN(std::string spare, TakeSpareSegment());
  const std::string path = JoinPath(options_.dir, lf::SegmentFileName(first_lsn));
  int fd = -1;
  if (direct_) {
    Result<int> r = env_->Open(spare, O_RDWR | O_DIRECT);
    if (r.ok()) {
      fd = *r;
    } else if (r.status().err() == EINVAL && segment_ == nullptr && stats_.segments_created == 0) {
      // The file system has no O_DIRECT (e.g. tmpfs). Decided once, at the
      // first segment in Init, before any buffer is laid out for it.
      direct_ = false;
    } else {
      return r.status();
    }
  }
  if (fd < 0) {
    RAZAR_ASSIGN_OR_RETURN(fd, env_->Open(spare, O_RDWR));
  }
  ScopedFd guard(env_, fd);
  alignas(lf::kBlockBytes) static thread_local uint8_t header[lf::kSegmentHeaderBytes];
  lf::EncodeSegmentHeader(
      header, first_lsn, options_.segment_bytes, env_->NowUnixNanos(),
      options_.durability == Durability::kBatch ? lf::kSegFlagSyncedCommits : 0);
  RAZAR_RETURN_IF_ERROR(env_->PWrite(fd, header, sizeof(header), 0));
  RAZAR_RETURN_IF_ERROR(env_->Fdatasync(fd));
  RAZAR_RETURN_IF_ERROR(env_->Rename(spare, path));
  RAZAR_RETURN_IF_ERROR(env_->SyncDir(options_.dir));
  segment_ = std::make_unique<Segment>();
  segment_->fd = guard.release();
  segment_->first_lsn = first_lsn;
  segment_->path = path;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.segments_created;
    stats_.direct_io = direct_;
  }
  return Status::Ok();
}

// Hands over the ready spare, or prepares one synchronously if the
// background preparer has not finished; then asks for the next spare.
Result<std::string> LogWriter::TakeSpareSegment() {
  std::unique_lock<std::mutex> l(prep_mu_);
  prep_cv_.wait(l, [&] { return !spare_path_.empty() || !prep_wanted_ || !prep_status_.ok(); });
  if (!prep_status_.ok()) return prep_status_;
  std::string path;
  if (!spare_path_.empty()) {
    path = std::move(spare_path_);
    spare_path_.clear();
  } else {
    path = JoinPath(options_.dir, kSparePrefix + std::to_string(spare_seq_++) + kSpareSuffix);
    l.unlock();
    RAZAR_RETURN_IF_ERROR(PrepareSpare(path));
    l.lock();
  }
  prep_wanted_ = true;
  prep_cv_.notify_all();
  return path;
}

Status LogWriter::PrepareSpare(const std::string& path) {
  RAZAR_ASSIGN_OR_RETURN(int fd, env_->Open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
  ScopedFd guard(env_, fd);
  const bool prewrite = options_.prewrite_segments == LogWriterOptions::Prewrite::kAlways ||
                        (options_.prewrite_segments == LogWriterOptions::Prewrite::kAuto &&
                         options_.durability != Durability::kNone);
  if (prewrite) {
    // Write every block once so that appends later overwrite allocated,
    // initialised blocks and their fdatasync has no extent metadata to commit.
    constexpr size_t kChunk = 1u << 20;
    static const std::vector<uint8_t> zeros(kChunk, 0);
    for (uint64_t off = 0; off < options_.segment_bytes; off += kChunk) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(kChunk, options_.segment_bytes - off));
      RAZAR_RETURN_IF_ERROR(env_->PWrite(fd, zeros.data(), n, off));
    }
  } else {
    RAZAR_RETURN_IF_ERROR(env_->Truncate(path, options_.segment_bytes));
  }
  RAZAR_RETURN_IF_ERROR(env_->Fdatasync(fd));
  std::lock_guard<std::mutex> l(mu_);
  ++stats_.spares_prepared;
  return Status::Ok();
}

void LogWriter::PreparerLoop() {
  std::unique_lock<std::mutex> l(prep_mu_);
  for (;;) {
    prep_cv_.wait(l, [&] { return prep_stop_ || (prep_wanted_ && spare_path_.empty()); });
    if (prep_stop_) return;
    const std::string path =
        JoinPath(options_.dir, kSparePrefix + std::to_string(spare_seq_++) + kSpareSuffix);
    l.unlock();
    Status s = PrepareSpare(path);
    l.lock();
    prep_wanted_ = false;
    if (s.ok()) {
      spare_path_ = path;
    } else {
      prep_status_ = s;
      env_->Remove(path).IgnoreError();  // best effort: a partial spare holds no records
    }
    prep_cv_.notify_all();
  }
}

Lsn LogWriter::last_lsn() const {
  std::lock_guard<std::mutex> l(mu_);
  return next_lsn_ - 1;
}
Lsn LogWriter::written_lsn() const { return written_lsn_.load(std::memory_order_acquire); }
Lsn LogWriter::synced_lsn() const { return synced_lsn_.load(std::memory_order_acquire); }
Status LogWriter::status() const {
  std::lock_guard<std::mutex> l(mu_);
  return latched_;
}
LogWriterStats LogWriter::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace razar::storage
