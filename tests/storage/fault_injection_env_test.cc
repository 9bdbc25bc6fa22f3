#include "storage/testing/fault_injection_env.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace razar::storage {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 13);
  return b;
}

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/razar-fault-env-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }

  void TearDown() override {
    for (int fd : open_fds_) env_.Close(fd).IgnoreError();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) const { return JoinPath(dir_, name); }

  int OpenFile(const std::string& name, int flags = O_RDWR | O_CREAT) {
    Result<int> fd = env_.Open(Path(name), flags, 0644);
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    if (!fd.ok()) return -1;
    open_fds_.push_back(*fd);
    return *fd;
  }

  void CloseFile(int fd) {
    std::erase(open_fds_, fd);
    ASSERT_TRUE(env_.Close(fd).ok());
  }

  // The file's bytes as the OS sees them, read without the env under test.
  Bytes Contents(const std::string& name) const {
    std::ifstream in(Path(name), std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // Writes `data` and makes it durable, so that it is the baseline a
  // simulated power loss must come back to.
  void WriteSynced(int fd, const Bytes& data, uint64_t offset = 0) {
    ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), offset).ok());
    ASSERT_TRUE(env_.Fdatasync(fd).ok());
  }

  std::unique_ptr<Ring> NewRing(unsigned entries = 8) {
    Result<std::unique_ptr<Ring>> ring = env_.NewRing(entries);
    EXPECT_TRUE(ring.ok()) << ring.status().ToString();
    return ring.ok() ? std::move(ring).value() : nullptr;
  }

  // Submits what is queued and returns `n` completions.
  std::vector<Ring::Completion> SubmitAndWait(Ring* ring, size_t n) {
    EXPECT_TRUE(ring->Submit().ok());
    std::vector<Ring::Completion> out(n);
    for (auto& c : out) EXPECT_TRUE(ring->WaitCompletion(&c).ok());
    return out;
  }

  std::string dir_;
  std::vector<int> open_fds_;
  FaultInjectionEnv env_;
};

// ---- Pass-through and counting ----

TEST_F(FaultInjectionEnvTest, WithoutFaultsWritesReadsAndDirectoryOpsPassThrough) {
  int fd = OpenFile("a");
  Bytes data = Pattern(100, 1);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 0).ok());
  Bytes back(100);
  Result<size_t> n = env_.PRead(fd, back.data(), back.size(), 0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 100u);
  EXPECT_EQ(back, data);
  EXPECT_EQ(*env_.FileSize(fd), 100u);
  ASSERT_TRUE(env_.CreateDirs(Path("x/y")).ok());
  EXPECT_TRUE(env_.Exists(Path("x/y")));
  ASSERT_TRUE(env_.SyncDir(dir_).ok());
  Result<std::vector<std::string>> names = env_.ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 2u);
}

TEST_F(FaultInjectionEnvTest, CountsEveryWriteAndSyncFromBothPaths) {
  int fd = OpenFile("a");
  Bytes data = Pattern(8, 0);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 0).ok());
  ASSERT_TRUE(env_.Fdatasync(fd).ok());
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 8, 8, -1, 1, false);
  ring->QueueFdatasync(fd, 2);
  SubmitAndWait(ring.get(), 2);
  EXPECT_EQ(env_.writes(), 2u);
  EXPECT_EQ(env_.syncs(), 2u);
}

TEST_F(FaultInjectionEnvTest, ClockPassesThroughToTheBaseEnv) {
  int64_t base_now = Env::Default()->NowUnixNanos();
  int64_t now = env_.NowUnixNanos();
  EXPECT_LT(std::llabs(now - base_now), 10'000'000'000LL);
  uint64_t t0 = env_.MonotonicNanos();
  env_.SleepForMicros(1000);
  EXPECT_GE(env_.MonotonicNanos() - t0, 1'000'000u);
}

// ---- FailOp ----

TEST_F(FaultInjectionEnvTest, FailNthWriteFailsOnlyThatWriteWithTheChosenErrno) {
  int fd = OpenFile("a");
  Bytes data = Pattern(4, 0);
  env_.FailOp(FaultInjectionEnv::Op::kWrite, 2, ENOSPC, false);
  EXPECT_TRUE(env_.PWrite(fd, data.data(), 4, 0).ok());
  Status s = env_.PWrite(fd, data.data(), 4, 4);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsIoError());
  EXPECT_EQ(s.err(), ENOSPC);
  EXPECT_EQ(*env_.FileSize(fd), 4u) << "a failed write must not reach the file";
  EXPECT_TRUE(env_.PWrite(fd, data.data(), 4, 8).ok());
}

