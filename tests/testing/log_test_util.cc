#include "testing/log_test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace razar::storage::testing {

// ---------------------------------------------------------------------------
// io_uring availability: writer tests that need the default Env skip
// (visibly) when the kernel refuses to set up a ring.
bool UringAvailable(std::string* why) {
  static const std::string reason = [] {
    auto ring = Env::Default()->NewRing(8);
    return ring.ok() ? std::string() : ring.status().ToString();
  }();
  if (why != nullptr) *why = reason;
  return reason.empty();
}

// ---------------------------------------------------------------------------
// Reading a whole log.

std::ostream& operator<<(std::ostream& os, const OwnedRecord& r) {
  return os << "{lsn " << r.lsn << ", ts " << r.timestamp_ns << ", type " << r.type << ", "
            << r.payload.size() << " payload bytes}";
}

// Reads every record of `dir` with `mode`. Bounded: a reader that never
// ends fails the test instead of hanging it.
ReadResult ReadLog(const std::string& dir, RecoveryMode mode, Env* env) {
  ReadResult out;
  LogReaderOptions opts;
  opts.env = env;
  opts.dir = dir;
  opts.mode = mode;
  auto reader = LogReader::Open(opts);
  if (!reader.ok()) {
    out.open_status = reader.status();
    out.status = reader.status();
    return out;
  }
  constexpr uint64_t kMaxRecords = 50'000'000;
  for (uint64_t i = 0;; ++i) {
    if (i > kMaxRecords) {
      ADD_FAILURE() << "reader did not stop after " << kMaxRecords << " records";
      break;
    }
    RecordView view;
    auto more = (*reader)->Next(&view);
    if (!more.ok()) {
      out.status = more.status();
      break;
    }
    if (!*more) break;
    out.records.push_back(
        OwnedRecord{view.lsn, view.timestamp_ns, view.type,
                    std::vector<uint8_t>(view.payload.begin(), view.payload.end())});
  }
  out.report = (*reader)->report();
  return out;
}

// Human-readable summary of a read result, for assertion messages.
std::string Describe(const ReadResult& r) {
  std::string s = "status=" + r.status.ToString() + " records=" + std::to_string(r.records.size());
  if (!r.records.empty()) {
    s += " lsn " + std::to_string(r.records.front().lsn) + ".." +
         std::to_string(r.records.back().lsn);
  }
  s += " stop=" + std::string(StopReasonName(r.report.stop));
  for (const Damage& d : r.report.damages) s += "\n  damage: " + DescribeDamage(d);
  return s;
}

// Asserts that LSNs are 1, 2, 3, ... (dense from `first`).
::testing::AssertionResult LsnsDenseFrom(const std::vector<OwnedRecord>& recs, Lsn first) {
  for (size_t i = 0; i < recs.size(); ++i) {
    if (recs[i].lsn != first + i) {
      return ::testing::AssertionFailure()
             << "record #" << i << " has LSN " << recs[i].lsn << ", expected " << first + i;
    }
  }
  return ::testing::AssertionSuccess();
}

// Compares record lists and names the first difference (gtest would print
// both whole lists).
::testing::AssertionResult SameRecords(const std::vector<OwnedRecord>& got,
                                              const std::vector<OwnedRecord>& want) {
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (!(got[i] == want[i])) {
      auto f = ::testing::AssertionFailure()
               << "record #" << i << " is " << got[i] << ", expected " << want[i];
      if (got[i].payload != want[i].payload) f << " (payload differs)";
      return f;
    }
  }
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << got.size() << " records, expected " << want.size();
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// Files.

std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::vector<uint8_t> out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ADD_FAILURE() << "open " << path << ": " << std::strerror(errno);
    return out;
  }
  struct stat st {};
  ::fstat(fd, &st);
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ADD_FAILURE() << "pread " << path << ": " << std::strerror(errno);
      out.resize(done);
      break;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

// Replaces the file's contents with `bytes` (creating it if needed).
void WriteFileBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << "open " << path << ": " << std::strerror(errno);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GT(n, 0) << "pwrite " << path << ": " << std::strerror(errno);
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

// Overwrites `n` bytes at `offset` in place.
void PatchFile(const std::string& path, uint64_t offset, const void* data, size_t n) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << "open " << path << ": " << std::strerror(errno);
  ASSERT_EQ(::pwrite(fd, data, n, static_cast<off_t>(offset)), static_cast<ssize_t>(n))
      << "pwrite " << path << ": " << std::strerror(errno);
  ::close(fd);
}

uint8_t ReadByteAt(const std::string& path, uint64_t offset) {
  uint8_t b = 0;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << "open " << path;
  if (fd < 0) return 0;
  EXPECT_EQ(::pread(fd, &b, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
  return b;
}

// Flips bit `bit` (0..7) of the byte at `offset`.
void FlipBit(const std::string& path, uint64_t offset, int bit) {
  uint8_t b = ReadByteAt(path, offset);
  b ^= static_cast<uint8_t>(1u << bit);
  PatchFile(path, offset, &b, 1);
}

void TruncateFile(const std::string& path, uint64_t length) {
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(length)), 0)
      << "truncate " << path << ": " << std::strerror(errno);
}

uint64_t FileSizeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

