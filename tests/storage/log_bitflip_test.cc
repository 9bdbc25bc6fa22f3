// Single-bit damage anywhere in a written log (docs/formats/heartbeat-log.md,
// "End of data and damage" and "Recovery modes"): no altered record is ever
// returned, and each recovery mode returns exactly what the spec's table
// says for the kind of damage the flipped bit causes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "storage/log_writer.h"
#include "testing/log_test_util.h"

namespace razar::storage {
namespace {

using testing::OwnedRecord;
using testing::ReadLog;
using testing::ReadResult;
using testing::TempDir;
namespace lf = log_format;

constexpr uint64_t kSeg = 64u << 10;
constexpr uint64_t kTailBytes = 64;  // zero bytes after the data that get flipped too

const RecoveryMode kAllModes[] = {
    RecoveryMode::kTolerateCorruptedTailRecords, RecoveryMode::kAbsoluteConsistency,
    RecoveryMode::kPointInTimeRecovery, RecoveryMode::kSkipAnyCorruptedRecords};

// Where every byte of the written log belongs.
struct Layout {
  struct Rec {
    size_t seg = 0;
    uint64_t offset = 0;
    size_t payload = 0;
  };
  std::vector<OwnedRecord> records;  // index = LSN - 1
  std::vector<Rec> recs;             // index = LSN - 1
  std::vector<std::string> segs;
  std::vector<Lsn> first_lsn;
  std::vector<uint64_t> data_end;  // per segment: end of the last record's padding
};

Layout WriteLog(const std::string& dir, size_t n, size_t (*payload_size)(Lsn)) {
  Layout out;
  auto w = LogWriter::Open(testing::SmallLogOptions(dir, Durability::kNone, kSeg));
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return out;
  for (size_t i = 1; i <= n; ++i) {
    auto payload = testing::PatternBytes(i, payload_size(i));
    auto lsn = (*w)->Append(lf::kRecord, payload, static_cast<int64_t>(i) * 1000);
    EXPECT_TRUE(lsn.ok() && *lsn == i);
    out.records.push_back(OwnedRecord{i, static_cast<int64_t>(i) * 1000, lf::kRecord, payload});
  }
  EXPECT_TRUE((*w)->Close().ok());
  out.segs = testing::SegmentNames(dir);
  auto r = ReadLog(dir, RecoveryMode::kAbsoluteConsistency);
  EXPECT_TRUE(r.status.ok()) << testing::Describe(r);
  EXPECT_TRUE(testing::SameRecords(r.records, out.records));
  EXPECT_EQ(r.report.segments.size(), out.segs.size());
  for (size_t s = 0; s < out.segs.size(); ++s) {
    Lsn first = 0;
    EXPECT_TRUE(lf::ParseSegmentFileName(out.segs[s], &first));
    out.first_lsn.push_back(first);
  }
  // Record offsets from the format.
  for (size_t s = 0; s < out.segs.size(); ++s) {
    uint64_t pos = lf::kSegmentHeaderBytes;
    const Lsn end = s + 1 < out.segs.size() ? out.first_lsn[s + 1] : n + 1;
    for (Lsn l = out.first_lsn[s]; l < end; ++l) {
      out.recs.push_back(Layout::Rec{s, pos, out.records[l - 1].payload.size()});
      pos += lf::RecordFootprint(out.records[l - 1].payload.size());
    }
    out.data_end.push_back(pos);
    if (s < r.report.segments.size()) {
      EXPECT_EQ(r.report.segments[s].end_offset, pos);
    }
  }
  EXPECT_EQ(out.recs.size(), n);
  return out;
}

enum class Region { kHeader, kReserved, kRecord, kPadding, kTail };

struct Flip {
  size_t seg = 0;
  uint64_t offset = 0;
  int bit = 0;
  Region region = Region::kHeader;
  Lsn lsn = 0;  // kRecord / kPadding: the record the byte belongs to
};

Region Classify(const Layout& L, size_t seg, uint64_t off, Lsn* lsn) {
  if (off < lf::kHdrUsedBytes) return Region::kHeader;
  if (off < lf::kSegmentHeaderBytes) return Region::kReserved;
  for (size_t i = 0; i < L.recs.size(); ++i) {
    const auto& r = L.recs[i];
    if (r.seg != seg) continue;
    const uint64_t body_end = r.offset + lf::kRecordHeaderBytes + r.payload;
    const uint64_t padded_end = r.offset + lf::RecordFootprint(r.payload);
    if (off >= r.offset && off < padded_end) {
      *lsn = i + 1;
      return off < body_end ? Region::kRecord : Region::kPadding;
    }
  }
  return Region::kTail;
}

std::vector<OwnedRecord> Except(const std::vector<OwnedRecord>& all, Lsn lo, Lsn hi) {
  std::vector<OwnedRecord> out;
  for (const auto& r : all) {
    if (r.lsn < lo || r.lsn > hi) out.push_back(r);
  }
  return out;
}

// Safety, in every mode and for every flip: whatever comes back is original.
void CheckNoAlteredRecord(const Layout& L, const ReadResult& r) {
  Lsn prev = 0;
  for (const auto& rec : r.records) {
    ASSERT_GE(rec.lsn, 1u);
    ASSERT_LE(rec.lsn, L.records.size()) << "an LSN that was never written";
    ASSERT_GT(rec.lsn, prev) << "LSNs out of order";
    prev = rec.lsn;
    ASSERT_TRUE(rec == L.records[rec.lsn - 1]) << "returned an altered record " << rec;
  }
}

::testing::AssertionResult IsPrefix(const std::vector<OwnedRecord>& got,
                                    const std::vector<OwnedRecord>& of) {
  if (got.size() > of.size()) return ::testing::AssertionFailure() << "longer than the prefix";
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(got[i] == of[i])) return ::testing::AssertionFailure() << "differs at #" << i;
  }
  return ::testing::AssertionSuccess();
}

