// kill -9 of a live writer, many times over on one directory: every
// acknowledged record survives with the right payload, LSNs stay dense from
// 1, and each new writer continues after the previous crash's tail
// (docs/formats/heartbeat-log.md, "Writer rules").
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "storage/log_writer.h"
#include "testing/log_test_util.h"

namespace razar::storage {
namespace {

using testing::ReadLog;
using testing::TempDir;
namespace lf = log_format;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSeg = 64u << 10;

std::vector<uint8_t> PayloadFor(Lsn lsn) { return testing::PayloadForLsn(lsn, 500); }
int64_t TimestampFor(Lsn lsn) { return static_cast<int64_t>(lsn) * 10 + 1; }

// Child exit codes (the child is normally killed before it exits).
enum ChildExit : int {
  kChildDone = 0,
  kChildOpenFailed = 2,
  kChildAppendFailed = 3,
  kChildWaitFailed = 4,
  kChildPipeFailed = 5,
};

// Runs in the forked child: no gtest, no return, only _exit. Threads are
// created here, after the fork. Two producers append records whose payload
// is a function of their LSN (the LSN is predicted under a lock) and report
// each acknowledged LSN on the pipe.
[[noreturn]] void ChildMain(const std::string& dir, int ack_fd) {
  auto opts = testing::SmallLogOptions(dir, Durability::kBatch, kSeg);
  auto w = LogWriter::Open(opts);
  if (!w.ok()) _exit(kChildOpenFailed);
  LogWriter* writer = w->get();
  const Lsn ready = 0;  // LSNs start at 1: 0 means "open, appending now"
  if (::write(ack_fd, &ready, sizeof(ready)) != sizeof(ready)) _exit(kChildPipeFailed);
  std::mutex mu;
  auto produce = [&] {
    for (int i = 0; i < 1000000; ++i) {
      Lsn lsn;
      {
        std::lock_guard<std::mutex> l(mu);
        lsn = writer->last_lsn() + 1;
        auto got = writer->Append(lf::kRecord, PayloadFor(lsn), TimestampFor(lsn));
        if (!got.ok() || *got != lsn) _exit(kChildAppendFailed);
      }
      if (!writer->WaitDurable(lsn).ok()) _exit(kChildWaitFailed);
      ssize_t n;
      do {
        n = ::write(ack_fd, &lsn, sizeof(lsn));  // atomic: < PIPE_BUF
      } while (n < 0 && errno == EINTR);
      if (n != sizeof(lsn)) _exit(kChildPipeFailed);
    }
  };
  std::thread a(produce), b(produce);
  a.join();
  b.join();
  _exit(kChildDone);
}

// Reads whole 8-byte acknowledgements from `fd` until `until`, or until EOF
// when `to_eof`, or until the ready marker (LSN 0) when `to_ready`. Returns
// false at EOF.
bool ReadAcks(int fd, Clock::time_point until, bool to_eof, std::vector<Lsn>* acks,
              std::vector<uint8_t>* partial, bool to_ready = false) {
  for (;;) {
    if (to_ready && std::find(acks->begin(), acks->end(), Lsn{0}) != acks->end()) return true;
    int timeout_ms = -1;
    if (!to_eof) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0) return true;
      timeout_ms = static_cast<int>(left.count());
    }
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return true;
    uint8_t buf[4096];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    partial->insert(partial->end(), buf, buf + n);
    size_t whole = partial->size() / 8 * 8;
    for (size_t i = 0; i < whole; i += 8) {
      Lsn l;
      std::memcpy(&l, partial->data() + i, 8);
      acks->push_back(l);
    }
    partial->erase(partial->begin(), partial->begin() + static_cast<ptrdiff_t>(whole));
  }
}

// What the log must look like after a crash: dense from 1, every payload
// right, nothing but torn or abandoned tails, and at least `min_last`.
Lsn CheckLogAfterCrash(const std::string& dir, Lsn min_last, int round) {
  Lsn last = 0;
  for (RecoveryMode mode :
       {RecoveryMode::kPointInTimeRecovery, RecoveryMode::kTolerateCorruptedTailRecords}) {
    auto r = ReadLog(dir, mode);
    SCOPED_TRACE("round " + std::to_string(round) + ", " + RecoveryModeName(mode) + ": " +
                 testing::Describe(r));
    EXPECT_TRUE(r.status.ok());
    EXPECT_TRUE(testing::LsnsDenseFrom(r.records));
    for (const auto& rec : r.records) {
      if (rec.payload != PayloadFor(rec.lsn) || rec.timestamp_ns != TimestampFor(rec.lsn) ||
          rec.type != lf::kRecord) {
        ADD_FAILURE() << "LSN " << rec.lsn << " holds the wrong record " << rec;
        break;
      }
    }
    const Lsn got = r.records.empty() ? 0 : r.records.back().lsn;
    EXPECT_GE(got, min_last) << "acknowledged (or previously recovered) records are missing";
    for (const Damage& d : r.report.damages) {
      EXPECT_TRUE(d.kind == DamageKind::kTornTail || d.kind == DamageKind::kAbandonedTail)
          << DescribeDamage(d);
    }
    if (mode != RecoveryMode::kPointInTimeRecovery) {
      EXPECT_EQ(got, last) << "modes disagree on a crash-only log";
    }
    last = got;
  }
  return last;
}

