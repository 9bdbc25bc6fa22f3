// Low-level process creation and waiting, shared by Process (process.h)
// and command probes: fork + execve without a shell, pidfds, exit statuses,
// and the monotonic deadlines the poll(2)-based waits use.
//
// Thread safety: free functions, safe from any thread. See process.h for
// what the rest of RAZAR must never do to our children (wait(), SIG_IGN).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/os/unique_fd.h"
#include "storage/status.h"

namespace razar::orchestrator {


struct ExitStatus {
  enum class Kind {
    kExited,    // exit(code)
    kSignaled,  // killed by `signal`
    kUnknown,   // not our child (adopted) or already reaped elsewhere
  };
  Kind kind = Kind::kUnknown;
  int code = 0;    // kExited
  int signal = 0;  // kSignaled
  bool core_dumped = false;

  bool success() const { return kind == Kind::kExited && code == 0; }
  // "exited with code 3", "killed by signal 9 (SIGKILL)", "exit status unknown".
  std::string ToString() const;
};

// The status waitid() reported in `info` (CLD_EXITED / KILLED / DUMPED).
ExitStatus FromSiginfo(const siginfo_t& info);


struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] without '/' is searched in PATH of `env`
  std::vector<std::string> env;   // complete environment, KEY=VALUE
  std::string cwd;                // empty: inherit RAZAR's
  int output_fd = -1;             // becomes stdout and stderr; -1: /dev/null
};

struct Child {
  pid_t pid = 0;
  UniqueFd pidfd;  // CLOEXEC; readable (POLLIN) once the child exits
};

// fork + execve, never through a shell. In the child: all signal
// dispositions reset to default and the mask cleared, a new process group,
// stdin = /dev/null, stdout = stderr = output_fd, chdir(cwd), every other
// fd closed on exec (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)). PATH
// search follows execvp (EACCES remembered, ENOENT skipped), but without
// the /bin/sh fallback on ENOEXEC.
//
// Failures before exec (chdir, exec itself) are reported back through a
// CLOEXEC pipe and returned here — NotFound for ENOENT, IoError with the
// errno otherwise — with the failed child already reaped.
// REQUIRES: argv non-empty.
Result<Child> SpawnChild(const ChildSpec& spec);

// RAZAR's environment without NOTIFY_SOCKET (RAZAR's own, if it runs under
// systemd, must not leak), overridden by `extra`, plus NOTIFY_SOCKET =
// notify_socket when that is non-empty. Sorted by key.
std::vector<std::string> BuildChildEnv(const std::map<std::string, std::string>& extra,
                                       const std::string& notify_socket);

// Waits up to timeout_ms (-1: forever) for a pidfd to become readable
// (the process exited). Returns true if it did. EINTR is retried with the
// remaining time.
bool WaitPidfd(int pidfd, int64_t timeout_ms);

// pidfd_open(2) / pidfd_send_signal(2); -1 with errno on failure.
int PidfdOpen(pid_t pid);
int PidfdSendSignal(int pidfd, int signal);
// Blocks until `pid` (our child) is reaped, retrying EINTR.
void ReapBlocking(pid_t pid);

// CLOCK_MONOTONIC in ns, and the poll(2) timeout until such a deadline:
// rounded up so that a wait never ends before its deadline; 0 once passed.
int64_t MonotonicNowNs();
int PollMsUntil(int64_t deadline_ns);

}  // namespace razar::orchestrator