// What the spec's table says for the damage a flip causes.
void CheckAgainstSpec(const Layout& L, const Flip& f, RecoveryMode mode, const ReadResult& r) {
  const auto& all = L.records;
  const Lsn n = all.size();
  const bool strict_fail = mode == RecoveryMode::kAbsoluteConsistency;
  switch (f.region) {
    case Region::kPadding:
      // Padding is not covered by the checksum and not part of a record.
      ASSERT_TRUE(r.status.ok());
      EXPECT_TRUE(testing::SameRecords(r.records, all));
      EXPECT_TRUE(r.report.damages.empty());
      return;
    case Region::kTail: {
      // Non-zero bytes after the last record: a torn tail at the end of the
      // log, an abandoned tail when the next segment continues at last + 1.
      const bool last_seg = f.seg + 1 == L.segs.size();
      ASSERT_FALSE(r.report.damages.empty());
      const Damage& d = r.report.damages.front();
      EXPECT_EQ(d.kind, last_seg ? DamageKind::kTornTail : DamageKind::kAbandonedTail);
      EXPECT_EQ(d.segment, L.segs[f.seg]);
      // The damage starts where the next record was expected, or at the
      // first non-zero byte after it.
      EXPECT_GE(d.offset, L.data_end[f.seg]);
      EXPECT_LE(d.offset, f.offset);
      const Lsn last_in_seg = f.seg + 1 < L.segs.size() ? L.first_lsn[f.seg + 1] - 1 : n;
      EXPECT_EQ(d.last_good_lsn, last_in_seg);
      EXPECT_EQ(d.next_good_lsn, last_seg ? 0 : last_in_seg + 1);
      if (strict_fail) {
        EXPECT_FALSE(r.status.ok());
        EXPECT_TRUE(IsPrefix(r.records, all));
      } else {
        ASSERT_TRUE(r.status.ok());
        EXPECT_TRUE(testing::SameRecords(r.records, all));
      }
      return;
    }
    case Region::kHeader: {
      // The segment's header does not verify; its records still verify with
      // the seed from the file name.
      const auto before = Except(all, L.first_lsn[f.seg], n);
      ASSERT_FALSE(r.report.damages.empty());
      EXPECT_EQ(r.report.damages.front().kind, DamageKind::kBadSegmentHeader);
      EXPECT_EQ(r.report.damages.front().segment, L.segs[f.seg]);
      switch (mode) {
        case RecoveryMode::kPointInTimeRecovery:
          ASSERT_TRUE(r.status.ok());
          EXPECT_TRUE(testing::SameRecords(r.records, before));
          break;
        case RecoveryMode::kSkipAnyCorruptedRecords:
          ASSERT_TRUE(r.status.ok());
          EXPECT_TRUE(testing::SameRecords(r.records, all));
          break;
        default:
          EXPECT_FALSE(r.status.ok());
          EXPECT_TRUE(IsPrefix(r.records, before));
      }
      return;
    }
    case Region::kRecord: {
      // The record fails its checksum. Valid records after it make it a
      // hole; otherwise it is a torn tail.
      const Lsn d = f.lsn;
      const bool hole = d < n;
      const auto before = Except(all, d, n);
      ASSERT_FALSE(r.report.damages.empty());
      const Damage& dmg = r.report.damages.front();
      EXPECT_EQ(dmg.kind, hole ? DamageKind::kCorruption : DamageKind::kTornTail);
      EXPECT_EQ(dmg.segment, L.segs[f.seg]);
      EXPECT_EQ(dmg.offset, L.recs[d - 1].offset);
      EXPECT_EQ(dmg.last_good_lsn, d - 1);
      EXPECT_EQ(dmg.next_good_lsn, hole ? d + 1 : 0);
      switch (mode) {
        case RecoveryMode::kPointInTimeRecovery:
          ASSERT_TRUE(r.status.ok());
          EXPECT_TRUE(testing::SameRecords(r.records, before));
          EXPECT_EQ(r.report.stop, StopReason::kDamage);
          break;
        case RecoveryMode::kSkipAnyCorruptedRecords:
          ASSERT_TRUE(r.status.ok());
          EXPECT_TRUE(testing::SameRecords(r.records, Except(all, d, d)));
          break;
        case RecoveryMode::kTolerateCorruptedTailRecords:
          if (hole) {
            EXPECT_FALSE(r.status.ok());
            EXPECT_TRUE(r.status.IsCorruption()) << r.status.ToString();
            EXPECT_TRUE(IsPrefix(r.records, before));
          } else {
            ASSERT_TRUE(r.status.ok());
            EXPECT_TRUE(testing::SameRecords(r.records, before));
          }
          break;
        case RecoveryMode::kAbsoluteConsistency:
          EXPECT_FALSE(r.status.ok());
          EXPECT_TRUE(IsPrefix(r.records, before));
          break;
      }
      return;
    }
    case Region::kReserved: {
      // The spec does not say whether readers check the reserved bytes:
      // either they are ignored, or the header is bad.
      const bool ignored = r.status.ok() && r.records == all && r.report.damages.empty();
      const bool bad_header = !r.report.damages.empty() &&
                              r.report.damages.front().kind == DamageKind::kBadSegmentHeader;
      EXPECT_TRUE(ignored || bad_header);
      return;
    }
  }
}

