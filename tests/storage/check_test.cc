// RAZAR_CHECK stays on in the build the tests run in (RelWithDebInfo, which
// defines NDEBUG): a broken invariant aborts with where and what.
#include "storage/check.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace razar {
namespace {

TEST(CheckTest, PassingChecksDoNothing) {
  int evaluated = 0;
  RAZAR_CHECK(++evaluated == 1);
  RAZAR_CHECK_EQ(++evaluated, 2);
  RAZAR_CHECK_LE(uint64_t{3}, uint64_t{3});
  RAZAR_CHECK_LT(1, 2);
  RAZAR_CHECK_GE(2, 2);
  RAZAR_CHECK_GT(3, 2);
  RAZAR_CHECK_NE(1, 2);
  EXPECT_EQ(evaluated, 2) << "each operand is evaluated exactly once";
}

#ifdef NDEBUG
TEST(CheckTest, StaysOnWithNdebug) { SUCCEED() << "NDEBUG is defined and the death tests below run"; }
#endif

TEST(CheckTestDeathTest, FailedCheckAbortsNamingTheCondition) {
  EXPECT_DEATH(RAZAR_CHECK(1 + 1 == 3), "RAZAR_CHECK failed: 1 \\+ 1 == 3");
}

TEST(CheckTestDeathTest, FailedComparisonPrintsBothValues) {
  const uint64_t bytes_done = 4097;
  const uint64_t length = 4096;
  EXPECT_DEATH(RAZAR_CHECK_LE(bytes_done, length),
               "check_test.cc:[0-9]+: RAZAR_CHECK failed: bytes_done <= length \\(4097 vs 4096\\)");
}

}  // namespace
}  // namespace razar
