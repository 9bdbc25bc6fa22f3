// External truncation of segment files (docs/formats/heartbeat-log.md,
// "End of data and damage"): the reader returns the longest whole-record
// prefix; a cut record is a torn tail, a cut at a record boundary or inside
// the zero tail is a clean end; a truncated middle segment is a hole.
#include <algorithm>

#include "storage/log_writer.h"
#include "testing/log_test_util.h"

namespace razar::storage {
namespace {

using testing::OwnedRecord;
using testing::ReadLog;
using testing::TempDir;
namespace lf = log_format;

constexpr uint64_t kSeg = 64u << 10;

struct WrittenLog {
  std::vector<OwnedRecord> records;
  std::vector<std::string> segments;  // names, in LSN order
  std::vector<Lsn> first_lsns;        // of each segment
};

// Writes `n` records (payload a function of the LSN, up to 400 bytes) into
// 64 KiB segments and checks the result reads back cleanly.
WrittenLog WriteLog(const std::string& dir, int n) {
  WrittenLog out;
  auto opts = testing::SmallLogOptions(dir, Durability::kNone, kSeg);
  auto w = LogWriter::Open(opts);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return out;
  for (int i = 1; i <= n; ++i) {
    auto payload = testing::PayloadForLsn(i, 400);
    auto lsn = (*w)->Append(lf::kRecord, payload, i);
    EXPECT_TRUE(lsn.ok()) << lsn.status().ToString();
    if (!lsn.ok()) return out;
    EXPECT_EQ(*lsn, Lsn(i));
    out.records.push_back(OwnedRecord{*lsn, i, lf::kRecord, payload});
  }
  EXPECT_TRUE((*w)->Close().ok());
  out.segments = testing::SegmentNames(dir);
  for (const auto& s : out.segments) {
    Lsn first = 0;
    EXPECT_TRUE(lf::ParseSegmentFileName(s, &first));
    out.first_lsns.push_back(first);
  }
  auto r = ReadLog(dir, RecoveryMode::kAbsoluteConsistency);
  EXPECT_TRUE(r.status.ok()) << testing::Describe(r);
  EXPECT_TRUE(testing::SameRecords(r.records, out.records));
  return out;
}

// Offsets of the records of segment `seg` (see testing::RecordOffsets), and
// the records themselves.
std::vector<uint64_t> SegmentOffsets(const WrittenLog& log, size_t seg,
                                     std::vector<OwnedRecord>* in_seg) {
  const Lsn first = log.first_lsns[seg];
  const Lsn end = seg + 1 < log.first_lsns.size() ? log.first_lsns[seg + 1] : ~Lsn{0};
  std::vector<size_t> sizes;
  for (const auto& r : log.records) {
    if (r.lsn >= first && r.lsn < end) {
      sizes.push_back(r.payload.size());
      if (in_seg != nullptr) in_seg->push_back(r);
    }
  }
  return testing::RecordOffsets(sizes);
}

std::vector<OwnedRecord> RecordsBelow(const WrittenLog& log, Lsn end) {
  std::vector<OwnedRecord> out;
  for (const auto& r : log.records) {
    if (r.lsn < end) out.push_back(r);
  }
  return out;
}

const RecoveryMode kAllModes[] = {
    RecoveryMode::kTolerateCorruptedTailRecords, RecoveryMode::kAbsoluteConsistency,
    RecoveryMode::kPointInTimeRecovery, RecoveryMode::kSkipAnyCorruptedRecords};

class LogTruncationTest : public ::testing::TestWithParam<RecoveryMode> {
 protected:
  RecoveryMode mode() const { return GetParam(); }
};

// For every length from the start of the last four records to past the end
// of the data: exactly the whole records before the cut come back; only a
// cut that leaves non-zero bytes of a record behind is damage (a torn tail).
TEST_P(LogTruncationTest, TruncatedTrailingRecordIsIgnoredAtEveryLength) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const WrittenLog log = WriteLog(tmp.Sub("orig"), 500);
  ASSERT_EQ(log.records.size(), 500u);
  ASSERT_GE(log.segments.size(), 2u) << "the test wants a multi-segment log";

  const size_t last = log.segments.size() - 1;
  std::vector<OwnedRecord> in_last;
  const auto offsets = SegmentOffsets(log, last, &in_last);
  ASSERT_GE(in_last.size(), 4u);
  const std::string work = tmp.Sub("work");
  testing::CopyDir(tmp.Sub("orig"), work);
  const std::string seg_path = work + "/" + log.segments[last];
  const auto orig = testing::ReadFileBytes(seg_path);
  const uint64_t data_end = offsets.back();
  ASSERT_GE(orig.size(), data_end + 64) << "the segment is preallocated past its data";
  for (uint64_t i = data_end; i < data_end + 64; ++i) ASSERT_EQ(orig[i], 0) << "zero tail";

