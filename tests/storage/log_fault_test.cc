// The writer against injected I/O faults (storage/fault_injection_env.h):
// a failed write or sync latches it and nothing is acknowledged after; what
// was acknowledged survives a power loss (DropUnsyncedData); short writes
// and -EAGAIN are resubmitted; torn writes leave only a torn tail; and a
// hole in the log is corruption that a writer refuses to build on
// (docs/formats/heartbeat-log.md, "Writer rules").
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "storage/testing/fault_injection_env.h"
#include "storage/log_writer.h"
#include "testing/log_test_util.h"

namespace razar::storage {
namespace {

using testing::OwnedRecord;
using testing::ReadLog;
using testing::TempDir;
namespace lf = log_format;
using Op = FaultInjectionEnv::Op;

const RecoveryMode kAllModes[] = {
    RecoveryMode::kTolerateCorruptedTailRecords, RecoveryMode::kAbsoluteConsistency,
    RecoveryMode::kPointInTimeRecovery, RecoveryMode::kSkipAnyCorruptedRecords};

// Payload and timestamp a test appends at `lsn` (the timestamp is never 0).
OwnedRecord RecordFor(Lsn lsn) {
  return OwnedRecord{lsn, static_cast<int64_t>(lsn) * 10 + 1, lf::kRecord,
                     testing::PayloadForLsn(lsn, 700)};
}

// After a crash or power loss, checks what the log holds: LSNs dense from 1,
// every record byte-identical to what was appended at its LSN (so never
// garbage), every acknowledged LSN present, and no hole. Returns the LSN of
// the last record.
Lsn CheckRecovered(const std::string& dir, const std::set<Lsn>& acked,
                   const std::map<Lsn, OwnedRecord>& appended) {
  Lsn last = 0;
  for (RecoveryMode mode :
       {RecoveryMode::kPointInTimeRecovery, RecoveryMode::kTolerateCorruptedTailRecords}) {
    auto r = ReadLog(dir, mode);
    SCOPED_TRACE(std::string(RecoveryModeName(mode)) + ": " + testing::Describe(r));
    EXPECT_TRUE(r.status.ok());
    EXPECT_TRUE(testing::LsnsDenseFrom(r.records));
    for (const auto& rec : r.records) {
      auto it = appended.find(rec.lsn);
      if (it == appended.end()) {
        ADD_FAILURE() << "LSN " << rec.lsn << " was never handed out by Append";
        break;
      }
      if (!(rec == it->second)) {
        ADD_FAILURE() << "LSN " << rec.lsn << " holds " << rec << ", appended " << it->second;
        break;
      }
    }
    const Lsn got = r.records.empty() ? 0 : r.records.back().lsn;
    if (!acked.empty()) {
      EXPECT_GE(got, *acked.rbegin()) << "acknowledged LSN " << *acked.rbegin() << " lost";
    }
    for (const Damage& d : r.report.damages) {
      EXPECT_TRUE(d.kind == DamageKind::kTornTail || d.kind == DamageKind::kAbandonedTail)
          << "a crash leaves only torn or abandoned tails: " << DescribeDamage(d);
    }
    last = got;
  }
  return last;
}

// Reopens the log with the default Env, checks it continues at last + 1,
// appends a few records and checks the whole log again.
void ReopenAndContinue(const std::string& dir, Lsn last, std::set<Lsn>* acked,
                       std::map<Lsn, OwnedRecord>* appended, uint64_t segment_bytes) {
  auto w = LogWriter::Open(testing::SmallLogOptions(dir, Durability::kBatch, segment_bytes));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->last_lsn(), last);
  for (int i = 0; i < 5; ++i) {
    const Lsn expect = (*w)->last_lsn() + 1;
    OwnedRecord rec = RecordFor(expect);
    auto lsn = (*w)->AppendDurable(rec.type, rec.payload, rec.timestamp_ns);
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    ASSERT_EQ(*lsn, expect);
    (*appended)[expect] = rec;
    acked->insert(expect);
  }
  ASSERT_TRUE((*w)->Close().ok());
  w->reset();
  auto r = ReadLog(dir, RecoveryMode::kPointInTimeRecovery);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  EXPECT_EQ(r.records.size(), last + 5);
  CheckRecovered(dir, *acked, *appended);
}

// ---------------------------------------------------------------------------
// Failed write / sync.

struct FaultCase {
  Op op;
  int err;
  bool persistent;
  uint64_t nth;
};

std::string FaultCaseName(const ::testing::TestParamInfo<FaultCase>& info) {
  const FaultCase& c = info.param;
  return std::string(c.op == Op::kWrite ? "Write" : "Sync") + std::to_string(c.nth) +
         (c.err == EIO ? "Eio" : "Enospc") + (c.persistent ? "Persistent" : "Once");
}

class FailedOpTest : public ::testing::TestWithParam<FaultCase> {};

// One producer: 20 acknowledged appends, then the fault is armed and a burst
// of records is appended and waited for in LSN order. The acknowledged ones
// must be a prefix of the burst (nothing after the failure), the writer must
// be latched, and after a power loss every acknowledged record is on disk.
TEST_P(FailedOpTest, FailedOpLatchesWriterAndAcksNothingAfterIt) {
  RAZAR_SKIP_WITHOUT_URING();
  const FaultCase c = GetParam();
  TempDir tmp;
  FaultInjectionEnv fenv;
  auto opts = testing::SmallLogOptions(tmp.path(), Durability::kBatch, 1u << 20);
  opts.env = &fenv;
  // Sparse segments: no background zero-filling competes for the fault's
  // ordinal, so the armed write or sync is one of the flusher's.
  opts.prewrite_segments = LogWriterOptions::Prewrite::kNever;
  auto w = LogWriter::Open(opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  LogWriter& writer = **w;

  std::map<Lsn, OwnedRecord> appended;
  std::set<Lsn> acked;
  for (Lsn l = 1; l <= 20; ++l) {
    OwnedRecord rec = RecordFor(l);
    auto lsn = writer.AppendDurable(rec.type, rec.payload, rec.timestamp_ns);
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    ASSERT_EQ(*lsn, l);
    appended[l] = rec;
    acked.insert(l);
  }

  // The spare preparer syncs the next segment in the background after the
  // open; arm the fault only once it is done, so that the armed ordinal is
  // one of the flusher's operations, not the preparer's (there is no
  // rollover in 1 MiB, hence no later preparation).
  const auto spare_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (writer.stats().spares_prepared < 2) {
    ASSERT_LT(std::chrono::steady_clock::now(), spare_deadline) << "the spare was never prepared";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  fenv.FailOp(c.op, c.nth, c.err, c.persistent);
  // Bursts of appends, each waited for in order, until one fails. The
  // acknowledged LSNs must be a prefix: no wait succeeds after an earlier
  // one failed. (A failed append says nothing about the records before it
  // in the burst: they may have been synced by an earlier commit.)
  Lsn first_failed = 0;  // the first LSN whose wait failed, else whose append failed
  for (int burst = 0; burst < 40 && first_failed == 0; ++burst) {
    std::vector<Lsn> lsns;
    Lsn append_failed = 0;
    for (int i = 0; i < 8; ++i) {
      const Lsn expect = writer.last_lsn() + 1;
      OwnedRecord rec = RecordFor(expect);
      auto lsn = writer.Append(rec.type, rec.payload, rec.timestamp_ns);
      if (!lsn.ok()) {
        EXPECT_TRUE(lsn.status().IsFailed()) << lsn.status().ToString();
        append_failed = expect;
        break;
      }
      ASSERT_EQ(*lsn, expect);
      appended[expect] = rec;
      lsns.push_back(expect);
    }
    for (Lsn l : lsns) {
      Status s = writer.WaitDurable(l);
      if (s.ok()) {
        ASSERT_EQ(first_failed, 0u)
            << "LSN " << l << " acknowledged after LSN " << first_failed << " failed";
        acked.insert(l);
      } else {
        EXPECT_TRUE(s.IsFailed()) << s.ToString();
        if (first_failed == 0) first_failed = l;
      }
    }
    if (first_failed == 0) first_failed = append_failed;
  }
  ASSERT_NE(first_failed, 0u) << "the armed fault never surfaced";

  // Latched: nothing succeeds any more, with the original error named.
  const Status latched = writer.status();
  EXPECT_TRUE(latched.IsFailed()) << latched.ToString();
  EXPECT_NE(latched.ToString().find(std::strerror(c.err)), std::string::npos)
      << "the latched error should name the original one: " << latched.ToString();
  EXPECT_LT(writer.synced_lsn(), first_failed);
  auto more = writer.Append(lf::kRecord, testing::PatternBytes(1, 10), 1);
  EXPECT_FALSE(more.ok());
  EXPECT_TRUE(more.status().IsFailed()) << more.status().ToString();
  auto more_durable = writer.AppendDurable(lf::kRecord, testing::PatternBytes(2, 10), 1);
  EXPECT_FALSE(more_durable.ok());
  EXPECT_FALSE(writer.WaitDurable(first_failed).ok());
  EXPECT_FALSE(writer.Sync().ok());
  const Lsn synced_at_latch = writer.synced_lsn();
  EXPECT_GE(synced_at_latch, *acked.rbegin());
  EXPECT_FALSE(writer.Close().ok()) << "Close returns the latched error";
  EXPECT_EQ(writer.synced_lsn(), synced_at_latch) << "nothing becomes durable after the latch";
  w->reset();

  // Power loss, then recovery with the real Env.
  ASSERT_TRUE(fenv.DropUnsyncedData().ok());
  fenv.ClearFaults();
  const Lsn last = CheckRecovered(tmp.path(), acked, appended);
  ReopenAndContinue(tmp.path(), last, &acked, &appended, 1u << 20);
}

INSTANTIATE_TEST_SUITE_P(
    AllFaults, FailedOpTest,
    ::testing::Values(FaultCase{Op::kWrite, EIO, false, 1}, FaultCase{Op::kWrite, EIO, true, 1},
                      FaultCase{Op::kWrite, ENOSPC, false, 1},
                      FaultCase{Op::kWrite, ENOSPC, true, 1}, FaultCase{Op::kWrite, EIO, false, 5},
                      FaultCase{Op::kWrite, ENOSPC, true, 5}, FaultCase{Op::kSync, EIO, false, 1},
                      FaultCase{Op::kSync, EIO, true, 1}, FaultCase{Op::kSync, ENOSPC, false, 1},
                      FaultCase{Op::kSync, ENOSPC, true, 1}, FaultCase{Op::kSync, EIO, false, 4},
                      FaultCase{Op::kSync, ENOSPC, true, 4}),
    FaultCaseName);

// Four producers on 64 KiB segments with pre-written spares (so rollover,
// the spare preparer and group commits are all in play) and a persistent
// fault: no acknowledgement beyond what was synced when the writer latched,
// and every acknowledgement survives a power loss.
TEST(LogFaultTest, FailedSyncUnderConcurrentProducersAcksNothingUnsynced) {
  RAZAR_SKIP_WITHOUT_URING();
  for (Op op : {Op::kSync, Op::kWrite}) {
    SCOPED_TRACE(op == Op::kSync ? "sync fault" : "write fault");
    TempDir tmp;
    FaultInjectionEnv fenv;
    auto opts = testing::SmallLogOptions(tmp.path(), Durability::kBatch, 64u << 10);
    opts.env = &fenv;
    opts.prewrite_segments = LogWriterOptions::Prewrite::kAlways;
    auto w = LogWriter::Open(opts);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    LogWriter& writer = **w;
    fenv.FailOp(op, 60, EIO, /*persistent=*/true);

    std::mutex mu;
    std::map<Lsn, OwnedRecord> appended;
    std::set<Lsn> acked;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 5000; ++i) {
          // Any content works: it is recorded under the LSN Append returns.
          auto payload = testing::PatternBytes((uint64_t(t) << 32) | uint64_t(i), (i * 53) % 900);
          auto lsn = writer.Append(lf::kRecord, payload, t * 100000 + i + 1);
          if (!lsn.ok()) return;
          {
            std::lock_guard<std::mutex> l(mu);
            appended[*lsn] = OwnedRecord{*lsn, t * 100000 + i + 1, lf::kRecord, payload};
          }
          if (!writer.WaitDurable(*lsn).ok()) return;
          std::lock_guard<std::mutex> l(mu);
          acked.insert(*lsn);
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_FALSE(writer.status().ok()) << "a persistent fault must latch the writer";
    ASSERT_FALSE(acked.empty());
    EXPECT_LE(*acked.rbegin(), writer.synced_lsn())
        << "acknowledged beyond what was synced before the latch";
    EXPECT_LT(writer.synced_lsn(), writer.last_lsn());
    EXPECT_FALSE(writer.Close().ok());
    w->reset();

    ASSERT_TRUE(fenv.DropUnsyncedData().ok());
    fenv.ClearFaults();
    const Lsn last = CheckRecovered(tmp.path(), acked, appended);
    EXPECT_GE(last, *acked.rbegin());
  }
}

// ---------------------------------------------------------------------------
// Short writes and -EAGAIN.

class ResubmitTest : public ::testing::TestWithParam<Durability> {};

TEST_P(ResubmitTest, ShortWritesAndEagainAreResubmittedTransparently) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  FaultInjectionEnv fenv;
  auto opts = testing::SmallLogOptions(tmp.path(), GetParam(), 64u << 10);
  opts.env = &fenv;
  auto w = LogWriter::Open(opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  LogWriter& writer = **w;

  // Ring-write ordinals, counted from now, including the resubmissions.
  int injected = 0;
  for (uint64_t n : {1, 2, 3, 6, 9, 10, 20, 33}) {
    fenv.ShortWriteOn(n);
    ++injected;
  }
  for (uint64_t n : {4, 5, 12, 40}) {
    fenv.EagainOn(n);
    ++injected;
  }
  std::vector<OwnedRecord> want;
  for (Lsn l = 1; l <= 300; ++l) {
    OwnedRecord rec = RecordFor(l);
    auto lsn = writer.AppendDurable(rec.type, rec.payload, rec.timestamp_ns);
    ASSERT_TRUE(lsn.ok()) << "LSN " << l << ": " << lsn.status().ToString();
    ASSERT_EQ(*lsn, l);
    want.push_back(rec);
  }
  EXPECT_TRUE(writer.status().ok());
  EXPECT_EQ(writer.stats().short_writes, uint64_t(injected))
      << "every short or -EAGAIN completion is resubmitted once";
  ASSERT_TRUE(writer.Close().ok());
  w->reset();
  if (GetParam() == Durability::kBatch) {
    // Everything was acknowledged in batch mode: a power loss loses nothing.
    ASSERT_TRUE(fenv.DropUnsyncedData().ok());
  }
  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_TRUE(testing::SameRecords(r.records, want));
}

INSTANTIATE_TEST_SUITE_P(Modes, ResubmitTest,
                         ::testing::Values(Durability::kBatch, Durability::kNone),
                         [](const auto& info) { return std::string(DurabilityName(info.param)); });

TEST(LogFaultTest, ShortWritesUnderConcurrentProducersKeepEveryRecordIntact) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  FaultInjectionEnv fenv;
  auto opts = testing::SmallLogOptions(tmp.path(), Durability::kBatch, 64u << 10);
  opts.env = &fenv;
  auto w = LogWriter::Open(opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (uint64_t n = 1; n < 400; n += 3) fenv.ShortWriteOn(n);
  for (uint64_t n = 2; n < 400; n += 7) fenv.EagainOn(n);
  std::mutex mu;
  std::map<Lsn, OwnedRecord> appended;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        auto payload = testing::PatternBytes((uint64_t(t) << 32) | uint64_t(i), (i * 29) % 1500);
        auto lsn = (*w)->AppendDurable(lf::kRecord, payload, i + 1);
        if (!lsn.ok()) {
          ++failures;
          return;
        }
        std::lock_guard<std::mutex> l(mu);
        appended[*lsn] = OwnedRecord{*lsn, i + 1, lf::kRecord, payload};
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0) << (*w)->status().ToString();
  EXPECT_GT((*w)->stats().short_writes, 0u);
  ASSERT_TRUE((*w)->Close().ok());
  w->reset();
  ASSERT_TRUE(fenv.DropUnsyncedData().ok());
  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_EQ(r.records.size(), 1200u);
  for (const auto& rec : r.records) ASSERT_TRUE(rec == appended[rec.lsn]) << rec;
}

// ---------------------------------------------------------------------------
// Completion order. env.h: "Completion order is not submission order
// (io_uring(7)): callers identify completions by user_data". This Env's ring
// runs each submission synchronously with IOSQE_IO_LINK semantics, returns
// block-aligned short writes and -EAGAIN now and then, and hands the
// completions of every submission back in reverse order (so a cancelled
// linked fdatasync is reaped before the short write that cancelled it).

class ReversingRing final : public Ring {
 public:
  explicit ReversingRing(Env* base) : base_(base) {}
  Status RegisterBuffers(const iovec*, unsigned) override { return Status::Ok(); }
  void QueueWrite(int fd, const void* data, uint32_t len, uint64_t offset, int, uint64_t user_data,
                  bool link_next) override {
    queued_.push_back(Op{true, fd, data, len, offset, user_data, link_next});
  }
  void QueueFdatasync(int fd, uint64_t user_data) override {
    queued_.push_back(Op{false, fd, nullptr, 0, 0, user_data, false});
  }
  Status Submit() override {
    std::vector<Completion> batch;
    bool cancel = false;
    for (const Op& op : queued_) {
      int32_t res = 0;
      if (cancel) {
        res = -ECANCELED;
      } else if (!op.write) {
        Status st = base_->Fdatasync(op.fd);
        res = st.ok() ? 0 : -(st.err() != 0 ? st.err() : EIO);
      } else {
        ++writes_;
        uint32_t n = op.len;
        if (writes_ % 7 == 0) {
          res = -EAGAIN;
        } else {
          // Short writes keep O_DIRECT's 512-byte alignment, as the kernel's do.
          if (writes_ % 3 == 0 && op.len >= 1024) n = (op.len / 2) & ~511u;
          Status st = base_->PWrite(op.fd, op.data, n, op.offset);
          res = st.ok() ? static_cast<int32_t>(n) : -(st.err() != 0 ? st.err() : EIO);
        }
      }
      const bool failed = res < 0 || (op.write && static_cast<uint32_t>(res) != op.len);
      cancel = op.link_next && (cancel || failed);
      batch.push_back(Completion{op.user_data, res});
    }
    queued_.clear();
    completions_.insert(completions_.end(), batch.rbegin(), batch.rend());
    return Status::Ok();
  }
  Status WaitCompletion(Completion* out) override {
    if (completions_.empty()) return Status::InvalidArgument("nothing in flight");
    *out = completions_.front();
    completions_.erase(completions_.begin());
    return Status::Ok();
  }
  unsigned capacity() const override { return 64; }

 private:
  struct Op {
    bool write;
    int fd;
    const void* data;
    uint32_t len;
    uint64_t offset;
    uint64_t user_data;
    bool link_next;
  };
  Env* base_;
  uint64_t writes_ = 0;
  std::vector<Op> queued_;
  std::vector<Completion> completions_;
};

// Env::Default() with a ReversingRing.
class ReversingEnv final : public ForwardingEnv {
 public:
  Result<std::unique_ptr<Ring>> NewRing(unsigned) override {
    return std::unique_ptr<Ring>(new ReversingRing(base()));
  }
};

TEST(LogFaultTest, CompletionsReapedInReverseOrderDoNotFailTheWriter) {
  for (Durability d : {Durability::kBatch, Durability::kInterval}) {
    SCOPED_TRACE(DurabilityName(d));
    TempDir tmp;
    ReversingEnv env;
    auto opts = testing::SmallLogOptions(tmp.path(), d, 64u << 10);
    opts.env = &env;
    opts.interval_ms = 1;
    auto w = LogWriter::Open(opts);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    std::vector<OwnedRecord> want;
    for (Lsn l = 1; l <= 300; ++l) {
      OwnedRecord rec = RecordFor(l);
      auto lsn = (*w)->AppendDurable(rec.type, rec.payload, rec.timestamp_ns);
      ASSERT_TRUE(lsn.ok()) << "LSN " << l << ": " << lsn.status().ToString();
      want.push_back(rec);
    }
    ASSERT_TRUE((*w)->Sync().ok()) << (*w)->status().ToString();
    EXPECT_GT((*w)->stats().short_writes, 0u);
    ASSERT_TRUE((*w)->Close().ok());
    w->reset();
    auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
    ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
    ASSERT_TRUE(testing::SameRecords(r.records, want));
  }
}

// ---------------------------------------------------------------------------
// Torn writes.

class TornWriteTest : public ::testing::TestWithParam<uint64_t> {};

// The disk dies in the middle of a write after `budget` more bytes. First as
// a process crash (the torn bytes stay), then as a power loss (unsynced
// bytes vanish): every acknowledged record is present, never garbage, and a
// new writer continues after the tail.
TEST_P(TornWriteTest, TornWriteKeepsEveryAcknowledgedRecord) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const std::string dir = tmp.Sub("log");
  FaultInjectionEnv fenv;
  auto opts = testing::SmallLogOptions(dir, Durability::kBatch, 64u << 10);
  opts.env = &fenv;
  auto w = LogWriter::Open(opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  LogWriter& writer = **w;

  std::mutex mu;
  std::map<Lsn, OwnedRecord> appended;
  std::set<Lsn> acked;
  auto produce = [&](int t, int count) {
    for (int i = 0; i < count; ++i) {
      auto payload = testing::PatternBytes((uint64_t(t) << 32) | uint64_t(i), (i * 41 + t) % 600);
      const int64_t ts = t * 1000000 + i + 1;
      auto lsn = writer.Append(lf::kRecord, payload, ts);
      if (!lsn.ok()) return;
      {
        std::lock_guard<std::mutex> l(mu);
        appended[*lsn] = OwnedRecord{*lsn, ts, lf::kRecord, payload};
      }
      if (!writer.WaitDurable(*lsn).ok()) return;
      std::lock_guard<std::mutex> l(mu);
      acked.insert(*lsn);
    }
  };
  produce(0, 30);  // some acknowledged history before the disk dies
  ASSERT_EQ(acked.size(), 30u);
  fenv.TearAfterBytes(GetParam());
  std::thread t1(produce, 1, 3000), t2(produce, 2, 3000);
  t1.join();
  t2.join();
  ASSERT_FALSE(writer.status().ok()) << "a dead disk must latch the writer";
  EXPECT_FALSE(writer.Close().ok());
  w->reset();

  {
    SCOPED_TRACE("process crash: torn bytes still in place");
    const std::string crash_copy = tmp.Sub("crash");
    testing::CopyDir(dir, crash_copy);
    std::set<Lsn> crash_acked = acked;
    std::map<Lsn, OwnedRecord> crash_appended = appended;
    const Lsn last = CheckRecovered(crash_copy, crash_acked, crash_appended);
    ReopenAndContinue(crash_copy, last, &crash_acked, &crash_appended, 64u << 10);
  }
  {
    SCOPED_TRACE("power loss: unsynced bytes dropped");
    ASSERT_TRUE(fenv.DropUnsyncedData().ok());
    fenv.ClearFaults();
    const Lsn last = CheckRecovered(dir, acked, appended);
    ReopenAndContinue(dir, last, &acked, &appended, 64u << 10);
  }
}

INSTANTIATE_TEST_SUITE_P(Budgets, TornWriteTest,
                         ::testing::Values(0, 1, 31, 100, 4103, 20000, 70001, 150000));

// ---------------------------------------------------------------------------
// Holes and torn tails found at open.

struct SmallLog {
  std::vector<OwnedRecord> records;
  std::vector<uint64_t> offsets;  // of each record in the single segment, plus the end
  std::string segment;            // its file name
};

SmallLog WriteSingleSegmentLog(const std::string& dir, Lsn n) {
  SmallLog out;
  auto w = LogWriter::Open(testing::SmallLogOptions(dir, Durability::kNone, 1u << 20));
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return out;
  std::vector<size_t> sizes;
  for (Lsn l = 1; l <= n; ++l) {
    OwnedRecord rec = RecordFor(l);
    auto lsn = (*w)->Append(rec.type, rec.payload, rec.timestamp_ns);
    EXPECT_TRUE(lsn.ok() && *lsn == l);
    sizes.push_back(rec.payload.size());
    out.records.push_back(rec);
  }
  EXPECT_TRUE((*w)->Close().ok());
  auto segs = testing::SegmentNames(dir);
  EXPECT_EQ(segs.size(), 1u);
  if (!segs.empty()) out.segment = segs[0];
  out.offsets = testing::RecordOffsets(sizes);
  return out;
}

TEST(LogFaultTest, HoleInMiddleOfSegmentStopsPointInTimeWithCorruption) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const SmallLog log = WriteSingleSegmentLog(tmp.path(), 100);
  ASSERT_EQ(log.records[49].lsn, 50u);
  ASSERT_FALSE(log.records[49].payload.empty());
  const std::string seg = tmp.path() + "/" + log.segment;
  // Damage LSN 50's payload; LSNs 51..100 stay valid behind it.
  testing::FlipBit(seg, log.offsets[49] + lf::kRecordHeaderBytes, 4);

  auto pit = ReadLog(tmp.path(), RecoveryMode::kPointInTimeRecovery);
  ASSERT_TRUE(pit.status.ok()) << testing::Describe(pit);
  ASSERT_TRUE(testing::SameRecords(
      pit.records, std::vector<OwnedRecord>(log.records.begin(), log.records.begin() + 49)));
  EXPECT_EQ(pit.report.stop, StopReason::kDamage);
  ASSERT_EQ(pit.report.damages.size(), 1u);
  const Damage& d = pit.report.damages[0];
  EXPECT_EQ(d.kind, DamageKind::kCorruption);
  EXPECT_EQ(d.segment, log.segment);
  EXPECT_EQ(d.offset, log.offsets[49]);
  EXPECT_EQ(d.bytes, log.offsets[50] - log.offsets[49]);
  EXPECT_EQ(d.last_good_lsn, 49u);
  EXPECT_EQ(d.next_good_lsn, 51u);
  EXPECT_FALSE(DescribeDamage(d).empty());

  auto skip = ReadLog(tmp.path(), RecoveryMode::kSkipAnyCorruptedRecords);
  ASSERT_TRUE(skip.status.ok()) << testing::Describe(skip);
  ASSERT_EQ(skip.records.size(), 99u);
  for (const auto& rec : skip.records) {
    EXPECT_NE(rec.lsn, 50u);
    EXPECT_TRUE(rec == log.records[rec.lsn - 1]);
  }
  for (RecoveryMode m :
       {RecoveryMode::kTolerateCorruptedTailRecords, RecoveryMode::kAbsoluteConsistency}) {
    auto r = ReadLog(tmp.path(), m);
    EXPECT_TRUE(r.status.IsCorruption()) << RecoveryModeName(m) << ": " << testing::Describe(r);
  }
}

// Records 1..n (RecordFor) in 64 KiB segments, several of them.
void WriteMultiSegmentLog(const std::string& dir, Lsn n) {
  auto w = LogWriter::Open(testing::SmallLogOptions(dir, Durability::kNone, 64u << 10));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (Lsn l = 1; l <= n; ++l) {
    OwnedRecord rec = RecordFor(l);
    ASSERT_TRUE((*w)->Append(rec.type, rec.payload, rec.timestamp_ns).ok());
  }
  ASSERT_TRUE((*w)->Close().ok());
}

// A segment that cannot be read (here: a directory under a segment's name,
// so that pread fails with EISDIR) is kIoError. The spec's table: a read
// error is never taken for the end of the log — every mode but
// skip-corrupted fails; skip-corrupted goes on with the next segment.
TEST(LogFaultTest, UnreadableSegmentIsAnIoErrorHandledPerMode) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  ASSERT_NO_FATAL_FAILURE(WriteMultiSegmentLog(tmp.path(), 600));
  const auto segs = testing::SegmentNames(tmp.path());
  ASSERT_GE(segs.size(), 3u);
  Lsn first1 = 0, first2 = 0;
  ASSERT_TRUE(lf::ParseSegmentFileName(segs[1], &first1));
  ASSERT_TRUE(lf::ParseSegmentFileName(segs[2], &first2));
  const std::string victim = tmp.path() + "/" + segs[1];
  ASSERT_EQ(::unlink(victim.c_str()), 0);
  ASSERT_EQ(::mkdir(victim.c_str(), 0755), 0);

