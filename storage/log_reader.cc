#include "storage/log_reader.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

namespace razar::storage {

namespace lf = log_format;

const char* RecoveryModeName(RecoveryMode mode) {
  switch (mode) {
    case RecoveryMode::kTolerateCorruptedTailRecords:
      return "tolerate-torn-tail";
    case RecoveryMode::kAbsoluteConsistency:
      return "absolute";
    case RecoveryMode::kPointInTimeRecovery:
      return "point-in-time";
    case RecoveryMode::kSkipAnyCorruptedRecords:
      return "skip-corrupted";
  }
  return "?";
}

Result<RecoveryMode> ParseRecoveryMode(std::string_view name) {
  for (RecoveryMode m :
       {RecoveryMode::kTolerateCorruptedTailRecords, RecoveryMode::kAbsoluteConsistency,
        RecoveryMode::kPointInTimeRecovery, RecoveryMode::kSkipAnyCorruptedRecords}) {
    if (name == RecoveryModeName(m)) return m;
  }
  return Status::InvalidArgument("unknown recovery mode '" + std::string(name) +
                                 "' (expected tolerate-torn-tail, absolute, point-in-time or "
                                 "skip-corrupted)");
}

const char* DamageKindName(DamageKind kind) {
  switch (kind) {
    case DamageKind::kTornTail:
      return "torn-tail";
    case DamageKind::kAbandonedTail:
      return "abandoned-tail";
    case DamageKind::kCorruption:
      return "corruption";
    case DamageKind::kBadSegmentHeader:
      return "bad-segment-header";
    case DamageKind::kUnsupportedType:
      return "unsupported-type";
    case DamageKind::kIoError:
      return "io-error";
  }
  return "?";
}

const char* StopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kCleanEnd:
      return "clean end";
    case StopReason::kDamage:
      return "stopped at damage";
    case StopReason::kError:
      return "error";
  }
  return "?";
}

std::string DescribeDamage(const Damage& d) {
  std::string s = std::string(DamageKindName(d.kind)) + " in " + d.segment + " at offset " +
                  std::to_string(d.offset) + " (" + std::to_string(d.bytes) + " bytes) after LSN " +
                  std::to_string(d.last_good_lsn);
  if (d.next_good_lsn != 0) s += ", next valid LSN " + std::to_string(d.next_good_lsn);
  if (!d.detail.empty()) s += ": " + d.detail;
  return s;
}

std::string ReadReport::Summary() const {
  std::string s = std::to_string(records) + " records";
  if (records > 0) s += ", LSN " + std::to_string(first_lsn) + ".." + std::to_string(last_lsn);
  s += ", " + std::to_string(segments.size()) + " segments, ";
  s += StopReasonName(stop);
  if (stop != StopReason::kCleanEnd && !damages.empty()) s += ": " + DescribeDamage(damages.back());
  if (!damages.empty()) s += " [" + std::to_string(damages.size()) + " damage(s)]";
  return s;
}

bool VerifyRecordAt(const uint8_t* image, uint64_t limit, uint64_t pos, Lsn seed, RecordView* out,
                    uint64_t* footprint) {
  if (pos + lf::kRecordHeaderBytes > limit) return false;
  const uint8_t* p = image + pos;
  const uint32_t len = lf::LoadU32(p + lf::kRecLength);
  const uint16_t type = lf::LoadU16(p + lf::kRecType);
  if (type == lf::kNone || len > lf::kMaxPayloadBytes) return false;
  const uint16_t flags = lf::LoadU16(p + lf::kRecFlags);
  if ((flags & ~lf::kKnownRecordFlags) != 0) return false;
  if (pos + lf::kRecordHeaderBytes + len > limit) return false;
  if (lf::LoadU64(p + lf::kRecChecksum) != lf::RecordChecksum(p, len, seed)) return false;
  const Lsn lsn = lf::LoadU64(p + lf::kRecLsn);
  if (lsn == 0) return false;
  out->lsn = lsn;
  out->timestamp_ns = static_cast<int64_t>(lf::LoadU64(p + lf::kRecTimestamp));
  out->type = type;
  out->flags = flags;
  out->payload = std::span<const uint8_t>(p + lf::kRecordHeaderBytes, len);
  *footprint = lf::RecordFootprint(len);
  return true;
}