  const Lsn before_last_seg = log.first_lsns[last];
  const uint64_t from = offsets[in_last.size() - 4];
  int torn_cases = 0, clean_cases = 0;
  // Longest first: each step only shortens the file further.
  for (uint64_t len = data_end + 64; len + 1 > from; --len) {
    testing::TruncateFile(seg_path, len);
    // Whole records: header and payload inside the file (padding may be cut).
    size_t whole = 0;
    while (whole < in_last.size() &&
           offsets[whole] + lf::kRecordHeaderBytes + in_last[whole].payload.size() <= len) {
      ++whole;
    }
    const uint64_t p = offsets[whole];
    bool cut = false;
    for (uint64_t i = p; i < len; ++i) cut |= orig[i] != 0;
    cut ? ++torn_cases : ++clean_cases;

    std::vector<OwnedRecord> want = RecordsBelow(log, before_last_seg);
    want.insert(want.end(), in_last.begin(), in_last.begin() + whole);

    auto r = ReadLog(work, mode());
    SCOPED_TRACE("length " + std::to_string(len) + (cut ? " (cuts a record)" : " (clean)") + ": " +
                 testing::Describe(r));
    ASSERT_EQ(r.records.size(), want.size());
    ASSERT_TRUE(testing::SameRecords(r.records, want))
        << "returned records differ from the originals";
    const bool expect_ok = !(cut && mode() == RecoveryMode::kAbsoluteConsistency);
    ASSERT_EQ(r.status.ok(), expect_ok);
    if (!cut) {
      EXPECT_EQ(r.report.stop, StopReason::kCleanEnd);
      EXPECT_TRUE(r.report.damages.empty());
      EXPECT_EQ(r.report.last_lsn, want.back().lsn);
      continue;
    }
    ASSERT_FALSE(r.report.damages.empty());
    const Damage& d = r.report.damages.back();
    EXPECT_EQ(d.kind, DamageKind::kTornTail);
    EXPECT_EQ(d.segment, log.segments[last]);
    EXPECT_EQ(d.offset, p);
    EXPECT_EQ(d.last_good_lsn, want.back().lsn);
    EXPECT_EQ(d.next_good_lsn, 0u);
    EXPECT_GE(d.bytes, 1u);
    EXPECT_LE(p + d.bytes, std::max<uint64_t>(len, kSeg));
    if (mode() == RecoveryMode::kAbsoluteConsistency) {
      EXPECT_EQ(r.report.stop, StopReason::kError);
    } else if (mode() != RecoveryMode::kSkipAnyCorruptedRecords) {
      EXPECT_EQ(r.report.stop, StopReason::kDamage);
    }
  }
  EXPECT_GT(torn_cases, 100);
  EXPECT_GT(clean_cases, 4);
}

// A segment cut inside its header's checked bytes has a bad header: the
// records of earlier segments are all a point-in-time reader returns.
TEST_P(LogTruncationTest, SegmentTruncatedInsideItsHeaderIsABadSegmentHeader) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const WrittenLog log = WriteLog(tmp.Sub("orig"), 500);
  ASSERT_GE(log.segments.size(), 2u);
  const size_t last = log.segments.size() - 1;
  const auto want = RecordsBelow(log, log.first_lsns[last]);
  const auto orig = testing::ReadFileBytes(tmp.Sub("orig") + "/" + log.segments[last]);
  for (uint64_t len : {0, 8, 47, 55}) {
    // The end of the file reads as zeros: a cut that only drops zero bytes
    // (the checksum's top byte can be 0) leaves a valid header.
    if (len == 55 && orig[55] == 0) continue;
    const std::string work = tmp.Sub("work" + std::to_string(len));
    testing::CopyDir(tmp.Sub("orig"), work);
    testing::TruncateFile(work + "/" + log.segments[last], len);
    auto r = ReadLog(work, mode());
    SCOPED_TRACE("length " + std::to_string(len) + ": " + testing::Describe(r));
    ASSERT_TRUE(testing::SameRecords(r.records, want));
    ASSERT_FALSE(r.report.damages.empty());
    EXPECT_EQ(r.report.damages.back().kind, DamageKind::kBadSegmentHeader);
    EXPECT_EQ(r.report.damages.back().segment, log.segments[last]);
    EXPECT_EQ(r.report.damages.back().last_good_lsn, want.back().lsn);
    const bool expect_ok = mode() == RecoveryMode::kPointInTimeRecovery ||
                           mode() == RecoveryMode::kSkipAnyCorruptedRecords;
    EXPECT_EQ(r.status.ok(), expect_ok);
  }
}

