// ChildProcess: a helper program a test runs as a separate process (fork +
// execve), so that the child inherits no threads, RocksDB instance or log
// writer from the test, and the test can kill it at any moment.
//
// Test support (razar_testing): failures to start fail the running test.
//
// Thread safety: one thread uses a ChildProcess.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace razar::storage::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  // Kills (SIGKILL) and reaps a child still running: no test leaves one
  // behind on any way out.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Runs argv[0] (a path) with `argv` and this process's environment, its
  // stdout and stderr going to `output_path` (truncated). The child gets
  // SIGKILL when this process dies, so a crashed test leaves no writer
  // running. REQUIRES: not started yet.
  void Start(const std::vector<std::string>& argv, const std::string& output_path);

  pid_t pid() const { return pid_; }
  // True while the child runs; false (and *status set) once it exited.
  bool Running(int* status);
  // Waits up to `timeout` for the child to exit and returns its wait
  // status; a child still running then is killed, the test fails, and -1
  // is returned.
  int Wait(std::chrono::milliseconds timeout);
  // SIGKILL and reap; returns the wait status (-1 if not running).
  int Kill();

 private:
  pid_t pid_ = -1;
};

}  // namespace razar::storage::testing