TEST_F(FaultInjectionEnvTest, PersistentWriteFaultFailsThatAndEveryLaterWrite) {
  int fd = OpenFile("a");
  Bytes data = Pattern(4, 0);
  env_.FailOp(FaultInjectionEnv::Op::kWrite, 2, EIO, true);
  EXPECT_TRUE(env_.PWrite(fd, data.data(), 4, 0).ok());
  for (int i = 0; i < 5; ++i) {
    Status s = env_.PWrite(fd, data.data(), 4, 4);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.err(), EIO);
  }
  EXPECT_TRUE(env_.Fdatasync(fd).ok()) << "a write fault leaves syncs alone";
}

TEST_F(FaultInjectionEnvTest, FaultOrdinalCountsFromWhenItIsArmed) {
  int fd = OpenFile("a");
  Bytes data = Pattern(4, 0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(env_.PWrite(fd, data.data(), 4, 0).ok());
  env_.FailOp(FaultInjectionEnv::Op::kWrite, 1, EIO, false);
  EXPECT_FALSE(env_.PWrite(fd, data.data(), 4, 0).ok());
  EXPECT_TRUE(env_.PWrite(fd, data.data(), 4, 0).ok());
}

TEST_F(FaultInjectionEnvTest, WriteOrdinalCountsPWriteAndRingWritesTogether) {
  int fd = OpenFile("a");
  Bytes data = Pattern(4, 0);
  env_.FailOp(FaultInjectionEnv::Op::kWrite, 2, EIO, false);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), 4, 0).ok());
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 4, 4, -1, 7, false);
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 1);
  EXPECT_EQ(c[0].user_data, 7u);
  EXPECT_EQ(c[0].res, -EIO);
}

TEST_F(FaultInjectionEnvTest, FailNthSyncFailsThatSyncAndLeavesDataUnsynced) {
  int fd = OpenFile("a");
  Bytes data = Pattern(16, 0);
  env_.FailOp(FaultInjectionEnv::Op::kSync, 1, EIO, false);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 0).ok());
  Status s = env_.Fdatasync(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), EIO);
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_TRUE(Contents("a").empty()) << "the failed sync made nothing durable";
}

TEST_F(FaultInjectionEnvTest, PersistentSyncFaultFailsRingAndPlainSyncs) {
  int fd = OpenFile("a");
  env_.FailOp(FaultInjectionEnv::Op::kSync, 1, EROFS, true);
  EXPECT_EQ(env_.Fdatasync(fd).err(), EROFS);
  auto ring = NewRing();
  ring->QueueFdatasync(fd, 1);
  EXPECT_EQ(SubmitAndWait(ring.get(), 1)[0].res, -EROFS);
  env_.ClearFaults();
  EXPECT_TRUE(env_.Fdatasync(fd).ok());
}

// ---- Ring ----

TEST_F(FaultInjectionEnvTest, RingWriteAndLinkedSyncCompleteAndMakeDataDurable) {
  int fd = OpenFile("a");
  Bytes data = Pattern(64, 3);
  auto ring = NewRing(4);
  EXPECT_EQ(ring->capacity(), 4u);
  ring->QueueWrite(fd, data.data(), 64, 0, -1, 10, true);
  ring->QueueFdatasync(fd, 11);
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 2);
  EXPECT_EQ(c[0].user_data, 10u);
  EXPECT_EQ(c[0].res, 64);
  EXPECT_EQ(c[1].user_data, 11u);
  EXPECT_EQ(c[1].res, 0);
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), data) << "the ring sync covered the write";
}

TEST_F(FaultInjectionEnvTest, NothingRunsBeforeSubmit) {
  int fd = OpenFile("a");
  Bytes data = Pattern(8, 0);
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 8, 0, -1, 1, false);
  EXPECT_TRUE(Contents("a").empty());
  EXPECT_EQ(env_.writes(), 0u);
  SubmitAndWait(ring.get(), 1);
  EXPECT_EQ(Contents("a"), data);
}

