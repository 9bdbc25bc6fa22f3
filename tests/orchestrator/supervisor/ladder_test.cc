// RecoveryLadder: the one state machine of retry -> handover -> quarantine,
// driven here without processes (FakeClock, seeded jitter).
#include "orchestrator/supervisor/ladder.h"

#include <gtest/gtest.h>

namespace razar::orchestrator {
namespace {

using Rung = RecoveryLadder::Rung;

ComponentSpec Spec(uint32_t retries) {
  ComponentSpec s;
  s.name = "c";
  s.command = {"true"};
  s.retries = retries;
  s.backoff.initial_ms = 100;
  s.backoff.max_ms = 1000;
  s.backoff.jitter = false;
  s.backoff.reset_after_ms = 10'000;
  return s;
}

class LadderTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  SeededRandom random_{42};
};

TEST_F(LadderTest, HealthyFirstLaunchGoesUp) {
  RecoveryLadder l(Spec(3), &clock_, &random_);
  EXPECT_EQ(l.Start().rung, Rung::kLaunch);
  EXPECT_EQ(l.OnLaunch(true, 1, "").rung, Rung::kUp);
  EXPECT_EQ(l.rung(), Rung::kUp);
}

TEST_F(LadderTest, FailedLaunchesBackOffDoublingThenHandOverThenQuarantine) {
  RecoveryLadder l(Spec(2), &clock_, &random_);
  l.Start();
  RecoveryLadder::Step s = l.OnLaunch(false, 1, "exit 1");
  ASSERT_EQ(s.rung, Rung::kBackoff);
  EXPECT_EQ(s.delay_ms, 100u);
  EXPECT_EQ(s.retry, 1u);
  ASSERT_EQ(l.OnBackoffDone().rung, Rung::kLaunch);
  s = l.OnLaunch(false, 2, "exit 1");
  ASSERT_EQ(s.rung, Rung::kBackoff);
  EXPECT_EQ(s.delay_ms, 200u) << "doubling";
  l.OnBackoffDone();
  s = l.OnLaunch(false, 3, "exit 1");
  ASSERT_EQ(s.rung, Rung::kHandover) << "retries spent: the hook is next";
  s = l.OnHandover(false, 3, "exit 1");
  ASSERT_EQ(s.rung, Rung::kQuarantine);
  EXPECT_EQ(s.reason, "local retries exhausted (3 attempts): exit 1");
  l.OnQuarantined();
  EXPECT_EQ(l.rung(), Rung::kQuarantined);
}

TEST_F(LadderTest, GrantedHandoverGivesAFreshBudgetAndIsAskedOncePerBoot) {
  RecoveryLadder l(Spec(1), &clock_, &random_);
  l.Start();
  ASSERT_EQ(l.OnLaunch(false, 1, "e").rung, Rung::kBackoff);
  l.OnBackoffDone();
  ASSERT_EQ(l.OnLaunch(false, 2, "e").rung, Rung::kHandover);
  ASSERT_EQ(l.OnHandover(true, 2, "e").rung, Rung::kLaunch);
  RecoveryLadder::Step s = l.OnLaunch(false, 3, "e");
  ASSERT_EQ(s.rung, Rung::kBackoff) << "a granted round resets the retries";
  EXPECT_EQ(s.delay_ms, 100u) << "and the backoff exponent";
  l.OnBackoffDone();
  s = l.OnLaunch(false, 4, "e");
  EXPECT_EQ(s.rung, Rung::kQuarantine) << "the hook is asked once per boot";
  EXPECT_TRUE(l.handed_over());
}

// Boot and the supervise phase climb the same ladder: a failure while up
// enters at the same rung a failed launch does.
TEST_F(LadderTest, FailureAfterBootTakesTheSamePathAsAFailedLaunch) {
  RecoveryLadder l(Spec(1), &clock_, &random_);
  l.Start();
  l.OnLaunch(true, 1, "");
  RecoveryLadder::Step s = l.OnFailure(1, "exited (exited with code 1)");
  ASSERT_EQ(s.rung, Rung::kBackoff);
  l.OnBackoffDone();
  l.OnLaunch(true, 2, "");
  ASSERT_EQ(l.OnFailure(2, "crash").rung, Rung::kHandover) << "no reset: not healthy for 10 s";
  EXPECT_EQ(l.OnHandover(false, 2, "crash").rung, Rung::kQuarantine);
}

TEST_F(LadderTest, HealthyLongEnoughResetsTheRetryBudget) {
  RecoveryLadder l(Spec(1), &clock_, &random_);
  l.Start();
  l.OnLaunch(false, 1, "e");
  l.OnBackoffDone();
  l.OnLaunch(true, 2, "");
  clock_.AdvanceMs(10'000);
  l.OnHealthyProbe();
  EXPECT_EQ(l.OnFailure(2, "crash").rung, Rung::kBackoff) << "the budget came back";
}

TEST(LadderDeathTest, AnOutcomeFromTheWrongRungIsABug) {
  FakeClock clock;
  SeededRandom random(1);
  RecoveryLadder l(Spec(1), &clock, &random);
  l.Start();
  EXPECT_DEATH(l.OnHandover(true, 1, ""), "RAZAR_CHECK failed");
  EXPECT_DEATH(l.OnFailure(1, ""), "RAZAR_CHECK failed");
}

}  // namespace
}  // namespace razar::orchestrator