// Copies the regular files of `from` into `to` (created if missing).
void CopyDir(const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(to, ec);
  ASSERT_FALSE(ec) << "mkdir " << to << ": " << ec.message();
  for (const auto& e : fs::directory_iterator(from)) {
    if (!e.is_regular_file()) continue;
    fs::copy_file(e.path(), fs::path(to) / e.path().filename(),
                  fs::copy_options::overwrite_existing, ec);
    ASSERT_FALSE(ec) << "copy " << e.path() << ": " << ec.message();
  }
}

// Names of all entries of a directory, sorted.
std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Segment file names (`<20 digits>.hblog`) of a log directory, in LSN order.
std::vector<std::string> SegmentNames(const std::string& dir) {
  std::vector<std::pair<Lsn, std::string>> segs;
  for (const std::string& name : ListNames(dir)) {
    Lsn first = 0;
    if (log_format::ParseSegmentFileName(name, &first)) segs.emplace_back(first, name);
  }
  std::sort(segs.begin(), segs.end());
  std::vector<std::string> out;
  for (auto& s : segs) out.push_back(s.second);
  return out;
}

// ---------------------------------------------------------------------------
// Deterministic payloads.

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// `n` pseudo-random bytes determined by `seed`.
std::vector<uint8_t> PatternBytes(uint64_t seed, size_t n) {
  std::vector<uint8_t> out(n);
  uint64_t state = SplitMix64(seed ^ 0xA5A5A5A5DEADBEEFull);
  for (size_t i = 0; i < n; ++i) {
    if (i % 8 == 0) state = SplitMix64(state);
    out[i] = static_cast<uint8_t>(state >> (8 * (i % 8)));
  }
  return out;
}

// The payload a test appends at `lsn`: its length (0..max_len) and bytes are
// a function of the LSN alone, so a reader can check any record in isolation.
std::vector<uint8_t> PayloadForLsn(Lsn lsn, size_t max_len) {
  size_t len = static_cast<size_t>(SplitMix64(lsn * 31 + 7) % (max_len + 1));
  return PatternBytes(lsn, len);
}

// ---------------------------------------------------------------------------
// A seeded random stream of (type, payload) pairs: a mix of every record kind
// of the codec and raw payloads of varied sizes (framed as kRecord; the log
// itself does not interpret payloads).
RecordStream::Item RecordStream::Next() {
  std::uniform_int_distribution<int> pick(0, kRecordKindCount);  // last value: raw bytes
  int k = pick(rng_);
  if (k == kRecordKindCount) {
    std::uniform_int_distribution<size_t> len(0, max_raw_);
    return Item{log_format::kRecord, PatternBytes(rng_(), len(rng_))};
  }
  RecordEncoder::Encoded e = Encode(static_cast<RecordKind>(k));
  return Item{e.type, std::vector<uint8_t>(e.payload.begin(), e.payload.end())};
}

Layer RecordStream::RandomLayer() {
  return static_cast<Layer>(std::uniform_int_distribution<int>(0, kLayerCount - 1)(rng_));
}

std::string RecordStream::RandomName() { return "comp-" + std::to_string(rng_() % 1000); }

RecordEncoder::Encoded RecordStream::Encode(RecordKind kind) {
  bytes_ = PatternBytes(rng_(), rng_() % 64);
  switch (kind) {
    case RecordKind::kBeat:
      return enc_.Beat(static_cast<uint32_t>(rng_()), RandomLayer(), rng_());
    case RecordKind::kSessionOpen:
      return enc_.SessionOpen(rng_(), RandomLayer(), static_cast<uint32_t>(rng_()), RandomName(),
                              bytes_);
    case RecordKind::kSessionUpdate:
      return enc_.SessionUpdate(rng_(), Layer::throat, std::span<const uint8_t>(bytes_));
    case RecordKind::kSessionClose:
      return enc_.SessionClose(rng_(), Layer::throat);
    case RecordKind::kEventPending:
      return enc_.EventPending(rng_(), rng_(), Layer::throat, bytes_);
    case RecordKind::kEventDone:
      return enc_.EventDone(rng_(), rng_(), Layer::throat);
    case RecordKind::kComponentStatus:
      return enc_.ComponentStatus(static_cast<uint32_t>(rng_()), RandomName(), RandomLayer(),
                                  static_cast<ComponentState>(rng_() % 7), "detail");
    case RecordKind::kChakraDown:
      return enc_.ChakraDown(RandomLayer(), "missed beats");
    case RecordKind::kChakraUp:
      return enc_.ChakraUp(RandomLayer());
    case RecordKind::kFailurePulse:
      return enc_.FailurePulse(RandomLayer(), RandomName(), "kill", 250);
  }
  return enc_.ChakraUp(Layer::root);
}

// ---------------------------------------------------------------------------
// Writer helpers.

LogWriterOptions SmallLogOptions(const std::string& dir, Durability d, uint64_t segment_bytes) {
  LogWriterOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  o.durability = d;
  return o;
}

// Byte offsets of the records of one segment, given the payload sizes of its
// records in order: offsets[i] is where record i starts; offsets.back() is
// the end of the data (where the next record would start).
std::vector<uint64_t> RecordOffsets(const std::vector<size_t>& payload_sizes) {
  std::vector<uint64_t> out;
  uint64_t pos = log_format::kSegmentHeaderBytes;
  out.push_back(pos);
  for (size_t n : payload_sizes) {
    pos += log_format::RecordFootprint(n);
    out.push_back(pos);
  }
  return out;
}

}  // namespace razar::storage::testing