TEST_F(FaultInjectionEnvTest, WaitCompletionWithNothingInFlightFailsInsteadOfHanging) {
  auto ring = NewRing();
  Ring::Completion c;
  EXPECT_FALSE(ring->WaitCompletion(&c).ok());
}

TEST_F(FaultInjectionEnvTest, ShortRingWriteWritesHalfAndCancelsTheLinkedSync) {
  int fd = OpenFile("a");
  Bytes data = Pattern(10, 0);
  env_.ShortWriteOn(1);
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 10, 0, -1, 1, true);
  ring->QueueFdatasync(fd, 2);
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 2);
  EXPECT_EQ(c[0].res, 5);
  EXPECT_EQ(c[1].user_data, 2u);
  EXPECT_EQ(c[1].res, -ECANCELED);
  EXPECT_EQ(Contents("a"), Bytes(data.begin(), data.begin() + 5));
  EXPECT_EQ(env_.syncs(), 0u) << "a cancelled sync never executes";
}

TEST_F(FaultInjectionEnvTest, ShortWriteOfOneByteWritesNothing) {
  int fd = OpenFile("a");
  uint8_t byte = 0x5A;
  env_.ShortWriteOn(1);
  auto ring = NewRing();
  ring->QueueWrite(fd, &byte, 1, 0, -1, 1, false);
  EXPECT_EQ(SubmitAndWait(ring.get(), 1)[0].res, 0);
  EXPECT_TRUE(Contents("a").empty());
}

TEST_F(FaultInjectionEnvTest, ShortWriteHitsOnlyTheChosenRingOrdinalAndNotPWrite) {
  int fd = OpenFile("a");
  Bytes data = Pattern(8, 0);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), 8, 0).ok());
  env_.ShortWriteOn(2);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), 8, 0).ok()) << "PWrite never writes short";
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 8, 0, -1, 1, false);
  ring->QueueWrite(fd, data.data(), 8, 8, -1, 2, false);
  ring->QueueWrite(fd, data.data(), 8, 16, -1, 3, false);
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 3);
  EXPECT_EQ(c[0].res, 8);
  EXPECT_EQ(c[1].res, 4);
  EXPECT_EQ(c[2].res, 8) << "an unlinked write after a short one still runs";
}

TEST_F(FaultInjectionEnvTest, EagainRingWriteWritesNothingAndCancelsTheLinkedSync) {
  int fd = OpenFile("a");
  Bytes data = Pattern(10, 0);
  env_.EagainOn(1);
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 10, 0, -1, 1, true);
  ring->QueueFdatasync(fd, 2);
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 2);
  EXPECT_EQ(c[0].res, -EAGAIN);
  EXPECT_EQ(c[1].res, -ECANCELED);
  EXPECT_TRUE(Contents("a").empty());
  // The resubmission succeeds: EAGAIN is one-shot.
  ring->QueueWrite(fd, data.data(), 10, 0, -1, 3, false);
  EXPECT_EQ(SubmitAndWait(ring.get(), 1)[0].res, 10);
}

TEST_F(FaultInjectionEnvTest, FailedLinkedWriteCancelsTheRestOfTheChain) {
  int fd = OpenFile("a");
  Bytes data = Pattern(8, 0);
  env_.FailOp(FaultInjectionEnv::Op::kWrite, 1, EIO, false);
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 8, 0, -1, 1, true);
  ring->QueueWrite(fd, data.data(), 8, 8, -1, 2, true);
  ring->QueueFdatasync(fd, 3);
  ring->QueueWrite(fd, data.data(), 8, 16, -1, 4, false);  // outside the chain
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 4);
  EXPECT_EQ(c[0].res, -EIO);
  EXPECT_EQ(c[1].res, -ECANCELED);
  EXPECT_EQ(c[2].res, -ECANCELED);
  EXPECT_EQ(c[3].res, 8);
  EXPECT_EQ(env_.writes(), 2u) << "the cancelled write never reached the env";
  EXPECT_EQ(env_.syncs(), 0u);
}