namespace {

bool AllZero(const uint8_t* p, uint64_t n) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (lf::LoadU64(p + i) != 0) return false;
  }
  for (; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// Why the bytes at pos are not a record, for damage reports.
std::string WhyNotRecord(const uint8_t* image, uint64_t limit, uint64_t pos, Lsn seed, Lsn expect) {
  if (pos + lf::kRecordHeaderBytes > limit) return "record header cut by end of data";
  const uint8_t* p = image + pos;
  const uint32_t len = lf::LoadU32(p + lf::kRecLength);
  if (lf::LoadU16(p + lf::kRecType) == lf::kNone) return "type 0 in a non-zero region";
  if (len > lf::kMaxPayloadBytes) return "length " + std::to_string(len) + " exceeds maximum";
  if ((lf::LoadU16(p + lf::kRecFlags) & ~lf::kKnownRecordFlags) != 0) return "unknown record flags";
  if (pos + lf::kRecordHeaderBytes + len > limit) return "record cut by end of data";
  if (lf::LoadU64(p + lf::kRecChecksum) != lf::RecordChecksum(p, len, seed))
    return "checksum mismatch";
  return "LSN " + std::to_string(lf::LoadU64(p + lf::kRecLsn)) + " where " +
         std::to_string(expect) + " was expected";
}

}  // namespace

LogReader::LogReader(const LogReaderOptions& options)
    : options_(options), env_(options.env != nullptr ? options.env : Env::Default()) {}

Result<std::unique_ptr<LogReader>> LogReader::Open(const LogReaderOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("log directory not set");
  std::unique_ptr<LogReader> r(new LogReader(options));
  auto names = r->env_->ListDir(options.dir);
  if (!names.ok()) {
    if (names.status().err() == ENOENT)
      return Status::NotFound("log directory " + options.dir + " does not exist");
    return names.status();
  }
  for (const std::string& n : *names) {
    Lsn first = 0;
    if (lf::ParseSegmentFileName(n, &first)) r->segs_.push_back(Seg{n, first, -1, Status::Ok()});
  }
  std::sort(r->segs_.begin(), r->segs_.end(),
            [](const Seg& a, const Seg& b) { return a.first_lsn < b.first_lsn; });
  // Open them all now: a live writer may delete old segments at any time,
  // and an open descriptor keeps a deleted file readable.
  size_t gone_prefix = 0;
  for (size_t i = 0; i < r->segs_.size(); ++i) {
    Seg& s = r->segs_[i];
    Result<int> fd = r->env_->Open(JoinPath(options.dir, s.name), O_RDONLY);
    if (fd.ok()) {
      s.fd = *fd;
    } else if (fd.status().err() == ENOENT && gone_prefix == i) {
      ++gone_prefix;  // deleted by retention since the listing: not part of this log
    } else {
      s.open_error = fd.status();
    }
  }
  r->segs_.erase(r->segs_.begin(), r->segs_.begin() + static_cast<ptrdiff_t>(gone_prefix));
  for (const Seg& s : r->segs_) {
    SegmentSummary sum;
    sum.name = s.name;
    sum.first_lsn = s.first_lsn;
    r->report_.segments.push_back(sum);
  }
  return r;
}

LogReader::~LogReader() {
  for (Seg& s : segs_) {
    if (s.fd >= 0) env_->Close(s.fd).IgnoreError();  // read-only: nothing to lose
  }
}

Status LogReader::LoadSegment(size_t index) {
  Seg& seg = segs_[index];
  SegmentSummary& sum = report_.segments[index];
  sum.read = true;
  seed_ = seg.first_lsn;
  pos_ = lf::kSegmentHeaderBytes;
  limit_ = 0;
  if (seg.fd < 0) return seg.open_error;
  const int fd = seg.fd;
  seg.fd = -1;  // the guard owns it now
  ScopedFd guard(env_, fd);
  RAZAR_ASSIGN_OR_RETURN(uint64_t size, env_->FileSize(fd));
  sum.file_bytes = size;
  uint8_t header[lf::kSegmentHeaderBytes];
  RAZAR_ASSIGN_OR_RETURN(size_t got, env_->PRead(fd, header, sizeof(header), 0));
  lf::SegmentHeader h;
  std::string why;
  uint64_t capacity = std::min<uint64_t>(size, lf::kMaxSegmentBytes);
  header_ok_ = lf::DecodeSegmentHeader(header, got, &h, &why);
  if (header_ok_ && h.first_lsn != seg.first_lsn) {
    header_ok_ = false;
    why = "header first_lsn " + std::to_string(h.first_lsn) + " disagrees with file name";
  }
  header_why_ = why;
  header_flags_ = header_ok_ ? h.flags : 0;
  sum.header_flags = header_flags_;
  if (header_ok_) capacity = h.segment_bytes;
  limit_ = std::min(size, capacity);
  buf_.resize(std::max<uint64_t>(limit_, lf::kSegmentHeaderBytes));
  RAZAR_ASSIGN_OR_RETURN(size_t n, env_->PRead(fd, buf_.data(), limit_, 0));
  limit_ = n;
  return Status::Ok();
}