  for (RecoveryMode mode : kAllModes) {
    auto r = ReadLog(tmp.path(), mode);
    SCOPED_TRACE(std::string(RecoveryModeName(mode)) + ": " + testing::Describe(r));
    ASSERT_FALSE(r.report.damages.empty());
    EXPECT_EQ(r.report.damages.front().kind, DamageKind::kIoError);
    EXPECT_EQ(r.report.damages.front().segment, segs[1]);
    EXPECT_EQ(r.report.damages.front().last_good_lsn, first1 - 1);
    switch (mode) {
      case RecoveryMode::kSkipAnyCorruptedRecords:
        EXPECT_TRUE(r.status.ok());
        EXPECT_EQ(r.records.size(), 600 - (first2 - first1));
        break;
      default:
        EXPECT_FALSE(r.status.ok());
        EXPECT_LE(r.records.size(), first1 - 1);
    }
    for (const auto& rec : r.records) EXPECT_TRUE(rec == RecordFor(rec.lsn)) << rec;
  }
}

// Writer rules (docs/formats/heartbeat-log.md, "What it accepts after a
// point-in-time read"): damage that acknowledged records follow — later
// segments, or a later synced commit — makes a point-in-time writer refuse,
// without touching any segment; the strict modes' reads fail; skip-corrupted
// is the salvage mode and opens after every readable record.
class WriterOnHoleTest : public ::testing::TestWithParam<RecoveryMode> {
 protected:
  void ExpectRefusalOrSalvage(const std::string& dir, Lsn last_readable) {
    const auto segs_before = testing::SegmentNames(dir);
    std::vector<std::vector<uint8_t>> bytes_before;
    for (const auto& s : segs_before) bytes_before.push_back(testing::ReadFileBytes(dir + "/" + s));
    const auto pit = ReadLog(dir, RecoveryMode::kPointInTimeRecovery);
    ASSERT_FALSE(pit.report.damages.empty());
    ASSERT_EQ(pit.report.damages.back().kind, DamageKind::kCorruption) << testing::Describe(pit);

    auto opts = testing::SmallLogOptions(dir, Durability::kBatch, 64u << 10);
    opts.recovery_mode = GetParam();
    auto w = LogWriter::Open(opts);
    if (GetParam() == RecoveryMode::kSkipAnyCorruptedRecords) {
      ASSERT_TRUE(w.ok()) << "skip-corrupted salvages: " << w.status().ToString();
      EXPECT_EQ((*w)->last_lsn(), last_readable);
      EXPECT_TRUE((*w)->Close().ok());
      w = Status::Aborted("writer released");
      for (size_t i = 0; i < segs_before.size(); ++i) {
        EXPECT_TRUE(testing::ReadFileBytes(dir + "/" + segs_before[i]) == bytes_before[i])
            << segs_before[i] << " changed";
      }
      return;
    }
    if (w.ok()) {
      ADD_FAILURE() << "opened on a hole: last_lsn " << (*w)->last_lsn() << ", recovery "
                    << (*w)->recovery_report().Summary();
      EXPECT_TRUE((*w)->Close().ok());
    } else {
      EXPECT_TRUE(w.status().IsCorruption()) << w.status().ToString();
    }
    w = Status::Aborted("writer released");
    EXPECT_EQ(testing::SegmentNames(dir), segs_before)
        << "a refused open must not add, rename or remove segments";
    for (size_t i = 0; i < segs_before.size(); ++i) {
      EXPECT_TRUE(testing::ReadFileBytes(dir + "/" + segs_before[i]) == bytes_before[i])
          << segs_before[i] << " changed";
    }
  }
};

