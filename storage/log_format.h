// Constants of the heartbeat-log format, shared by the writer and the reader.
// The byte grammar is specified in docs/formats/heartbeat-log.md; every
// number here appears there, and the static_asserts keep the two in step.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace razar::storage {

using Lsn = uint64_t;

namespace log_format {

inline constexpr char kMagic[8] = {'R', 'A', 'Z', 'A', 'R', 'L', 'O', 'G'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kBlockBytes = 4096;
inline constexpr uint32_t kSegmentHeaderBytes = 4096;
inline constexpr uint32_t kRecordHeaderBytes = 32;
inline constexpr uint32_t kRecordAlign = 8;
inline constexpr uint32_t kMaxPayloadBytes = 1u << 20;
inline constexpr uint64_t kMinSegmentBytes = 64u << 10;
inline constexpr uint64_t kMaxSegmentBytes = 1ull << 30;
inline constexpr uint64_t kDefaultSegmentBytes = 64ull << 20;
inline constexpr const char* kSegmentSuffix = ".hblog";
inline constexpr size_t kSegmentNameDigits = 20;

// Segment header field offsets.
inline constexpr size_t kHdrMagic = 0;
inline constexpr size_t kHdrVersion = 8;
inline constexpr size_t kHdrHeaderBytes = 12;
inline constexpr size_t kHdrFirstLsn = 16;
inline constexpr size_t kHdrSegmentBytes = 24;
inline constexpr size_t kHdrCreatedNs = 32;
inline constexpr size_t kHdrBlockBytes = 40;
inline constexpr size_t kHdrFlags = 44;
inline constexpr size_t kHdrChecksum = 48;  // XXH3-64 seed 0 over [0, 48)
inline constexpr size_t kHdrUsedBytes = 56;

// Record header field offsets.
inline constexpr size_t kRecChecksum = 0;  // XXH3-64 seed first_lsn over [8, 32 + length)
inline constexpr size_t kRecLength = 8;
inline constexpr size_t kRecType = 12;
inline constexpr size_t kRecFlags = 14;
inline constexpr size_t kRecLsn = 16;
inline constexpr size_t kRecTimestamp = 24;

static_assert(sizeof(kMagic) == 8);
static_assert(kHdrChecksum + 8 == kHdrUsedBytes);
static_assert(kHdrUsedBytes <= kSegmentHeaderBytes);
static_assert(kSegmentHeaderBytes % kBlockBytes == 0, "records start block-aligned");
static_assert(kRecTimestamp + 8 == kRecordHeaderBytes);
static_assert(kRecordHeaderBytes % kRecordAlign == 0);
static_assert(kMinSegmentBytes % kBlockBytes == 0 && kMaxSegmentBytes % kBlockBytes == 0);
static_assert(kDefaultSegmentBytes >= kSegmentHeaderBytes + kRecordHeaderBytes + kMaxPayloadBytes,
              "the default segment holds the largest record");

// Record flags (u16). Unknown bits make a record invalid.
inline constexpr uint16_t kFlagCommitEnd = 0x0001;  // last record of a group commit
inline constexpr uint16_t kKnownRecordFlags = kFlagCommitEnd;
// Segment header flags (u32). Unknown bits make the header invalid.
// kSegFlagSyncedCommits: every commit was synced before the next was
// written (durability `batch`), so a complete later commit proves that the
// bytes before it were on disk.
inline constexpr uint32_t kSegFlagSyncedCommits = 0x1;
inline constexpr uint32_t kKnownSegmentFlags = kSegFlagSyncedCommits;

// Record types (u16).
enum RecordType : uint16_t {
  kNone = 0,    // never a record: a zero header marks unwritten space
  kRecord = 1,  // FlatBuffers razar.fb.Record
  kBeat = 2,    // bare razar.fb.Beat struct (16 bytes)
  kLastKnownType = kBeat,
  kFirstSkippableType = 0x8000,  // 0x8000..0xFFFF: unknown ones are skipped
};

inline constexpr bool IsSkippableType(uint16_t type) { return type >= kFirstSkippableType; }
inline constexpr bool IsKnownType(uint16_t type) { return type >= 1 && type <= kLastKnownType; }

// Bytes a record with `payload_len` bytes of payload occupies, padding included.
inline constexpr uint64_t RecordFootprint(uint64_t payload_len) {
  return (kRecordHeaderBytes + payload_len + kRecordAlign - 1) & ~uint64_t{kRecordAlign - 1};
}
static_assert(RecordFootprint(0) == 32 && RecordFootprint(1) == 40 && RecordFootprint(8) == 40);

inline uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t LoadU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void StoreU16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void StoreU32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void StoreU64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the format is little-endian; "
              "a big-endian port must byte-swap in Load/Store");

// "00000000000000000001.hblog" for first_lsn 1.
std::string SegmentFileName(Lsn first_lsn);
// Parses a segment file name; returns false for any other name.
bool ParseSegmentFileName(std::string_view name, Lsn* first_lsn);

// Fills a kSegmentHeaderBytes block. REQUIRES: out has kSegmentHeaderBytes.
void EncodeSegmentHeader(uint8_t* out, Lsn first_lsn, uint64_t segment_bytes, int64_t created_ns,
                         uint32_t flags);

struct SegmentHeader {
  Lsn first_lsn = 0;
  uint64_t segment_bytes = 0;
  int64_t created_unix_ns = 0;
  uint32_t flags = 0;
};
// Validates a header block (magic, version, sizes, flags, checksum). On
// failure returns false and sets *why.
bool DecodeSegmentHeader(const uint8_t* in, size_t n, SegmentHeader* out, std::string* why);

// Record checksum over [8, 32 + length) with the segment's seed.
uint64_t RecordChecksum(const uint8_t* record, uint32_t payload_len, Lsn seed);

// Writes a complete record (header + payload + zero padding) at `out` and
// returns its footprint; flags are 0. REQUIRES: out has
// RecordFootprint(payload_len) bytes.
uint64_t EncodeRecord(uint8_t* out, uint16_t type, Lsn lsn, int64_t timestamp_ns,
                      const uint8_t* payload, uint32_t payload_len, Lsn seed);

// Sets `flags` on an encoded record and recomputes its checksum.
void SetRecordFlags(uint8_t* record, uint16_t flags, Lsn seed);

}  // namespace log_format
}  // namespace razar::storage