bool LogReader::Fail(Damage damage, Status error) {
  report_.segments[seg_index_].damaged = true;
  report_.damages.push_back(std::move(damage));
  report_.stop = StopReason::kError;
  report_.stop_segment = static_cast<int>(seg_index_);
  final_error_ = std::move(error);
  done_ = true;
  return false;
}

bool LogReader::Stop(Damage damage) {
  report_.segments[seg_index_].damaged = true;
  report_.damages.push_back(std::move(damage));
  report_.stop = StopReason::kDamage;
  report_.stop_segment = static_cast<int>(seg_index_);
  done_ = true;
  return false;
}

void LogReader::Note(Damage damage) {
  report_.segments[seg_index_].damaged = true;
  report_.damages.push_back(std::move(damage));
}

void LogReader::AdvanceSegment(Lsn expect) {
  ++seg_index_;
  seg_loaded_ = false;
  expect_ = expect;
}

// Damage that is not a torn/abandoned tail: point-in-time stops, strict
// modes fail, skip mode goes on (the caller then repositions).
bool LogReader::StopOrFailOrSkip(const Damage& d) {
  switch (options_.mode) {
    case RecoveryMode::kPointInTimeRecovery:
      return Stop(d);
    case RecoveryMode::kSkipAnyCorruptedRecords:
      Note(d);
      return true;
    default:
      return Fail(d, d.kind == DamageKind::kUnsupportedType
                         ? Status::NotSupported(DescribeDamage(d))
                         : Status::Corruption(DescribeDamage(d)));
  }
}

bool LogReader::HandleDamage() {
  const Seg& seg = segs_[seg_index_];
  const Lsn last = expect_ - 1;
  const bool has_next = seg_index_ + 1 < segs_.size();
  const Lsn next_first = has_next ? segs_[seg_index_ + 1].first_lsn : 0;
  const uint64_t pos = std::min(pos_, limit_);
  const bool zero_tail = AllZero(buf_.data() + pos, limit_ - pos);

  Damage d;
  d.segment = seg.name;
  d.offset = pos;
  d.bytes = limit_ - pos;
  d.last_good_lsn = report_.last_lsn;

  if (has_next && next_first == expect_) {
    if (zero_tail) {  // the writer rolled over: clean segment end
      AdvanceSegment(expect_);
      return true;
    }
    d.kind = DamageKind::kAbandonedTail;
    d.next_good_lsn = next_first;
    d.detail = WhyNotRecord(buf_.data(), limit_, pos, seed_, expect_) +
               "; next segment continues at LSN " + std::to_string(next_first);
    if (options_.mode == RecoveryMode::kAbsoluteConsistency)
      return Fail(d, Status::Corruption(DescribeDamage(d)));
    Note(d);
    AdvanceSegment(expect_);
    return true;
  }

  // A verifying record later in this segment means a hole.
  RecordView v;
  uint64_t fp = 0;
  for (uint64_t q = pos + lf::kRecordAlign; q + lf::kRecordHeaderBytes <= limit_;
       q += lf::kRecordAlign) {
    if (lf::LoadU64(buf_.data() + q + lf::kRecLength) == 0) continue;  // fast skip of zeros
    if (VerifyRecordAt(buf_.data(), limit_, q, seed_, &v, &fp) && v.lsn > last) {
      d.kind = DamageKind::kCorruption;
      d.bytes = q - pos;
      d.next_good_lsn = v.lsn;
      d.detail = WhyNotRecord(buf_.data(), limit_, pos, seed_, expect_);
      d.synced_data_damaged = LaterCommitFollows(q);
      if (d.synced_data_damaged) d.detail += "; a later synced commit follows";
      if (!StopOrFailOrSkip(d)) return false;
      pos_ = q;
      expect_ = v.lsn;
      return true;
    }
  }

  if (has_next) {
    d.kind = DamageKind::kCorruption;
    d.next_good_lsn = next_first;
    d.detail = (zero_tail ? std::string("end of segment")
                          : WhyNotRecord(buf_.data(), limit_, pos, seed_, expect_)) +
               "; next segment " + segs_[seg_index_ + 1].name + " starts at LSN " +
               std::to_string(next_first) + ", expected " + std::to_string(expect_);
    if (next_first < expect_ && options_.mode == RecoveryMode::kSkipAnyCorruptedRecords) {
      d.detail += " (overlapping segments: reading stops)";
      return Stop(d);
    }
    if (!StopOrFailOrSkip(d)) return false;
    AdvanceSegment(next_first);
    return true;
  }

  if (zero_tail) {  // the normal end of the log
    done_ = true;
    report_.stop = StopReason::kCleanEnd;
    return false;
  }
  d.kind = DamageKind::kTornTail;
  d.detail = WhyNotRecord(buf_.data(), limit_, pos, seed_, expect_);
  if (options_.mode == RecoveryMode::kAbsoluteConsistency)
    return Fail(d, Status::Corruption(DescribeDamage(d)));
  return Stop(d);
}