// Batch mode, one durable commit per record: the damaged record 50 is
// followed by 50 complete synced commits, so it was acknowledged data.
TEST_P(WriterOnHoleTest, WriterRefusesToOpenOnAHoleThatLaterSyncedCommitsFollow) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  std::vector<size_t> sizes;
  {
    auto w = LogWriter::Open(testing::SmallLogOptions(tmp.path(), Durability::kBatch, 1u << 20));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (Lsn l = 1; l <= 100; ++l) {
      OwnedRecord rec = RecordFor(l);
      ASSERT_TRUE((*w)->AppendDurable(rec.type, rec.payload, rec.timestamp_ns).ok());
      sizes.push_back(rec.payload.size());
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  const auto segs = testing::SegmentNames(tmp.path());
  ASSERT_EQ(segs.size(), 1u);
  const auto offsets = testing::RecordOffsets(sizes);
  testing::FlipBit(tmp.path() + "/" + segs[0], offsets[49] + lf::kRecordHeaderBytes, 4);
  const auto pit = ReadLog(tmp.path(), RecoveryMode::kPointInTimeRecovery);
  ASSERT_FALSE(pit.report.damages.empty());
  EXPECT_TRUE(pit.report.damages.back().synced_data_damaged) << testing::Describe(pit);
  ExpectRefusalOrSalvage(tmp.path(), 100);
}

TEST_P(WriterOnHoleTest, WriterRefusesToOpenWhenAMiddleSegmentIsMissing) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  ASSERT_NO_FATAL_FAILURE(WriteMultiSegmentLog(tmp.path(), 600));
  const auto segs = testing::SegmentNames(tmp.path());
  ASSERT_GE(segs.size(), 3u);
  ASSERT_EQ(::unlink((tmp.path() + "/" + segs[1]).c_str()), 0);
  ExpectRefusalOrSalvage(tmp.path(), 600);
}

