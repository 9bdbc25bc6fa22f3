// LogWriter: the multi-producer, group-committing writer of the heartbeat
// log (format: docs/formats/heartbeat-log.md).
//
// Producers call Append() from any thread. Append assigns the next LSN,
// frames the record into the open in-memory batch and returns at once; a
// single flusher thread seals the batch and writes it through io_uring
// (registered buffers), linked to an fdatasync in `batch` mode, while the
// producers fill the next batch — that is the group commit.
//
// What an acknowledgement means. WaitDurable(lsn) returns OK once the record
// is acknowledged in the writer's durability mode:
//   kNone     — written to the kernel (survives a crash of this process, not
//               of the machine). Data reaches the disk when the kernel
//               writes it back, at rollover, Sync() or Close().
//   kBatch    — written and fdatasync'ed: survives power loss. Every
//               acknowledged append is durable.
//   kInterval — written to the kernel; an fdatasync runs at least every
//               `interval_ms`, so at most that much acknowledged data is at
//               risk on power loss (Redis `appendfsync everysec` semantics).
// Sync() forces an fdatasync of everything appended so far, in any mode.
//
// Failure. The first failed write or sync (or any I/O error of the flusher)
// latches the writer: every waiting and later WaitDurable/Append/Sync
// returns that error (code kFailed, message naming the original error) and
// no record is acknowledged after it — including records that were in the
// failed batch. Reopen the directory to recover what is on disk.
//
// Thread safety: every public method is safe to call concurrently, except
// that Close() and the destructor must not race other calls.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "storage/env.h"
#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/status.h"

namespace razar::storage {

enum class Durability { kNone, kBatch, kInterval };

// Parses "none" / "batch" / "interval".
Result<Durability> ParseDurability(std::string_view name);
const char* DurabilityName(Durability d);

struct LogWriterOptions {
  // Borrowed; must outlive the writer. Default: Env::Default().
  Env* env = nullptr;
  // Log directory; created if missing. Required.
  std::string dir;
  // Segment capacity. Default: 64 MiB. Range: 64 KiB .. 1 GiB, multiple of 4096.
  uint64_t segment_bytes = log_format::kDefaultSegmentBytes;
  // Default: kBatch.
  Durability durability = Durability::kBatch;
  // kInterval only: longest time between fdatasyncs. Default: 1000 ms.
  uint32_t interval_ms = 1000;
  // Size of each group-commit buffer: the most bytes one commit writes, and
  // how far producers may run ahead of the disk before Append blocks.
  // Two are allocated and pre-faulted at open. Default: 16 MiB (at 4 MiB
  // the producers of a none-mode log outrun the commits; see
  // docs/benchmarks.md). Range: 64 KiB .. 256 MiB, a multiple of 4096;
  // must hold the largest record plus one block.
  uint32_t buffer_bytes = 16u << 20;
  // Pre-write new segments with zeros (and sync them) before use, in a
  // background thread one segment ahead, so that synced appends overwrite
  // allocated blocks and their fdatasync has no extent metadata to commit.
  // It doubles the bytes written, which only pays off when appends sync.
  // Default: kAuto = pre-write unless durability is kNone. kNever leaves
  // segments sparse (ftruncate).
  enum class Prewrite { kAuto, kAlways, kNever };
  Prewrite prewrite_segments = Prewrite::kAuto;
  // Write segments with O_DIRECT from the registered buffers: no page-cache
  // copy, so the flusher costs almost no CPU. Every commit then writes whole
  // 4 KiB blocks: the partly filled last block of a commit is written again,
  // with the same bytes plus the new records, by the next commit. Falls back
  // to buffered I/O where the file system refuses O_DIRECT (stats().direct_io
  // says which). Default: true.
  bool direct_io = true;
  // How the existing log is read at open (see log_reader.h).
  // Default: kPointInTimeRecovery.
  RecoveryMode recovery_mode = RecoveryMode::kPointInTimeRecovery;
};

struct LogWriterStats {
  uint64_t appends = 0;       // records accepted
  uint64_t append_bytes = 0;  // framed bytes accepted
  uint64_t commits = 0;       // write operations completed (group commits)
  uint64_t syncs = 0;         // fdatasyncs completed
  uint64_t short_writes = 0;  // writes resubmitted after a short or -EAGAIN completion
  uint64_t segments_created = 0;
  uint64_t spares_prepared = 0;  // spare segments made ready (filled or sized, and synced)
  uint64_t producer_waits = 0;   // appends that blocked on a full buffer
  bool direct_io = false;        // segments are written with O_DIRECT
};

class LogWriter {
 public:
  // Opens (creating if needed) the log in options.dir. An existing log is
  // read in options.recovery_mode; appends continue at the LSN after the
  // last valid record, in a new segment (the bytes after it stay behind as
  // an abandoned tail). Fails if the read fails (strict modes reject
  // damage), and in point-in-time mode with Corruption / NotSupported when
  // appending would hide acknowledged records: damage followed by later
  // segments, damage a later synced commit proves was durable, a bad
  // segment header, an unknown mandatory record type. A hole in the last
  // segment with no complete commit after it is a torn, unacknowledged
  // commit and is abandoned. See docs/formats/heartbeat-log.md.
  static Result<std::unique_ptr<LogWriter>> Open(const LogWriterOptions& options);