TEST_F(FaultInjectionEnvTest, UnlinkedSyncRunsAfterAFailedWrite) {
  int fd = OpenFile("a");
  Bytes data = Pattern(8, 0);
  env_.FailOp(FaultInjectionEnv::Op::kWrite, 1, EIO, false);
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 8, 0, -1, 1, false);
  ring->QueueFdatasync(fd, 2);
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 2);
  EXPECT_EQ(c[0].res, -EIO);
  EXPECT_EQ(c[1].res, 0);
}

TEST_F(FaultInjectionEnvTest, LinkDoesNotSpanTwoSubmits) {
  int fd = OpenFile("a");
  Bytes data = Pattern(8, 0);
  env_.FailOp(FaultInjectionEnv::Op::kWrite, 1, EIO, false);
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 8, 0, -1, 1, true);
  EXPECT_EQ(SubmitAndWait(ring.get(), 1)[0].res, -EIO);
  ring->QueueFdatasync(fd, 2);
  EXPECT_EQ(SubmitAndWait(ring.get(), 1)[0].res, 0);
}

TEST_F(FaultInjectionEnvTest, FixedWriteInsideRegisteredBufferSucceeds) {
  int fd = OpenFile("a");
  Bytes buf = Pattern(64, 9);
  iovec iov{buf.data(), buf.size()};
  auto ring = NewRing();
  ASSERT_TRUE(ring->RegisterBuffers(&iov, 1).ok());
  EXPECT_FALSE(ring->RegisterBuffers(&iov, 1).ok()) << "like the kernel: EBUSY";
  ring->QueueWrite(fd, buf.data() + 16, 32, 0, 0, 1, false);
  EXPECT_EQ(SubmitAndWait(ring.get(), 1)[0].res, 32);
  EXPECT_EQ(Contents("a"), Bytes(buf.begin() + 16, buf.begin() + 48));
}

TEST_F(FaultInjectionEnvTest, FixedWriteOutsideRegisteredBufferFaults) {
  int fd = OpenFile("a");
  Bytes buf = Pattern(64, 9);
  Bytes other = Pattern(8, 1);
  iovec iov{buf.data(), buf.size()};
  auto ring = NewRing();
  ASSERT_TRUE(ring->RegisterBuffers(&iov, 1).ok());
  ring->QueueWrite(fd, buf.data() + 60, 8, 0, 0, 1, false);  // runs past the end
  ring->QueueWrite(fd, other.data(), 8, 0, 1, 2, false);     // no buffer 1
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 2);
  EXPECT_EQ(c[0].res, -EFAULT);
  EXPECT_EQ(c[1].res, -EFAULT);
  EXPECT_TRUE(Contents("a").empty());
}

// ---- TearAfterBytes ----

TEST_F(FaultInjectionEnvTest, TornWritePersistsOnlyTheBudgetAndKillsTheDisk) {
  int fd = OpenFile("a");
  Bytes first = Pattern(6, 1), second = Pattern(8, 50);
  env_.TearAfterBytes(10);
  ASSERT_TRUE(env_.PWrite(fd, first.data(), first.size(), 0).ok());
  Status s = env_.PWrite(fd, second.data(), second.size(), 6);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), EIO);
  Bytes want = first;
  want.insert(want.end(), second.begin(), second.begin() + 4);
  EXPECT_EQ(Contents("a"), want);

  // Dead: every later write and sync fails, on both paths, and nothing lands.
  EXPECT_EQ(env_.PWrite(fd, first.data(), 1, 0).err(), EIO);
  EXPECT_EQ(env_.Fdatasync(fd).err(), EIO);
  auto ring = NewRing();
  ring->QueueWrite(fd, first.data(), 6, 100, -1, 1, false);
  ring->QueueFdatasync(fd, 2);
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 2);
  EXPECT_EQ(c[0].res, -EIO);
  EXPECT_EQ(c[1].res, -EIO);
  EXPECT_EQ(Contents("a"), want);

  env_.ClearFaults();
  EXPECT_TRUE(env_.PWrite(fd, first.data(), 1, 0).ok());
  EXPECT_TRUE(env_.Fdatasync(fd).ok());
}