// Keeps a file open to flip bits in place cheaply.
class BitFlipper {
 public:
  explicit BitFlipper(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CLOEXEC)) {
    EXPECT_GE(fd_, 0) << path;
  }
  ~BitFlipper() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Flip(uint64_t offset, int bit) {
    uint8_t b = 0;
    ASSERT_EQ(::pread(fd_, &b, 1, static_cast<off_t>(offset)), 1);
    b ^= static_cast<uint8_t>(1u << bit);
    ASSERT_EQ(::pwrite(fd_, &b, 1, static_cast<off_t>(offset)), 1);
  }

 private:
  int fd_;
};

// Flips each (offset, bit) in turn, reads in every mode, and checks.
void RunFlips(const Layout& L, const std::string& dir, const std::vector<Flip>& flips,
              int* checked) {
  size_t current_seg = SIZE_MAX;
  std::unique_ptr<BitFlipper> flipper;
  for (const Flip& f : flips) {
    if (f.seg != current_seg) {
      flipper = std::make_unique<BitFlipper>(dir + "/" + L.segs[f.seg]);
      current_seg = f.seg;
    }
    flipper->Flip(f.offset, f.bit);
    for (RecoveryMode mode : kAllModes) {
      auto r = ReadLog(dir, mode);
      SCOPED_TRACE(::testing::Message()
                   << L.segs[f.seg] << " offset " << f.offset << " bit " << f.bit << " region "
                   << static_cast<int>(f.region) << " lsn " << f.lsn << " mode "
                   << RecoveryModeName(mode) << ": " << testing::Describe(r));
      CheckNoAlteredRecord(L, r);
      CheckAgainstSpec(L, f, mode, r);
      ++*checked;
      if (::testing::Test::HasFailure()) {
        flipper->Flip(f.offset, f.bit);
        return;  // one failing flip explains itself; thousands would drown it
      }
    }
    flipper->Flip(f.offset, f.bit);
  }
}