TEST(LogCrashTest, KillNineNeverLosesAnAcknowledgedRecord) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  const std::string dir = tmp.Sub("log");
  std::mt19937 rng(0xC0FFEE);
  std::uniform_int_distribution<int> kill_after_ms(10, 100);
  const auto test_deadline = Clock::now() + std::chrono::seconds(20);

  Lsn recovered = 0;  // last LSN seen by the previous round's check
  uint64_t total_acks = 0;
  int rounds = 0, rounds_with_acks = 0;
  for (int round = 0; round < 20 && Clock::now() < test_deadline; ++round, ++rounds) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
    const auto start = Clock::now();
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      ::close(fds[0]);
      ChildMain(dir, fds[1]);
    }
    ::close(fds[1]);
    std::vector<Lsn> acks;
    std::vector<uint8_t> partial;
    // Opening costs a few fdatasyncs, which on some disks take longer than
    // the kill window; so most rounds count the window from the moment the
    // child reports it is appending, and every fourth from the fork, which
    // may kill the writer inside Open.
    const int delay_ms = kill_after_ms(rng);
    const bool kill_in_open = round % 4 == 3;
    auto kill_at = start + std::chrono::milliseconds(delay_ms);
    if (!kill_in_open) {
      ReadAcks(fds[0], start + std::chrono::seconds(10), /*to_eof=*/false, &acks, &partial,
               /*to_ready=*/true);
      kill_at = Clock::now() + std::chrono::milliseconds(delay_ms);
    }
    ReadAcks(fds[0], kill_at, /*to_eof=*/false, &acks, &partial);
    ::kill(pid, SIGKILL);
    // Acknowledgements already in the pipe were sent before the kill.
    ReadAcks(fds[0], Clock::now(), /*to_eof=*/true, &acks, &partial);
    ::close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    if (!(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)) {
      FAIL() << "round " << round << ": child exited on its own with status "
             << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1)
             << " (2 open failed, 3 append failed, 4 wait failed, 5 pipe failed)";
    }
    EXPECT_TRUE(partial.empty()) << "torn acknowledgement on the pipe";

    const bool was_ready = std::find(acks.begin(), acks.end(), Lsn{0}) != acks.end();
    acks.erase(std::remove(acks.begin(), acks.end(), Lsn{0}), acks.end());
    EXPECT_TRUE(was_ready || kill_in_open) << "round " << round << ": child never opened the log";
    Lsn max_ack = 0;
    for (Lsn l : acks) {
      max_ack = std::max(max_ack, l);
      EXPECT_GT(l, recovered) << "round " << round << " acknowledged an LSN that a previous "
                              << "round had already recovered: LSNs were reused";
    }
    total_acks += acks.size();
    rounds_with_acks += acks.empty() ? 0 : 1;
    const Lsn last = CheckLogAfterCrash(dir, std::max(max_ack, recovered), round);
    if (HasFailure()) return;
    recovered = last;
  }
  EXPECT_GE(rounds, 5) << "too few rounds in the time budget";
  EXPECT_GT(total_acks, 0u) << "no child ever acknowledged a record";
  EXPECT_GE(rounds_with_acks, rounds / 2);

  // After all crashes, a writer in this process continues densely.
  auto w = LogWriter::Open(testing::SmallLogOptions(dir, Durability::kBatch, kSeg));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->last_lsn(), recovered);
  auto lsn =
      (*w)->AppendDurable(lf::kRecord, PayloadFor(recovered + 1), TimestampFor(recovered + 1));
  ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
  EXPECT_EQ(*lsn, recovered + 1);
  ASSERT_TRUE((*w)->Close().ok());
  w->reset();
  CheckLogAfterCrash(dir, recovered + 1, rounds);
}

}  // namespace
}  // namespace razar::storage