// A hole in the last segment that no complete later commit follows is what
// a power loss leaves of the last, unacknowledged multi-block commit (its
// blocks may persist in any order): a point-in-time writer opens after the
// last good record, and the records behind the hole become an abandoned tail.
TEST(LogFaultTest, WriterAbandonsATornLastCommitBehindAHole) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const SmallLog log = WriteSingleSegmentLog(tmp.path(), 100);  // none mode: nothing proven synced
  testing::FlipBit(tmp.path() + "/" + log.segment, log.offsets[49] + lf::kRecordHeaderBytes, 4);
  auto w = LogWriter::Open(testing::SmallLogOptions(tmp.path(), Durability::kBatch, 1u << 20));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->last_lsn(), 49u);
  ASSERT_FALSE((*w)->recovery_report().damages.empty());
  EXPECT_EQ((*w)->recovery_report().damages.back().kind, DamageKind::kCorruption);
  EXPECT_FALSE((*w)->recovery_report().damages.back().synced_data_damaged);
  OwnedRecord rec = RecordFor(50);
  ASSERT_TRUE((*w)->AppendDurable(rec.type, rec.payload, rec.timestamp_ns).ok());
  ASSERT_TRUE((*w)->Close().ok());
  w = Status::Aborted("writer released");

  const auto r = ReadLog(tmp.path(), RecoveryMode::kPointInTimeRecovery);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_EQ(r.records.size(), 50u) << testing::Describe(r);
  for (const auto& got : r.records) EXPECT_TRUE(got == RecordFor(got.lsn)) << got;
  ASSERT_FALSE(r.report.damages.empty());
  EXPECT_EQ(r.report.damages.front().kind, DamageKind::kAbandonedTail);
  EXPECT_EQ(r.report.stop, StopReason::kCleanEnd);
  EXPECT_TRUE(testing::ReadFileBytes(tmp.path() + "/" + log.segment).size() > 0)
      << "the abandoned bytes stay as evidence";
}

