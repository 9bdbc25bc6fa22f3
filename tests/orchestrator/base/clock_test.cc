#include "orchestrator/base/clock.h"

#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace razar::orchestrator {
namespace {

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock(5'000'000'000, 1'000);
  EXPECT_EQ(clock.NowNs(), 5'000'000'000);
  EXPECT_EQ(clock.NowMs(), 5'000);
  EXPECT_EQ(clock.UnixNanos(), 1'000);
  clock.AdvanceMs(250);
  EXPECT_EQ(clock.NowMs(), 5'250);
  EXPECT_EQ(clock.UnixNanos(), 1'000 + 250'000'000);
  clock.AdvanceNs(-5);  // never backwards
  EXPECT_EQ(clock.NowMs(), 5'250);
  clock.SetUnixNanos(42);  // wall time may jump; steady does not
  EXPECT_EQ(clock.UnixNanos(), 42);
  EXPECT_EQ(clock.NowMs(), 5'250);
}

TEST(FakeClockTest, SleeperWakesAtItsDeadlineNotBefore) {
  FakeClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    EXPECT_FALSE(clock.SleepForMs(100));
    woke = true;
  });
  ASSERT_TRUE(clock.WaitForSleepers(1));
  clock.AdvanceMs(99);
  EXPECT_EQ(clock.sleepers(), 1);
  EXPECT_FALSE(woke);
  clock.AdvanceMs(1);
  sleeper.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(clock.sleepers(), 0);
}

TEST(FakeClockTest, SleepersWithDifferentDeadlinesWakeInTurn) {
  FakeClock clock;
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int ms : {10, 20, 30}) {
    threads.emplace_back([&, ms] {
      clock.SleepForMs(ms);
      ++woken;
    });
  }
  ASSERT_TRUE(clock.WaitForSleepers(3));
  clock.AdvanceMs(20);
  threads[0].join();  // the two that are due return
  threads[1].join();
  EXPECT_EQ(woken, 2);
  EXPECT_EQ(clock.sleepers(), 1);
  clock.AdvanceMs(10);
  threads[2].join();
  EXPECT_EQ(woken, 3);
}

TEST(FakeClockTest, InterruptWakesASleeperWithoutTimePassing) {
  FakeClock clock;
  Interrupt stop;
  bool interrupted = false;
  std::thread sleeper([&] { interrupted = clock.SleepForMs(60'000, &stop); });
  ASSERT_TRUE(clock.WaitForSleepers(1));
  stop.Raise();
  sleeper.join();
  EXPECT_TRUE(interrupted);
  EXPECT_TRUE(stop.raised());
  // Already raised: returns at once, for any duration.
  EXPECT_TRUE(clock.SleepForMs(60'000, &stop));
  EXPECT_TRUE(clock.SleepForMs(0, &stop));
  EXPECT_FALSE(clock.SleepForMs(0));
}

TEST(FakeClockTest, OneInterruptWakesManySleepersOnDifferentClocks) {
  FakeClock a, b;
  Interrupt stop;
  std::thread t1([&] { EXPECT_TRUE(a.SleepForMs(60'000, &stop)); });
  std::thread t2([&] { EXPECT_TRUE(b.SleepForMs(60'000, &stop)); });
  ASSERT_TRUE(a.WaitForSleepers(1));
  ASSERT_TRUE(b.WaitForSleepers(1));
  stop.Raise();
  t1.join();
  t2.join();
}

TEST(RealClockTest, SleepsAtLeastTheDurationAndIsInterruptible) {
  Clock* clock = Clock::Real();
  const int64_t before = clock->NowNs();
  EXPECT_FALSE(clock->SleepForMs(20));
  EXPECT_GE(clock->NowNs() - before, 20'000'000);

  Interrupt stop;
  const auto start = std::chrono::steady_clock::now();
  std::thread raiser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop.Raise();
  });
  EXPECT_TRUE(clock->SleepForMs(10'000, &stop));
  raiser.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(RealClockTest, WallClockIsUnixTime) {
  const int64_t now = Clock::Real()->UnixNanos();
  const int64_t seconds = static_cast<int64_t>(time(nullptr));
  EXPECT_NEAR(static_cast<double>(now / 1'000'000'000), static_cast<double>(seconds), 2.0);
}

TEST(RandomTest, SeededIsReproducibleAndBounded) {
  SeededRandom a(123), b(123);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.UniformInclusive(1'000);
    EXPECT_EQ(x, b.UniformInclusive(1'000));
    EXPECT_LE(x, 1'000u);
  }
  EXPECT_EQ(a.UniformInclusive(0), 0u);
  EXPECT_LE(Random::Default()->UniformInclusive(5), 5u);
}

}  // namespace
}  // namespace razar::orchestrator
