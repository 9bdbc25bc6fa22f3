// LogReader: sequential scan of a heartbeat-log directory with checksum
// verification and RocksDB-style recovery modes
// (docs/formats/heartbeat-log.md, "End of data and damage").
//
// The reader never returns a record whose checksum fails, whose LSN breaks
// the dense sequence, or whose bytes cross its segment. It opens files
// O_RDONLY and never writes: safe on a directory a live writer is using
// (it then sees a prefix of the log). Every segment is opened by Open(), so
// segments a live writer's retention deletes afterwards stay readable; a
// leading segment deleted between listing and opening is left out.
//
// Thread safety: a LogReader is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/env.h"
#include "storage/log_format.h"
#include "storage/status.h"

namespace razar::storage {

enum class RecoveryMode {
  // A torn or garbage tail at the end of the log is the normal result of a
  // crash and is tolerated; damage followed by valid records is an error.
  kTolerateCorruptedTailRecords,
  // Any damage, including a torn tail, is an error.
  kAbsoluteConsistency,
  // Stop before the first damage of any kind and return what precedes it.
  // The default.
  kPointInTimeRecovery,
  // Skip damaged regions and continue with the next valid record.
  kSkipAnyCorruptedRecords,
};

// "tolerate-torn-tail", "absolute", "point-in-time", "skip-corrupted".
const char* RecoveryModeName(RecoveryMode mode);
Result<RecoveryMode> ParseRecoveryMode(std::string_view name);

enum class DamageKind {
  kTornTail,          // non-zero bytes at the end of the log that hold no record
  kAbandonedTail,     // damage at a segment's end, next segment continues at last + 1
  kCorruption,        // a hole: valid records follow with an LSN that is not last + 1
  kBadSegmentHeader,  // header checksum, magic, version, flags or name mismatch
  kUnsupportedType,   // a verified record of an unknown mandatory type
  kIoError,           // a read failed
};
const char* DamageKindName(DamageKind kind);

struct Damage {
  std::string segment;    // file name within the log directory
  uint64_t offset = 0;    // byte offset in that file where the damage starts
  uint64_t bytes = 0;     // bytes it spans (to the next valid record or the end)
  Lsn last_good_lsn = 0;  // LSN of the last valid record before it (0: none)
  Lsn next_good_lsn = 0;  // LSN of the first valid record after it (0: none)
  DamageKind kind = DamageKind::kCorruption;
  std::string detail;  // what exactly failed, e.g. "checksum mismatch"
  // kCorruption only: the damaged bytes are proven to have been synced — a
  // complete later group commit follows them in a segment whose commits
  // were each synced before the next (header flag kSegFlagSyncedCommits).
  // When false, the damage may be an unacknowledged commit torn by a crash.
  bool synced_data_damaged = false;
};

struct SegmentSummary {
  std::string name;
  Lsn first_lsn = 0;  // from the name
  uint64_t file_bytes = 0;
  uint64_t records = 0;     // valid records returned or skipped-as-unknown in it
  Lsn last_lsn = 0;         // 0 if none
  uint64_t end_offset = 0;  // offset just past the last valid record
  bool damaged = false;
  bool read = false;  // false: reading stopped before this segment
  uint32_t header_flags = 0;
};

enum class StopReason {
  kCleanEnd,  // every segment read to its end
  kDamage,    // point-in-time / tolerate-torn-tail stopped at a damage (see damages.back())
  kError,     // the mode rejected a damage; Next() returned the error
};
const char* StopReasonName(StopReason r);

struct ReadReport {
  uint64_t records = 0;          // records returned (and skippable ones skipped)
  uint64_t skipped_unknown = 0;  // skippable records of unknown type
  uint64_t payload_bytes = 0;
  uint64_t bytes_scanned = 0;  // framed bytes of valid records
  Lsn first_lsn = 0;           // 0 if no record
  Lsn last_lsn = 0;            // LSN of the last valid record (0 if none)
  StopReason stop = StopReason::kCleanEnd;
  int stop_segment = -1;  // index into segments where reading stopped, -1 if clean
  std::vector<Damage> damages;
  std::vector<SegmentSummary> segments;

  // One line: "N records, LSN a..b, clean end" or "... stopped: <damage>".
  std::string Summary() const;
};
std::string DescribeDamage(const Damage& d);

// A record as returned by the reader. `payload` points into the reader's
// buffer and is valid until the next call to Next().
struct RecordView {
  Lsn lsn = 0;
  int64_t timestamp_ns = 0;
  uint16_t type = 0;
  uint16_t flags = 0;  // log_format::kFlagCommitEnd on the last record of a group commit
  std::span<const uint8_t> payload;
};

struct LogReaderOptions {
  // Borrowed; must outlive the reader. Default: Env::Default().
  Env* env = nullptr;
  // Log directory. Required; NotFound if missing.
  std::string dir;
  // Default: kPointInTimeRecovery.
  RecoveryMode mode = RecoveryMode::kPointInTimeRecovery;
};

class LogReader {
 public:
  // Lists the segments. An empty or segment-less directory is a valid,
  // empty log. Errors: NotFound (no such directory), IoError.
  static Result<std::unique_ptr<LogReader>> Open(const LogReaderOptions& options);
  ~LogReader();
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // Reads the next record into *out and returns true; returns false at the
  // end (clean, or a damage this mode stops at); returns an error status
  // when the mode rejects a damage (Corruption / NotSupported / IoError).
  // After false or an error, report() says where and why.
  Result<bool> Next(RecordView* out);

  const ReadReport& report() const { return report_; }

 private:
  struct Seg {
    std::string name;
    Lsn first_lsn;
    int fd = -1;  // opened by Open(); -1 after LoadSegment or if the open failed
    Status open_error;
  };
  explicit LogReader(const LogReaderOptions& options);
  Status LoadSegment(size_t index);
  // Each returns false when reading stops (done_ set), true to go on.
  bool EnterSegment();
  bool LaterCommitFollows(uint64_t pos) const;
  bool HandleDamage();
  bool StopOrFailOrSkip(const Damage& d);
  bool Fail(Damage damage, Status error);
  bool Stop(Damage damage);
  void Note(Damage damage);
  void AdvanceSegment(Lsn expect);

  LogReaderOptions options_;
  Env* env_;
  std::vector<Seg> segs_;
  ReadReport report_;

  size_t seg_index_ = 0;  // segment being read
  bool seg_loaded_ = false;
  bool started_ = false;
  bool header_ok_ = false;
  uint32_t header_flags_ = 0;
  std::string header_why_;
  std::vector<uint8_t> buf_;  // contents of the current segment (up to its capacity)
  uint64_t limit_ = 0;        // readable bytes in buf_
  uint64_t pos_ = 0;          // next record position
  Lsn seed_ = 0;              // checksum seed of the current segment
  Lsn expect_ = 0;            // LSN the next record must have
  bool done_ = false;
  Status final_error_;
};

// Checks whether the bytes at `pos` of a segment image form a record that
// verifies with `seed` (rules 1-3 of the format; the LSN is not checked).
// On success fills *out (payload points into `image`) and *footprint.
bool VerifyRecordAt(const uint8_t* image, uint64_t limit, uint64_t pos, Lsn seed, RecordView* out,
                    uint64_t* footprint);

}  // namespace razar::storage