INSTANTIATE_TEST_SUITE_P(AllModes, WriterOnHoleTest, ::testing::ValuesIn(kAllModes),
                         testing::RecoveryModeParamName());

// A torn tail (a partial record after the last good one) is what a crash
// leaves: lenient writers open, continue at last + 1 in a new segment and
// leave the torn bytes as an abandoned tail; a strict writer refuses.
TEST(LogFaultTest, TornTailIsAbandonedAndWriterContinuesInNewSegment) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const SmallLog log = WriteSingleSegmentLog(tmp.path(), 100);
  const std::string seg = tmp.path() + "/" + log.segment;
  // A partial record 101 where the writer would have put it.
  std::vector<uint8_t> rec101(lf::RecordFootprint(200));
  const auto p = testing::PayloadForLsn(101, 1000);
  std::vector<uint8_t> payload(p.begin(), p.begin() + std::min<size_t>(200, p.size()));
  payload.resize(200, 0x33);
  lf::EncodeRecord(rec101.data(), lf::kRecord, 101, 5, payload.data(), 200, 1);
  testing::PatchFile(seg, log.offsets[100], rec101.data(), 100);  // header + part of payload
  const auto seg_bytes = testing::ReadFileBytes(seg);

  {
    auto opts = testing::SmallLogOptions(tmp.path(), Durability::kBatch, 1u << 20);
    opts.recovery_mode = RecoveryMode::kAbsoluteConsistency;
    auto w = LogWriter::Open(opts);
    EXPECT_FALSE(w.ok()) << "absolute consistency rejects a torn tail";
    EXPECT_EQ(testing::SegmentNames(tmp.path()), std::vector<std::string>{log.segment});
  }
  std::vector<OwnedRecord> want = log.records;
  for (RecoveryMode mode :
       {RecoveryMode::kPointInTimeRecovery, RecoveryMode::kTolerateCorruptedTailRecords}) {
    SCOPED_TRACE(RecoveryModeName(mode));
    auto opts = testing::SmallLogOptions(tmp.path(), Durability::kBatch, 1u << 20);
    opts.recovery_mode = mode;
    auto w = LogWriter::Open(opts);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->last_lsn(), want.back().lsn);
    const ReadReport& rr = (*w)->recovery_report();
    ASSERT_FALSE(rr.damages.empty()) << rr.Summary();
    const Lsn first_new = want.back().lsn + 1;
    for (int i = 0; i < 3; ++i) {
      OwnedRecord rec = RecordFor(want.back().lsn + 1);
      auto lsn = (*w)->AppendDurable(rec.type, rec.payload, rec.timestamp_ns);
      ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
      ASSERT_EQ(*lsn, rec.lsn);
      want.push_back(rec);
    }
    ASSERT_TRUE((*w)->Close().ok());
    EXPECT_EQ(testing::SegmentNames(tmp.path()).back(), lf::SegmentFileName(first_new));
  }
  EXPECT_TRUE(testing::ReadFileBytes(seg) == seg_bytes) << "the torn segment was rewritten";

  for (RecoveryMode mode : kAllModes) {
    auto r = ReadLog(tmp.path(), mode);
    SCOPED_TRACE(std::string(RecoveryModeName(mode)) + ": " + testing::Describe(r));
    ASSERT_FALSE(r.report.damages.empty());
    EXPECT_EQ(r.report.damages[0].kind, DamageKind::kAbandonedTail);
    EXPECT_EQ(r.report.damages[0].offset, log.offsets[100]);
    EXPECT_EQ(r.report.damages[0].last_good_lsn, 100u);
    EXPECT_EQ(r.report.damages[0].next_good_lsn, 101u);
    if (mode == RecoveryMode::kAbsoluteConsistency) {
      EXPECT_FALSE(r.status.ok());
      continue;
    }
    ASSERT_TRUE(r.status.ok());
    EXPECT_TRUE(testing::SameRecords(r.records, want));
    EXPECT_EQ(r.report.stop, StopReason::kCleanEnd);
  }
}

}  // namespace
}  // namespace razar::storage
