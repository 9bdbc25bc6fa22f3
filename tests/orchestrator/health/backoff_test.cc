#include "orchestrator/health/backoff.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace razar::orchestrator {
namespace {

BackoffSpec Spec(uint32_t initial_ms, uint32_t max_ms, bool jitter,
                 uint32_t reset_after_ms = 10'000) {
  BackoffSpec spec;
  spec.initial_ms = initial_ms;
  spec.max_ms = max_ms;
  spec.jitter = jitter;
  spec.reset_after_ms = reset_after_ms;
  return spec;
}

TEST(BackoffTest, CeilingDoublesFromInitialAndCapsAtMax) {
  const BackoffSpec spec = Spec(100, 60'000, false);
  const std::vector<uint64_t> expected = {100,   200,    400,    800,    1'600,  3'200,
                                          6'400, 12'800, 25'600, 51'200, 60'000, 60'000};
  for (uint32_t n = 0; n < expected.size(); ++n)
    EXPECT_EQ(Backoff::CeilingMs(spec, n), expected[n]);
  // No overflow however large the attempt.
  EXPECT_EQ(Backoff::CeilingMs(spec, 31), 60'000u);
  EXPECT_EQ(Backoff::CeilingMs(spec, 64), 60'000u);
  EXPECT_EQ(Backoff::CeilingMs(spec, 4'000'000'000u), 60'000u);
  EXPECT_EQ(Backoff::CeilingMs(Spec(1, UINT32_MAX, false), 31), 1ull << 31);
  EXPECT_EQ(Backoff::CeilingMs(Spec(1, UINT32_MAX, false), 32), UINT32_MAX);
  // initial above max: max from the start; zero initial: zero.
  EXPECT_EQ(Backoff::CeilingMs(Spec(5'000, 1'000, false), 0), 1'000u);
  EXPECT_EQ(Backoff::CeilingMs(Spec(0, 1'000, false), 7), 0u);
}

TEST(BackoffTest, WithoutJitterDelaysAreExactUntilTheBudgetIsSpent) {
  FakeClock clock;
  SeededRandom random(1);
  Backoff backoff(Spec(100, 60'000, false), /*retries=*/3, &clock, &random);
  EXPECT_EQ(backoff.retries_left(), 3u);
  for (uint64_t expected : {100u, 200u, 400u}) {
    const RestartDecision d = backoff.OnFailure();
    EXPECT_FALSE(d.give_up);
    EXPECT_EQ(d.delay_ms, expected);
  }
  EXPECT_EQ(backoff.attempts(), 3u);
  EXPECT_EQ(backoff.retries_left(), 0u);
  const RestartDecision last = backoff.OnFailure();
  EXPECT_TRUE(last.give_up);
  EXPECT_EQ(last.delay_ms, 0u);
  EXPECT_TRUE(backoff.OnFailure().give_up);  // stays spent
}

TEST(BackoffTest, ZeroRetriesGivesUpOnTheFirstFailure) {
  FakeClock clock;
  SeededRandom random(1);
  Backoff backoff(Spec(100, 1'000, true), 0, &clock, &random);
  EXPECT_TRUE(backoff.OnFailure().give_up);
}

TEST(BackoffTest, RetryNumbersCountFromOne) {
  FakeClock clock;
  SeededRandom random(1);
  Backoff backoff(Spec(100, 1'000, true), 2, &clock, &random);
  EXPECT_EQ(backoff.OnFailure().retry, 1u);
  EXPECT_EQ(backoff.OnFailure().retry, 2u);
}

TEST(BackoffTest, FullJitterStaysWithinZeroAndTheCeiling) {
  FakeClock clock;
  SeededRandom random(42);
  const BackoffSpec spec = Spec(100, 60'000, true);
  for (int round = 0; round < 200; ++round) {
    Backoff backoff(spec, 12, &clock, &random);
    for (uint32_t n = 0; n < 12; ++n) {
      const RestartDecision d = backoff.OnFailure();
      ASSERT_FALSE(d.give_up);
      ASSERT_LE(d.delay_ms, Backoff::CeilingMs(spec, n)) << "attempt " << n;
    }
  }
}

TEST(BackoffTest, FullJitterCoversTheWholeRangeUniformly) {
  // attempt 0 with initial 100: uniform over the 101 values 0..100.
  FakeClock clock;
  SeededRandom random(7);
  const BackoffSpec spec = Spec(100, 60'000, true);
  constexpr int kSamples = 20'000;
  std::vector<int> hits(101, 0);
  double sum = 0;
  for (int i = 0; i < kSamples; ++i) {
    Backoff backoff(spec, 1, &clock, &random);
    const uint64_t delay = backoff.OnFailure().delay_ms;
    ASSERT_LE(delay, 100u);
    ++hits[delay];
    sum += static_cast<double>(delay);
  }
  // Every value, both ends included, shows up (expected ~198 each; the
  // chance of any one missing is ~1e-86).
  for (int v = 0; v <= 100; ++v) EXPECT_GT(hits[v], 100) << "value " << v;
  // Mean of U{0..100} is 50, sd of the mean ~0.2: 2.0 is ten sigma.
  EXPECT_NEAR(sum / kSamples, 50.0, 2.0);
}

TEST(BackoffTest, SameSeedSameDelays) {
  FakeClock clock;
  SeededRandom a(99), b(99);
  Backoff x(Spec(100, 60'000, true), 10, &clock, &a);
  Backoff y(Spec(100, 60'000, true), 10, &clock, &b);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(x.OnFailure().delay_ms, y.OnFailure().delay_ms);
}

TEST(BackoffTest, ContinuousHealthForResetAfterResetsTheCount) {
  FakeClock clock;
  SeededRandom random(1);
  Backoff backoff(Spec(100, 60'000, false, /*reset_after_ms=*/10'000), 3, &clock, &random);
  backoff.OnFailure();
  backoff.OnFailure();
  ASSERT_EQ(backoff.attempts(), 2u);

  backoff.OnHealthy();
  clock.AdvanceMs(9'999);
  backoff.OnHealthy();  // still the same stretch
  EXPECT_EQ(backoff.attempts(), 2u);
  clock.AdvanceMs(1);
  EXPECT_EQ(backoff.attempts(), 0u);
  EXPECT_EQ(backoff.retries_left(), 3u);
  EXPECT_EQ(backoff.OnFailure().delay_ms, 100u);  // back to the initial delay
}

TEST(BackoffTest, ResetIsAppliedByTheFailureThatEndsALongHealthyStretch) {
  FakeClock clock;
  SeededRandom random(1);
  Backoff backoff(Spec(100, 60'000, false, 10'000), 3, &clock, &random);
  backoff.OnFailure();
  backoff.OnFailure();
  backoff.OnFailure();
  backoff.OnHealthy();
  clock.AdvanceMs(10'000);
  // No query in between: the failure itself notices the stretch was long
  // enough, so the budget is back and the delay restarts at initial_ms.
  const RestartDecision d = backoff.OnFailure();
  EXPECT_FALSE(d.give_up);
  EXPECT_EQ(d.delay_ms, 100u);
  EXPECT_EQ(d.retry, 1u);
}

TEST(BackoffTest, AnInterruptedHealthyStretchDoesNotReset) {
  FakeClock clock;
  SeededRandom random(1);
  Backoff backoff(Spec(100, 60'000, false, 10'000), 3, &clock, &random);
  backoff.OnFailure();
  backoff.OnHealthy();
  clock.AdvanceMs(6'000);
  backoff.OnUnhealthy();  // a probe blip
  backoff.OnHealthy();
  clock.AdvanceMs(6'000);  // 12 s healthy in total, but not continuously
  EXPECT_EQ(backoff.attempts(), 1u);
  clock.AdvanceMs(4'000);  // now 10 s since the blip
  EXPECT_EQ(backoff.attempts(), 0u);
}

TEST(BackoffTest, ExplicitResetForgetsEverything) {
  FakeClock clock;
  SeededRandom random(1);
  Backoff backoff(Spec(100, 60'000, false), 1, &clock, &random);
  backoff.OnFailure();
  EXPECT_TRUE(backoff.OnFailure().give_up);
  backoff.Reset();
  EXPECT_EQ(backoff.OnFailure().delay_ms, 100u);
}

TEST(BackoffTest, ASupervisorSleepingTheDelayWakesExactlyWhenItIsDue) {
  FakeClock clock;
  SeededRandom random(5);
  Backoff backoff(Spec(100, 60'000, true), 3, &clock, &random);
  backoff.OnFailure();
  const RestartDecision d = backoff.OnFailure();  // ceiling 200
  ASSERT_LE(d.delay_ms, 200u);
  ASSERT_GE(d.delay_ms, 1u) << "pick another seed: this one drew 0";
  const int64_t start_ms = clock.NowMs();
  int64_t woke_at_ms = -1;
  std::thread supervisor([&] {
    EXPECT_FALSE(clock.SleepForMs(static_cast<int64_t>(d.delay_ms)));
    woke_at_ms = clock.NowMs();
  });
  ASSERT_TRUE(clock.WaitForSleepers(1));
  clock.AdvanceMs(static_cast<int64_t>(d.delay_ms) - 1);
  EXPECT_EQ(clock.sleepers(), 1);  // 1 ms early: still asleep
  clock.AdvanceMs(1);
  supervisor.join();
  EXPECT_EQ(woke_at_ms - start_ms, static_cast<int64_t>(d.delay_ms));
}

}  // namespace
}  // namespace razar::orchestrator