size_t SmallPayload(Lsn lsn) { return testing::SplitMix64(lsn) % 61; }
size_t LargePayload(Lsn lsn) { return 8900 + testing::SplitMix64(lsn) % 200; }

TEST(LogBitflipTest, EveryBitOfASmallLogIsDetectedPerRecoveryMode) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const Layout L = WriteLog(tmp.path(), 20, SmallPayload);
  ASSERT_EQ(L.segs.size(), 1u);
  ASSERT_EQ(L.recs.size(), 20u);
  ASSERT_GE(testing::FileSizeOf(tmp.path() + "/" + L.segs[0]), L.data_end[0] + kTailBytes);

  std::vector<uint64_t> offsets;
  for (uint64_t o = 0; o < lf::kHdrUsedBytes; ++o) offsets.push_back(o);
  for (uint64_t o : {56, 57, 63, 64, 1000, 2048, 4095}) offsets.push_back(o);  // reserved sample
  for (uint64_t o = lf::kSegmentHeaderBytes; o < L.data_end[0] + kTailBytes; ++o) {
    offsets.push_back(o);
  }
  std::vector<Flip> flips;
  for (uint64_t o : offsets) {
    for (int bit = 0; bit < 8; ++bit) {
      Flip f{0, o, bit};
      f.region = Classify(L, 0, o, &f.lsn);
      flips.push_back(f);
    }
  }
  int checked = 0;
  RunFlips(L, tmp.path(), flips, &checked);
  if (HasFailure()) return;
  EXPECT_EQ(checked, static_cast<int>(flips.size() * 4));
  // The log is intact again after the last flip was undone.
  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  EXPECT_TRUE(r.status.ok() && r.records == L.records) << testing::Describe(r);
}

// Across segments: a damaged last record of a segment is a hole (the next
// segment starts two LSNs on), a bad header of a middle segment stops
// point-in-time there, and garbage after a segment's last record followed by
// a segment at last + 1 is an abandoned tail that every lenient mode reads
// through.
TEST(LogBitflipTest, FlipsInAMultiSegmentLogFollowTheSpec) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const Layout L = WriteLog(tmp.path(), 18, LargePayload);
  ASSERT_GE(L.segs.size(), 3u);

  std::vector<Flip> flips;
  auto add = [&](size_t seg, uint64_t off, int bit) {
    Flip f{seg, off, bit};
    f.region = Classify(L, seg, off, &f.lsn);
    flips.push_back(f);
  };
  for (size_t s = 0; s < L.segs.size(); ++s) {
    for (uint64_t o : {0, 8, 12, 16, 24, 32, 40, 44, 48, 55}) add(s, o, static_cast<int>(o % 8));
    for (size_t i = 0; i < L.recs.size(); ++i) {
      const auto& rec = L.recs[i];
      if (rec.seg != s) continue;
      for (uint64_t o : {0, 7, 8, 11, 12, 14, 16, 23, 24, 31, 32}) add(s, rec.offset + o, 3);
      add(s, rec.offset + lf::kRecordHeaderBytes + rec.payload - 1, 7);
      add(s, rec.offset + lf::kRecordHeaderBytes + rec.payload / 2, 0);
      if (lf::RecordFootprint(rec.payload) > lf::kRecordHeaderBytes + rec.payload) {
        add(s, rec.offset + lf::kRecordHeaderBytes + rec.payload, 1);  // padding
      }
    }
    for (uint64_t o : {uint64_t{0}, uint64_t{7}, uint64_t{8}, uint64_t{100}}) {
      if (L.data_end[s] + o < kSeg) add(s, L.data_end[s] + o, 5);
    }
  }
  std::sort(flips.begin(), flips.end(), [](const Flip& a, const Flip& b) { return a.seg < b.seg; });
  int regions[5] = {};
  for (const Flip& f : flips) ++regions[static_cast<int>(f.region)];
  EXPECT_GT(regions[static_cast<int>(Region::kRecord)], 0);
  EXPECT_GT(regions[static_cast<int>(Region::kTail)], 0);
  EXPECT_GT(regions[static_cast<int>(Region::kHeader)], 0);

  int checked = 0;
  RunFlips(L, tmp.path(), flips, &checked);
  if (HasFailure()) return;
  EXPECT_EQ(checked, static_cast<int>(flips.size() * 4));
}

}  // namespace
}  // namespace razar::storage