TEST_F(FaultInjectionEnvTest, WriteEndingExactlyAtTheBudgetSucceedsAndTheNextOneTears) {
  int fd = OpenFile("a");
  Bytes data = Pattern(10, 1);
  env_.TearAfterBytes(10);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), 10, 0).ok());
  EXPECT_EQ(env_.PWrite(fd, data.data(), 10, 10).err(), EIO);
  EXPECT_EQ(Contents("a"), data);
}

TEST_F(FaultInjectionEnvTest, TornRingWriteCompletesWithEioAndCancelsTheLinkedSync) {
  int fd = OpenFile("a");
  Bytes data = Pattern(4096, 7);
  env_.TearAfterBytes(1000);
  auto ring = NewRing();
  ring->QueueWrite(fd, data.data(), 4096, 0, -1, 1, true);
  ring->QueueFdatasync(fd, 2);
  std::vector<Ring::Completion> c = SubmitAndWait(ring.get(), 2);
  EXPECT_EQ(c[0].res, -EIO);
  EXPECT_EQ(c[1].res, -ECANCELED);
  EXPECT_EQ(Contents("a"), Bytes(data.begin(), data.begin() + 1000));
}

TEST_F(FaultInjectionEnvTest, TornPartialWriteIsUndoneByDropUnsyncedData) {
  int fd = OpenFile("a");
  Bytes base = Pattern(32, 100);
  WriteSynced(fd, base);
  Bytes data = Pattern(16, 1);
  env_.TearAfterBytes(5);
  EXPECT_FALSE(env_.PWrite(fd, data.data(), data.size(), 24).ok());
  ASSERT_NE(Contents("a"), base);
  env_.ClearFaults();
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), base);
}

// O_DIRECT refuses writes of arbitrary length; the injected prefix of a
// torn or short write must still land, as it would on a real disk.
TEST_F(FaultInjectionEnvTest, TornAndShortWritesLandThroughODirectDescriptors) {
  Result<int> r = env_.Open(Path("direct"), O_RDWR | O_CREAT | O_DIRECT, 0644);
  if (!r.ok() && r.status().err() == EINVAL) GTEST_SKIP() << "file system has no O_DIRECT";
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  int fd = *r;
  open_fds_.push_back(fd);
  constexpr size_t kBlock = 4096;
  std::unique_ptr<uint8_t, decltype(&std::free)> buf(
      static_cast<uint8_t*>(std::aligned_alloc(kBlock, 2 * kBlock)), &std::free);
  Bytes pattern = Pattern(2 * kBlock, 5);
  std::memcpy(buf.get(), pattern.data(), pattern.size());

  env_.ShortWriteOn(1);
  auto ring = NewRing();
  ring->QueueWrite(fd, buf.get(), 2 * kBlock - 2, 0, -1, 1, false);
  EXPECT_EQ(SubmitAndWait(ring.get(), 1)[0].res, static_cast<int32_t>(kBlock - 1));
  EXPECT_EQ(Contents("direct"), Bytes(pattern.begin(), pattern.begin() + kBlock - 1));

  env_.TearAfterBytes(kBlock + 100);
  ASSERT_TRUE(env_.PWrite(fd, buf.get(), kBlock, 0).ok());
  EXPECT_EQ(env_.PWrite(fd, buf.get(), 2 * kBlock, kBlock).err(), EIO);
  Bytes want = pattern;
  want.resize(kBlock);
  want.insert(want.end(), pattern.begin(), pattern.begin() + 100);
  EXPECT_EQ(Contents("direct"), want);

  env_.ClearFaults();
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_TRUE(Contents("direct").empty());
}

// ---- DropUnsyncedData ----

TEST_F(FaultInjectionEnvTest, DropUnsyncedDataRestoresOverwrittenBytes) {
  int fd = OpenFile("a");
  Bytes base = Pattern(100, 1);
  WriteSynced(fd, base);
  Bytes over = Pattern(30, 200);
  ASSERT_TRUE(env_.PWrite(fd, over.data(), over.size(), 40).ok());
  ASSERT_NE(Contents("a"), base);
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), base);
}

