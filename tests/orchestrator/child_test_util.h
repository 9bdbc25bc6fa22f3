// Helpers for orchestrator tests that start real processes: a scratch
// directory, a FIFO to hand a pid from a script to the test without
// sleeping, and the zombie check every such test ends with.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "orchestrator/os/proc_stat.h"
#include "orchestrator/os/process.h"

namespace razar::orchestrator::testing {

// Pids of zombie children of this process (state Z, ppid == getpid()).
inline std::vector<pid_t> ZombieChildren() {
  std::vector<pid_t> zombies;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return zombies;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    auto stat = ReadProcStat(static_cast<pid_t>(pid));
    if (stat.ok() && stat->state == 'Z' && stat->ppid == getpid()) zombies.push_back(stat->pid);
  }
  closedir(dir);
  return zombies;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scratch directory per test, removed afterwards; asserts in TearDown
// that the test left no zombie children behind.
class ChildProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/razar-orch-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }

  void TearDown() override {
    EXPECT_TRUE(ZombieChildren().empty()) << "zombie children left: " << ZombieChildren().size();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Creates a FIFO; a script writes a line to it and the test reads it
  // with ReadFifoLine, which blocks until the script has got that far.
  std::string MakeFifo(const std::string& name) {
    const std::string path = Path(name);
    EXPECT_EQ(mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
    return path;
  }

  // Reads one line from the FIFO, waiting up to timeout_ms for the writer
  // (a FIFO opened non-blocking with no writer yet polls as not ready on
  // Linux, so this waits for data, not for an open). "" on timeout.
  static std::string ReadFifoLine(const std::string& path, int timeout_ms = 10'000) {
    const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return "";
    std::string line;
    char c;
    while (true) {
      pollfd pfd{fd, POLLIN, 0};
      if (poll(&pfd, 1, timeout_ms) <= 0) break;
      const ssize_t n = read(fd, &c, 1);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0 || c == '\n') break;
      line += c;
    }
    close(fd);
    return line;
  }

  std::string dir_;
};

}  // namespace razar::orchestrator::testing
