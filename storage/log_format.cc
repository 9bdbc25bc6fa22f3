#include "storage/log_format.h"

// Inline XXH3 (still the Debian libxxhash header): the record checksum runs
// once per append on ~100 bytes, where a call into the shared library costs
// as much as the hash.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdio>

namespace razar::storage::log_format {

std::string SegmentFileName(Lsn first_lsn) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%020llu%s", static_cast<unsigned long long>(first_lsn),
                kSegmentSuffix);
  return buf;
}

bool ParseSegmentFileName(std::string_view name, Lsn* first_lsn) {
  const std::string_view suffix(kSegmentSuffix);
  if (name.size() != kSegmentNameDigits + suffix.size()) return false;
  if (name.substr(kSegmentNameDigits) != suffix) return false;
  Lsn v = 0;
  for (size_t i = 0; i < kSegmentNameDigits; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return false;
    Lsn next = v * 10 + static_cast<Lsn>(c - '0');
    if (next / 10 != v) return false;  // overflow
    v = next;
  }
  if (v == 0) return false;
  *first_lsn = v;
  return true;
}

void EncodeSegmentHeader(uint8_t* out, Lsn first_lsn, uint64_t segment_bytes, int64_t created_ns,
                         uint32_t flags) {
  std::memset(out, 0, kSegmentHeaderBytes);
  std::memcpy(out + kHdrMagic, kMagic, sizeof(kMagic));
  StoreU32(out + kHdrVersion, kFormatVersion);
  StoreU32(out + kHdrHeaderBytes, kSegmentHeaderBytes);
  StoreU64(out + kHdrFirstLsn, first_lsn);
  StoreU64(out + kHdrSegmentBytes, segment_bytes);
  StoreU64(out + kHdrCreatedNs, static_cast<uint64_t>(created_ns));
  StoreU32(out + kHdrBlockBytes, kBlockBytes);
  StoreU32(out + kHdrFlags, flags);
  StoreU64(out + kHdrChecksum, XXH3_64bits(out, kHdrChecksum));
}

bool DecodeSegmentHeader(const uint8_t* in, size_t n, SegmentHeader* out, std::string* why) {
  if (n < kHdrUsedBytes) {
    *why = "segment header truncated (" + std::to_string(n) + " bytes)";
    return false;
  }
  if (LoadU64(in + kHdrChecksum) != XXH3_64bits(in, kHdrChecksum)) {
    *why = "segment header checksum mismatch";
    return false;
  }
  if (std::memcmp(in + kHdrMagic, kMagic, sizeof(kMagic)) != 0) {
    *why = "bad magic";
    return false;
  }
  uint32_t version = LoadU32(in + kHdrVersion);
  if (version != kFormatVersion) {
    *why = "unsupported format version " + std::to_string(version);
    return false;
  }
  if (LoadU32(in + kHdrHeaderBytes) != kSegmentHeaderBytes ||
      LoadU32(in + kHdrBlockBytes) != kBlockBytes) {
    *why = "unsupported header or block size";
    return false;
  }
  out->flags = LoadU32(in + kHdrFlags);
  if ((out->flags & ~kKnownSegmentFlags) != 0) {
    *why = "unknown header flags";
    return false;
  }
  uint64_t seg = LoadU64(in + kHdrSegmentBytes);
  if (seg < kMinSegmentBytes || seg > kMaxSegmentBytes || seg % kBlockBytes != 0) {
    *why = "bad segment size " + std::to_string(seg);
    return false;
  }
  out->first_lsn = LoadU64(in + kHdrFirstLsn);
  out->segment_bytes = seg;
  out->created_unix_ns = static_cast<int64_t>(LoadU64(in + kHdrCreatedNs));
  if (out->first_lsn == 0) {
    *why = "first_lsn is 0";
    return false;
  }
  return true;
}

uint64_t RecordChecksum(const uint8_t* record, uint32_t payload_len, Lsn seed) {
  return XXH3_64bits_withSeed(record + kRecLength, kRecordHeaderBytes - kRecLength + payload_len,
                              seed);
}

uint64_t EncodeRecord(uint8_t* out, uint16_t type, Lsn lsn, int64_t timestamp_ns,
                      const uint8_t* payload, uint32_t payload_len, Lsn seed) {
  const uint64_t footprint = RecordFootprint(payload_len);
  StoreU32(out + kRecLength, payload_len);
  StoreU16(out + kRecType, type);
  StoreU16(out + kRecFlags, 0);
  StoreU64(out + kRecLsn, lsn);
  StoreU64(out + kRecTimestamp, static_cast<uint64_t>(timestamp_ns));
  if (payload_len > 0) std::memcpy(out + kRecordHeaderBytes, payload, payload_len);
  // Zero the alignment padding: buffers are reused, and the format says zeros.
  const uint64_t used = kRecordHeaderBytes + payload_len;
  if (footprint > used) std::memset(out + used, 0, footprint - used);
  StoreU64(out + kRecChecksum, RecordChecksum(out, payload_len, seed));
  return footprint;
}

}  // namespace razar::storage::log_format

namespace razar::storage::log_format {

void SetRecordFlags(uint8_t* record, uint16_t flags, Lsn seed) {
  StoreU16(record + kRecFlags, flags);
  StoreU64(record + kRecChecksum, RecordChecksum(record, LoadU32(record + kRecLength), seed));
}

}  // namespace razar::storage::log_format