TEST_F(FaultInjectionEnvTest, DropUnsyncedDataTruncatesWritesThatExtendedTheFile) {
  int fd = OpenFile("a");
  Bytes base = Pattern(10, 1);
  WriteSynced(fd, base);
  Bytes over = Pattern(15, 77);
  ASSERT_TRUE(env_.PWrite(fd, over.data(), over.size(), 5).ok());    // straddles the end
  ASSERT_TRUE(env_.PWrite(fd, over.data(), over.size(), 100).ok());  // leaves a hole
  ASSERT_EQ(*env_.FileSize(fd), 115u);
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(*env_.FileSize(fd), 10u);
  EXPECT_EQ(Contents("a"), base);
}

TEST_F(FaultInjectionEnvTest, DropUnsyncedDataUndoesOverlappingWritesInReverseOrder) {
  int fd = OpenFile("a");
  Bytes base = Pattern(64, 1);
  WriteSynced(fd, base);
  for (uint8_t i = 0; i < 20; ++i) {
    Bytes w = Pattern(17 + i, static_cast<uint8_t>(i * 31));
    ASSERT_TRUE(env_.PWrite(fd, w.data(), w.size(), (i * 7) % 70).ok());
  }
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), base);
}

TEST_F(FaultInjectionEnvTest, DropUnsyncedDataKeepsWritesCoveredByASync) {
  int fd = OpenFile("a");
  Bytes a = Pattern(20, 1), b = Pattern(20, 99);
  ASSERT_TRUE(env_.PWrite(fd, a.data(), a.size(), 0).ok());
  ASSERT_TRUE(env_.Fdatasync(fd).ok());
  ASSERT_TRUE(env_.PWrite(fd, b.data(), b.size(), 10).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), a);
}

TEST_F(FaultInjectionEnvTest, DropUnsyncedDataEmptiesANeverSyncedFile) {
  int fd = OpenFile("new");
  Bytes data = Pattern(4096, 1);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 0).ok());
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 4096).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_TRUE(env_.Exists(Path("new")));
  EXPECT_EQ(*env_.FileSize(fd), 0u);
}

TEST_F(FaultInjectionEnvTest, SyncOfOneFileDoesNotCoverAnother) {
  int a = OpenFile("a");
  int b = OpenFile("b");
  Bytes data = Pattern(16, 1);
  ASSERT_TRUE(env_.PWrite(a, data.data(), data.size(), 0).ok());
  ASSERT_TRUE(env_.PWrite(b, data.data(), data.size(), 0).ok());
  ASSERT_TRUE(env_.Fdatasync(a).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), data);
  EXPECT_TRUE(Contents("b").empty());
}

TEST_F(FaultInjectionEnvTest, SyncThroughAnotherDescriptorOfTheSameFileCoversIt) {
  int w = OpenFile("a");
  int s = OpenFile("a", O_RDONLY);
  Bytes data = Pattern(16, 1);
  ASSERT_TRUE(env_.PWrite(w, data.data(), data.size(), 0).ok());
  ASSERT_TRUE(env_.Fdatasync(s).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), data);
}

TEST_F(FaultInjectionEnvTest, DropUnsyncedDataWorksAfterTheFileIsClosed) {
  int fd = OpenFile("a");
  Bytes base = Pattern(50, 1), over = Pattern(50, 2);
  WriteSynced(fd, base);
  ASSERT_TRUE(env_.PWrite(fd, over.data(), over.size(), 25).ok());
  CloseFile(fd);
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), base);
}

TEST_F(FaultInjectionEnvTest, DropUnsyncedDataRestoresFilesWrittenThroughAWriteOnlyFd) {
  int fd = OpenFile("a");
  Bytes base = Pattern(50, 1);
  WriteSynced(fd, base);
  int wo = OpenFile("a", O_WRONLY);
  Bytes over = Pattern(20, 2);
  ASSERT_TRUE(env_.PWrite(wo, over.data(), over.size(), 10).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), base);
}

TEST_F(FaultInjectionEnvTest, RingWritesAreTrackedAndRingSyncsClearTracking) {
  int fd = OpenFile("a");
  Bytes a = Pattern(32, 1), b = Pattern(32, 2);
  auto ring = NewRing();
  ring->QueueWrite(fd, a.data(), 32, 0, -1, 1, true);
  ring->QueueFdatasync(fd, 2);
  SubmitAndWait(ring.get(), 2);
  ring->QueueWrite(fd, b.data(), 32, 16, -1, 3, false);
  SubmitAndWait(ring.get(), 1);
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), a);
}