// The end of a file reads like zeros that were never written: a segment cut
// after its header's checked bytes is a valid, empty segment.
TEST_P(LogTruncationTest, SegmentTruncatedAfterItsHeaderFieldsIsACleanEmptySegment) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const WrittenLog log = WriteLog(tmp.Sub("orig"), 500);
  ASSERT_GE(log.segments.size(), 2u);
  const size_t last = log.segments.size() - 1;
  const auto want = RecordsBelow(log, log.first_lsns[last]);
  for (uint64_t len : {uint64_t{lf::kSegmentHeaderBytes}, uint64_t{4000}, uint64_t{56}}) {
    const std::string work = tmp.Sub("work" + std::to_string(len));
    testing::CopyDir(tmp.Sub("orig"), work);
    testing::TruncateFile(work + "/" + log.segments[last], len);
    auto r = ReadLog(work, mode());
    SCOPED_TRACE("length " + std::to_string(len) + ": " + testing::Describe(r));
    ASSERT_TRUE(r.status.ok());
    ASSERT_TRUE(testing::SameRecords(r.records, want));
    EXPECT_TRUE(r.report.damages.empty());
    EXPECT_EQ(r.report.stop, StopReason::kCleanEnd);
  }
}

// A middle segment that lost its end leaves LSNs missing before the next
// segment: that is a hole (kCorruption), whether the cut falls on a record
// boundary or inside a record.
TEST_P(LogTruncationTest, TruncatedMiddleSegmentIsAHole) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const WrittenLog log = WriteLog(tmp.Sub("orig"), 1000);
  ASSERT_GE(log.segments.size(), 3u);
  std::vector<OwnedRecord> in_first;
  const auto offsets = SegmentOffsets(log, 0, &in_first);
  const size_t k = in_first.size() / 2;
  const uint64_t last_payload_end =
      offsets[in_first.size() - 1] + lf::kRecordHeaderBytes + in_first.back().payload.size();
  for (uint64_t len : {offsets[k], offsets[k] + 5, offsets[k] + lf::kRecordHeaderBytes + 1,
                       last_payload_end - 1}) {
    const std::string work = tmp.Sub("work" + std::to_string(len));
    testing::CopyDir(tmp.Sub("orig"), work);
    testing::TruncateFile(work + "/" + log.segments[0], len);
    size_t whole = 0;
    while (whole < in_first.size() &&
           offsets[whole] + lf::kRecordHeaderBytes + in_first[whole].payload.size() <= len) {
      ++whole;
    }
    const Lsn last_good = whole;  // LSNs start at 1 in segment 0
    const Lsn next_good = log.first_lsns[1];
    ASSERT_LT(last_good + 1, next_good) << "the cut must lose at least one record";

    auto r = ReadLog(work, mode());
    SCOPED_TRACE("length " + std::to_string(len) + ": " + testing::Describe(r));
    ASSERT_FALSE(r.report.damages.empty());
    const Damage& d = r.report.damages.front();
    EXPECT_EQ(d.kind, DamageKind::kCorruption);
    EXPECT_EQ(d.segment, log.segments[0]);
    EXPECT_EQ(d.offset, offsets[whole]);
    EXPECT_EQ(d.last_good_lsn, last_good);
    EXPECT_EQ(d.next_good_lsn, next_good);
    switch (mode()) {
      case RecoveryMode::kPointInTimeRecovery:
        ASSERT_TRUE(r.status.ok());
        EXPECT_TRUE(testing::SameRecords(r.records, RecordsBelow(log, last_good + 1)));
        EXPECT_EQ(r.report.stop, StopReason::kDamage);
        break;
      case RecoveryMode::kSkipAnyCorruptedRecords: {
        ASSERT_TRUE(r.status.ok());
        std::vector<OwnedRecord> want = RecordsBelow(log, last_good + 1);
        for (const auto& rec : log.records) {
          if (rec.lsn >= next_good) want.push_back(rec);
        }
        EXPECT_TRUE(testing::SameRecords(r.records, want));
        break;
      }
      case RecoveryMode::kTolerateCorruptedTailRecords:
      case RecoveryMode::kAbsoluteConsistency:
        EXPECT_FALSE(r.status.ok());
        EXPECT_TRUE(r.status.IsCorruption()) << r.status.ToString();
        EXPECT_EQ(r.report.stop, StopReason::kError);
        EXPECT_LE(r.records.size(), last_good);
        for (size_t i = 0; i < r.records.size(); ++i) EXPECT_EQ(r.records[i], log.records[i]);
        break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllModes, LogTruncationTest, ::testing::ValuesIn(kAllModes),
                         testing::RecoveryModeParamName());

// After a cut through the last record a writer opens (the torn tail is
// tolerated), continues at the first lost LSN in a new segment, and the old
// torn bytes become an abandoned tail.
TEST(LogTruncationWriterTest, WriterContinuesAfterTornTruncationAtFirstLostLsn) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const WrittenLog log = WriteLog(tmp.path(), 500);
  ASSERT_GE(log.segments.size(), 2u);
  const size_t last = log.segments.size() - 1;
  std::vector<OwnedRecord> in_last;
  const auto offsets = SegmentOffsets(log, last, &in_last);
  const size_t keep = in_last.size() - 3;
  testing::TruncateFile(tmp.path() + "/" + log.segments[last],
                        offsets[keep] + lf::kRecordHeaderBytes - 3);  // cut inside a header
  std::vector<OwnedRecord> want = RecordsBelow(log, in_last[keep].lsn);

  {
    auto w = LogWriter::Open(testing::SmallLogOptions(tmp.path(), Durability::kBatch, kSeg));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->last_lsn(), want.back().lsn);
    const ReadReport& rr = (*w)->recovery_report();
    ASSERT_FALSE(rr.damages.empty()) << rr.Summary();
    EXPECT_EQ(rr.damages.back().kind, DamageKind::kTornTail);
    for (int i = 0; i < 5; ++i) {
      const Lsn expect = want.back().lsn + 1;
      auto payload = testing::PatternBytes(expect * 1000, 77);
      auto lsn = (*w)->AppendDurable(lf::kRecord, payload, -1);
      ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
      ASSERT_EQ(*lsn, expect);
      want.push_back(OwnedRecord{expect, -1, lf::kRecord, payload});
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  // The torn segment was not rewritten; the new records live in a new one.
  auto segs = testing::SegmentNames(tmp.path());
  EXPECT_EQ(segs.back(), lf::SegmentFileName(in_last[keep].lsn));
  EXPECT_EQ(testing::FileSizeOf(tmp.path() + "/" + log.segments[last]),
            offsets[keep] + lf::kRecordHeaderBytes - 3)
      << "the writer must never overwrite an existing segment";

  for (RecoveryMode mode : kAllModes) {
    auto r = ReadLog(tmp.path(), mode);
    SCOPED_TRACE(std::string(RecoveryModeName(mode)) + ": " + testing::Describe(r));
    ASSERT_FALSE(r.report.damages.empty());
    EXPECT_EQ(r.report.damages.front().kind, DamageKind::kAbandonedTail);
    EXPECT_EQ(r.report.damages.front().next_good_lsn, in_last[keep].lsn);
    if (mode == RecoveryMode::kAbsoluteConsistency) {
      EXPECT_FALSE(r.status.ok());
      continue;
    }
    ASSERT_TRUE(r.status.ok());
    EXPECT_TRUE(testing::SameRecords(r.records, want));
  }
}

// A last segment cut to its bare header holds no records; its name is the
// next LSN, the one the writer's fresh segment must have. The writer must
// still open and continue densely.
TEST(LogTruncationWriterTest, WriterContinuesAfterLastSegmentTruncatedToItsHeader) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const WrittenLog log = WriteLog(tmp.path(), 500);
  ASSERT_GE(log.segments.size(), 2u);
  const size_t last = log.segments.size() - 1;
  testing::TruncateFile(tmp.path() + "/" + log.segments[last], lf::kSegmentHeaderBytes);
  std::vector<OwnedRecord> want = RecordsBelow(log, log.first_lsns[last]);
  {
    auto w = LogWriter::Open(testing::SmallLogOptions(tmp.path(), Durability::kBatch, kSeg));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->last_lsn(), want.back().lsn);
    for (int i = 0; i < 3; ++i) {
      auto payload = testing::PatternBytes(99 + i, 50);
      auto lsn = (*w)->AppendDurable(lf::kRecord, payload, 5);
      ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
      ASSERT_EQ(*lsn, want.back().lsn + 1);
      want.push_back(OwnedRecord{*lsn, 5, lf::kRecord, payload});
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  EXPECT_TRUE(testing::SameRecords(r.records, want)) << testing::Describe(r);
}

}  // namespace
}  // namespace razar::storage