  // Closes (see Close()).
  ~LogWriter();

  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Frames one record and returns its LSN. Does not wait for I/O unless the
  // open buffer is full. `timestamp_ns == 0` means "now" from the Env clock.
  // Errors: InvalidArgument (type 0, or a record larger than buffer_bytes
  // or than an empty segment), Failed (latched).
  Result<Lsn> Append(uint16_t type, std::span<const uint8_t> payload, int64_t timestamp_ns = 0);

  // Blocks until `lsn` is acknowledged in this writer's durability mode
  // (see above). REQUIRES: lsn was returned by Append on this writer.
  Status WaitDurable(Lsn lsn);

  // Append + WaitDurable: returns once the record is acknowledged.
  Result<Lsn> AppendDurable(uint16_t type, std::span<const uint8_t> payload,
                            int64_t timestamp_ns = 0);

  // Writes and fdatasyncs everything appended before the call.
  Status Sync();

  // Flushes and syncs everything appended, stops the flusher, closes files.
  // Idempotent; returns the latched error, if any.
  Status Close();

  // The LSN the next Append would get, minus one.
  Lsn last_lsn() const;
  // Highest LSN handed to the kernel (acknowledged in kNone/kInterval).
  Lsn written_lsn() const;
  // Highest LSN known to be on disk (acknowledged in kBatch).
  Lsn synced_lsn() const;
  // OK, or the latched error.
  Status status() const;
  LogWriterStats stats() const;
  // What the open-time read found in the existing log.
  const ReadReport& recovery_report() const { return recovery_report_; }
  const LogWriterOptions& options() const { return options_; }

 private:
  struct Buffer;
  struct Segment;

  explicit LogWriter(const LogWriterOptions& options);
  static Status CheckAppendable(const ReadReport& rep, const std::string& dir);
  Status Init(Lsn next_lsn);
  void FlusherLoop();
  // Flusher helpers; the first three REQUIRE mu_ held.
  bool SyncDue() const;
  void WaitForFlusherWork(std::unique_lock<std::mutex>& l);
  Buffer* SealOpenBuffer();
  void PublishCommit(bool wrote, bool synced, Lsn covered, Lsn synced_through);  // REQUIRES: mu_
  Status CommitBuffer(Buffer* b, bool sync, Lsn* synced_through);
  void PreparerLoop();
  Status WriteRange(int fd, const uint8_t* data, uint32_t len, uint64_t offset, int buf_index,
                    bool sync);
  Status OpenNextSegment(Lsn first_lsn);
  Result<std::string> TakeSpareSegment();
  Status PrepareSpare(const std::string& path);
  void Latch(const Status& s);  // REQUIRES: mu_ held
  Status WaitFor(const std::atomic<Lsn>& published, Lsn lsn);
  void PublishDurable();
  Status FinishSegment();
  static uint32_t AlignUp(uint32_t n);
  void CarryTailBlock(const Buffer* sealed);

  LogWriterOptions options_;
  Env* env_;
  ReadReport recovery_report_;
  std::unique_ptr<Ring> ring_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // flusher waits: data to write, sync requests, close
  std::condition_variable space_cv_;  // producers: a buffer became free
  // Guarded by mu_:
  std::vector<std::unique_ptr<Buffer>> buffers_;  // two: one open, one in flight
  Buffer* open_ = nullptr;                        // producers fill this one
  uint64_t seals_ = 0;                            // buffers sealed so far
  Lsn next_lsn_ = 1;
  // Published by the flusher (under mu_), read by waiters without it.
  std::atomic<Lsn> written_lsn_{0};
  std::atomic<Lsn> synced_lsn_{0};
  std::atomic<uint32_t> durable_epoch_{0};  // bumped (and futex-woken) on every publish
  std::atomic<bool> stop_waiting_{false};   // latched, or the flusher exited
  Lsn sync_requested_lsn_ = 0;              // Sync() wants synced_lsn_ >= this
  uint64_t segment_used_ = 0;  // bytes of the current segment taken by records (incl. header)
  Lsn segment_first_lsn_ = 0;  // seed of the current segment
  bool closing_ = false;
  bool flusher_busy_ = false;
  Status latched_;
  LogWriterStats stats_;

  // Set before the flusher starts; cleared by it (only) if O_DIRECT is refused.
  bool direct_ = true;
  // Flusher-thread state (no lock needed).
  std::unique_ptr<Segment> segment_;
  uint64_t last_sync_mono_ns_ = 0;

  // Preparer state, guarded by prep_mu_.
  std::mutex prep_mu_;
  std::condition_variable prep_cv_;
  std::string spare_path_;  // ready spare, or empty
  bool prep_stop_ = false;
  bool prep_wanted_ = false;
  uint64_t spare_seq_ = 0;
  Status prep_status_;

  std::thread flusher_;
  std::thread preparer_;
  bool closed_ = false;
};

}  // namespace razar::storage
