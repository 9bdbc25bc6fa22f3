// /proc/<pid>/stat: the start time that, with the pid, names one process.
// (Moved from runtime_state_test.cc with the function: runtime_state had a
// second parser of the same file.)
#include "orchestrator/os/proc_stat.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace razar::orchestrator {
namespace {

TEST(ProcessStartTimeTest, IdentifiesALiveProcessAndMissesADeadOne) {
  auto self = ReadProcStartTime(::getpid());
  ASSERT_TRUE(self.ok()) << self.status().ToString();
  EXPECT_GT(*self, 0u);
  EXPECT_EQ(*ReadProcStartTime(::getpid()), *self) << "stable for the same process";

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto dead = ReadProcStartTime(child);
  EXPECT_TRUE(dead.status().IsNotFound()) << dead.status().ToString();
  EXPECT_TRUE(ReadProcStartTime(0).status().IsInvalidArgument());
}

}  // namespace
}  // namespace razar::orchestrator
