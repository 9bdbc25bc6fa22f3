// Helpers for the heartbeat-log tests: reading a whole log into memory and
// comparing record lists, byte-level file surgery, deterministic payloads, a
// seeded random record stream, and small writer options.
//
// Test support (razar_testing, GoogleTest-based): helpers that cannot do
// their job fail the running test (ADD_FAILURE / ASSERT) and return an
// empty result.
//
// Thread safety: free functions are thread-safe; objects are single-threaded.
#pragma once

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/env.h"
#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/log_writer.h"
#include "storage/record_codec.h"
#include "storage/status.h"
#include "testing/temp_dir.h"

namespace razar::storage::testing {

// ---------------------------------------------------------------------------
// io_uring availability: writer tests that need the default Env skip
// (visibly) when the kernel refuses to set up a ring. Decided once per
// process; *why (optional) gets the reason.
bool UringAvailable(std::string* why);

#define RAZAR_SKIP_WITHOUT_URING()                                                  \
  do {                                                                              \
    std::string _razar_why;                                                         \
    if (!::razar::storage::testing::UringAvailable(&_razar_why)) {                  \
      GTEST_SKIP() << "io_uring unavailable (io_uring_queue_init): " << _razar_why; \
    }                                                                               \
  } while (0)

// ---------------------------------------------------------------------------
// Reading a whole log.

struct OwnedRecord {
  Lsn lsn = 0;
  int64_t timestamp_ns = 0;
  uint16_t type = 0;
  std::vector<uint8_t> payload;

  bool operator==(const OwnedRecord&) const = default;
};

std::ostream& operator<<(std::ostream& os, const OwnedRecord& r);

struct ReadResult {
  Status open_status;                // LogReader::Open
  Status status;                     // OK, or the error Next() returned
  std::vector<OwnedRecord> records;  // returned before the end / the error
  ReadReport report;
};

// Reads every record of `dir` with `mode` (env nullptr: the default).
// Bounded: a reader that never ends fails the test instead of hanging it.
ReadResult ReadLog(const std::string& dir, RecoveryMode mode, Env* env = nullptr);

// Human-readable summary of a read result, for assertion messages.
std::string Describe(const ReadResult& r);

// Asserts that LSNs are first, first + 1, ... (dense).
::testing::AssertionResult LsnsDenseFrom(const std::vector<OwnedRecord>& recs, Lsn first = 1);

// Compares record lists and names the first difference (gtest would print
// both whole lists).
::testing::AssertionResult SameRecords(const std::vector<OwnedRecord>& got,
                                       const std::vector<OwnedRecord>& want);

// ---------------------------------------------------------------------------
// Files (plain POSIX calls: the code under test must not be the one
// reading or damaging its own files).

std::vector<uint8_t> ReadFileBytes(const std::string& path);
// Replaces the file's contents with `bytes` (creating it if needed).
void WriteFileBytes(const std::string& path, const std::vector<uint8_t>& bytes);
// Overwrites `n` bytes at `offset` in place.
void PatchFile(const std::string& path, uint64_t offset, const void* data, size_t n);
uint8_t ReadByteAt(const std::string& path, uint64_t offset);
// Flips bit `bit` (0..7) of the byte at `offset`.
void FlipBit(const std::string& path, uint64_t offset, int bit);
void TruncateFile(const std::string& path, uint64_t length);
// 0 if the file does not exist.
uint64_t FileSizeOf(const std::string& path);
// Copies the regular files of `from` into `to` (created if missing).
void CopyDir(const std::string& from, const std::string& to);
// Names of all entries of a directory, sorted.
std::vector<std::string> ListNames(const std::string& dir);
// Segment file names (`<20 digits>.hblog`) of a log directory, in LSN order.
std::vector<std::string> SegmentNames(const std::string& dir);

// ---------------------------------------------------------------------------
// Deterministic payloads.

uint64_t SplitMix64(uint64_t x);
// `n` pseudo-random bytes determined by `seed`.
std::vector<uint8_t> PatternBytes(uint64_t seed, size_t n);
// The payload a test appends at `lsn`: its length (0..max_len) and bytes are
// a function of the LSN alone, so a reader can check any record in isolation.
std::vector<uint8_t> PayloadForLsn(Lsn lsn, size_t max_len = 300);

// ---------------------------------------------------------------------------
// A seeded random stream of (type, payload) pairs: a mix of every record kind
// of the codec and raw payloads of varied sizes (framed as kRecord; the log
// itself does not interpret payloads).
class RecordStream {
 public:
  struct Item {
    uint16_t type = 0;
    std::vector<uint8_t> payload;
  };

  explicit RecordStream(uint64_t seed, size_t max_raw_len = 512)
      : rng_(seed), max_raw_(max_raw_len) {}

  Item Next();

 private:
  Layer RandomLayer();
  std::string RandomName();
  RecordEncoder::Encoded Encode(RecordKind kind);

  std::mt19937_64 rng_;
  size_t max_raw_;
  RecordEncoder enc_;
  std::vector<uint8_t> bytes_;
};

// ---------------------------------------------------------------------------
// Writer helpers.

// Test-name suffix for a TEST_P over recovery modes: "point_in_time".
struct RecoveryModeParamName {
  template <typename Info>
  std::string operator()(const Info& info) const {
    std::string n = RecoveryModeName(info.param);
    std::replace(n.begin(), n.end(), '-', '_');
    return n;
  }
};

// Writer options for `dir` with small segments (default 64 KiB).
LogWriterOptions SmallLogOptions(const std::string& dir, Durability d = Durability::kNone,
                                 uint64_t segment_bytes = 64u << 10);

// Byte offsets of the records of one segment, given the payload sizes of its
// records in order: offsets[i] is where record i starts; offsets.back() is
// the end of the data (where the next record would start).
std::vector<uint64_t> RecordOffsets(const std::vector<size_t>& payload_sizes);

}  // namespace razar::storage::testing