TEST_F(FaultInjectionEnvTest, ShortRingWriteIsTrackedForItsPartialBytes) {
  int fd = OpenFile("a");
  Bytes base = Pattern(40, 1), over = Pattern(40, 2);
  WriteSynced(fd, base);
  env_.ShortWriteOn(1);
  auto ring = NewRing();
  ring->QueueWrite(fd, over.data(), 40, 20, -1, 1, false);
  EXPECT_EQ(SubmitAndWait(ring.get(), 1)[0].res, 20);
  ASSERT_EQ(*env_.FileSize(fd), 40u);
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), base);
}

TEST_F(FaultInjectionEnvTest, RenameMovesUnsyncedTrackingToTheNewPath) {
  int fd = OpenFile("tmp");
  Bytes data = Pattern(30, 1);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 0).ok());
  ASSERT_TRUE(env_.Rename(Path("tmp"), Path("final")).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_FALSE(env_.Exists(Path("tmp")));
  EXPECT_TRUE(env_.Exists(Path("final")));
  EXPECT_TRUE(Contents("final").empty());
}

TEST_F(FaultInjectionEnvTest, SyncAfterRenameClearsTrackingOfTheNewPath) {
  int fd = OpenFile("tmp");
  Bytes data = Pattern(30, 1);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 0).ok());
  ASSERT_TRUE(env_.Rename(Path("tmp"), Path("final")).ok());
  ASSERT_TRUE(env_.Fdatasync(fd).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("final"), data);
}

TEST_F(FaultInjectionEnvTest, RenameOverAFileDropsTheReplacedFilesTracking) {
  int old_fd = OpenFile("final");
  Bytes junk = Pattern(100, 1);
  ASSERT_TRUE(env_.PWrite(old_fd, junk.data(), junk.size(), 0).ok());
  int fd = OpenFile("tmp");
  Bytes data = Pattern(30, 2);
  WriteSynced(fd, data);
  ASSERT_TRUE(env_.Rename(Path("tmp"), Path("final")).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("final"), data);
}

TEST_F(FaultInjectionEnvTest, RemovedFileIsNotRecreatedByDropUnsyncedData) {
  int fd = OpenFile("a");
  Bytes data = Pattern(30, 1);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 0).ok());
  CloseFile(fd);
  ASSERT_TRUE(env_.Remove(Path("a")).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_FALSE(env_.Exists(Path("a")));
}

TEST_F(FaultInjectionEnvTest, MarkAllSyncedMakesDropUnsyncedDataANoOp) {
  int fd = OpenFile("a");
  Bytes data = Pattern(30, 1);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 0).ok());
  env_.MarkAllSynced();
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), data);
}

TEST_F(FaultInjectionEnvTest, ClearFaultsKeepsUnsyncedTracking) {
  int fd = OpenFile("a");
  Bytes data = Pattern(30, 1);
  env_.FailOp(FaultInjectionEnv::Op::kSync, 1, EIO, true);
  ASSERT_TRUE(env_.PWrite(fd, data.data(), data.size(), 0).ok());
  env_.ClearFaults();
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_TRUE(Contents("a").empty());
}

TEST_F(FaultInjectionEnvTest, DropUnsyncedDataTwiceIsIdempotent) {
  int fd = OpenFile("a");
  Bytes base = Pattern(30, 1), over = Pattern(30, 2);
  WriteSynced(fd, base);
  ASSERT_TRUE(env_.PWrite(fd, over.data(), over.size(), 10).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("a"), base);
}

TEST_F(FaultInjectionEnvTest, ConcurrentWritersAreAllCountedAndTracked) {
  int fd = OpenFile("a");
  constexpr int kThreads = 4, kWrites = 50, kBytes = 64;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Bytes data = Pattern(kBytes, static_cast<uint8_t>(t));
      for (int i = 0; i < kWrites; ++i) {
        uint64_t off = static_cast<uint64_t>(t * kWrites + i) * kBytes;
        EXPECT_TRUE(env_.PWrite(fd, data.data(), data.size(), off).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(env_.writes(), static_cast<uint64_t>(kThreads * kWrites));
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(*env_.FileSize(fd), 0u);
}

}  // namespace
}  // namespace razar::storage