// True when, walking the valid records from `pos`, a commit-end record is
// followed by another record — i.e. a later commit was written after the
// one in which the damage lies — in a segment whose commits were synced one
// by one. Then the damage cannot be a torn, unacknowledged last commit.
bool LogReader::LaterCommitFollows(uint64_t pos) const {
  if ((header_flags_ & lf::kSegFlagSyncedCommits) == 0) return false;
  bool commit_ended = false;
  RecordView v;
  uint64_t fp = 0;
  while (VerifyRecordAt(buf_.data(), limit_, pos, seed_, &v, &fp)) {
    if (commit_ended) return true;
    if ((v.flags & lf::kFlagCommitEnd) != 0) commit_ended = true;
    pos += fp;
  }
  return false;
}

// Loads segment seg_index_ and deals with an unreadable or bad header.
// Returns false when reading stops.
bool LogReader::EnterSegment() {
  const Seg& seg = segs_[seg_index_];
  if (!started_) {
    expect_ = seg.first_lsn;
    started_ = true;
  }
  Status s = LoadSegment(seg_index_);
  Damage d;
  d.segment = seg.name;
  d.last_good_lsn = report_.last_lsn;
  if (!s.ok()) {
    d.kind = DamageKind::kIoError;
    d.detail = s.ToString();
    if (options_.mode != RecoveryMode::kSkipAnyCorruptedRecords) return Fail(d, s);
    Note(d);
    if (seg_index_ + 1 >= segs_.size()) {
      done_ = true;
      report_.stop = StopReason::kCleanEnd;
      return false;
    }
    AdvanceSegment(segs_[seg_index_ + 1].first_lsn);
    return true;
  }
  seg_loaded_ = true;
  if (!header_ok_) {
    d.kind = DamageKind::kBadSegmentHeader;
    d.bytes = std::min<uint64_t>(limit_, lf::kSegmentHeaderBytes);
    d.detail = header_why_ + " (records are checked with the seed from the file name)";
    if (!StopOrFailOrSkip(d)) return false;
  }
  return true;
}

Result<bool> LogReader::Next(RecordView* out) {
  for (;;) {
    if (done_) {
      if (!final_error_.ok()) return final_error_;
      return false;
    }
    if (!seg_loaded_) {
      if (seg_index_ >= segs_.size()) {
        done_ = true;
        report_.stop = StopReason::kCleanEnd;
        continue;
      }
      EnterSegment();
      continue;
    }
    RecordView v;
    uint64_t fp = 0;
    if (!VerifyRecordAt(buf_.data(), limit_, pos_, seed_, &v, &fp) || v.lsn != expect_) {
      HandleDamage();
      continue;
    }
    if (!lf::IsKnownType(v.type) && !lf::IsSkippableType(v.type)) {
      Damage d;
      d.segment = segs_[seg_index_].name;
      d.offset = pos_;
      d.bytes = fp;
      d.last_good_lsn = report_.last_lsn;
      d.next_good_lsn = v.lsn;
      d.kind = DamageKind::kUnsupportedType;
      d.detail = "record type " + std::to_string(v.type) + " is not known to this reader";
      if (!StopOrFailOrSkip(d)) continue;
      // skip mode: step over it by its length.
      pos_ += fp;
      ++expect_;
      continue;
    }
    SegmentSummary& sum = report_.segments[seg_index_];
    pos_ += fp;
    ++expect_;
    ++sum.records;
    sum.last_lsn = v.lsn;
    sum.end_offset = std::min(pos_, limit_);
    if (report_.first_lsn == 0) report_.first_lsn = v.lsn;
    report_.last_lsn = v.lsn;
    ++report_.records;
    report_.payload_bytes += v.payload.size();
    report_.bytes_scanned += fp;
    if (lf::IsSkippableType(v.type)) {
      ++report_.skipped_unknown;
      continue;
    }
    *out = v;
    return true;
  }
}

}  // namespace razar::storage
