#include "testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

extern char** environ;

namespace razar::storage::testing {

ChildProcess::~ChildProcess() { Kill(); }

void ChildProcess::Start(const std::vector<std::string>& argv_strings,
                         const std::string& output_path) {
  ASSERT_EQ(pid_, -1) << "started twice";
  ASSERT_FALSE(argv_strings.empty());
  std::vector<std::string> owned = argv_strings;
  std::vector<char*> argv;
  for (auto& s : owned) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(out, 0) << output_path << ": " << std::strerror(errno);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and execve.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(126);  // the parent died before prctl
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  ::close(out);
  ASSERT_GT(pid, 0) << "fork: " << std::strerror(errno);
  pid_ = pid;
}

bool ChildProcess::Running(int* status) {
  if (pid_ <= 0) return false;
  const pid_t r = ::waitpid(pid_, status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (Running(&status)) {
    if (std::chrono::steady_clock::now() > deadline) {
      Kill();
      ADD_FAILURE() << "child did not finish within " << timeout.count() << " ms; killed";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid_ == -1 ? status : -1;
}

int ChildProcess::Kill() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

}  // namespace razar::storage::testing
