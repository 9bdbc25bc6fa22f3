#include "orchestrator/os/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char** environ;

namespace razar::orchestrator {
namespace {


// Moves fd to a number >= 3, so that the child's dup2 onto 0..2 can never
// clobber another descriptor it still needs (RAZAR may run with 0..2
// closed).
Status KeepAboveStdio(UniqueFd* fd) {
  if (fd->get() > 2) return Status::Ok();
  int moved = fcntl(fd->get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return Status::FromErrno("fcntl(F_DUPFD_CLOEXEC)", errno);
  fd->reset(moved);
  return Status::Ok();
}

// ---- The child side of SpawnChild: async-signal-safe code only. ----

enum ChildStage : int { kStageSetpgid = 1, kStageStdio, kStageChdir, kStageCloseRange, kStageExec };

struct ChildReport {
  int stage;
  int err;
};

// Everything the child needs, prepared before fork so the child never
// allocates.
struct ExecPlan {
  std::vector<std::string> candidates;  // paths to try, execvp order
  std::vector<const char*> candidate_ptrs;
  std::vector<char*> argv;  // null-terminated
  std::vector<char*> envp;  // null-terminated
  const char* cwd = nullptr;
  int stdin_fd = -1;
  int output_fd = -1;
  int report_fd = -1;
};

[[noreturn]] void ChildFail(int report_fd, int stage, int err) {
  const ChildReport report{stage, err};
  ssize_t n;
  do {
    n = write(report_fd, &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  _exit(127);
}

[[noreturn]] void RunChild(const ExecPlan& plan) {
  // Signals arrive blocked (the parent blocked them around fork): reset
  // every disposition before unblocking, so no RAZAR handler runs here and
  // no SIG_IGN (e.g. SIGPIPE) leaks into the component.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaction(sig, &dfl, nullptr);  // EINVAL for reserved ones
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  if (setpgid(0, 0) != 0) ChildFail(plan.report_fd, kStageSetpgid, errno);
  if (dup2(plan.stdin_fd, STDIN_FILENO) < 0 || dup2(plan.output_fd, STDOUT_FILENO) < 0 ||
      dup2(plan.output_fd, STDERR_FILENO) < 0) {
    ChildFail(plan.report_fd, kStageStdio, errno);
  }
  if (plan.cwd != nullptr && chdir(plan.cwd) != 0) ChildFail(plan.report_fd, kStageChdir, errno);
  // CLOEXEC rather than close: the report pipe must stay open until exec.
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    ChildFail(plan.report_fd, kStageCloseRange, errno);
  }

  // execvp's search policy: skip entries that do not exist, remember
  // EACCES, stop at any other error.
  int err = ENOENT;
  bool saw_eacces = false;
  for (const char* path : plan.candidate_ptrs) {
    execve(path, plan.argv.data(), plan.envp.data());
    err = errno;
    if (err == EACCES) {
      saw_eacces = true;
    } else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
               err != ETIMEDOUT) {
      break;
    }
  }
  ChildFail(plan.report_fd, kStageExec, saw_eacces && err == ENOENT ? EACCES : err);
}

// ---- Parent side helpers. ----

std::string FindEnv(const std::vector<std::string>& env, const std::string& key) {
  const std::string prefix = key + "=";
  for (const auto& entry : env) {
    if (entry.compare(0, prefix.size(), prefix) == 0) return entry.substr(prefix.size());
  }
  return {};
}

// The paths execvp would try for argv0, in order.
std::vector<std::string> ExecCandidates(const std::string& argv0,
                                        const std::vector<std::string>& env) {
  if (argv0.find('/') != std::string::npos) return {argv0};
  std::string path = FindEnv(env, "PATH");
  if (path.empty()) path = "/bin:/usr/bin";  // glibc's _CS_PATH default
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = path.find(':', start);
    const std::string dir = path.substr(start, end == std::string::npos ? end : end - start);
    // An empty element means the current directory, as in execvp.
    out.push_back(dir.empty() ? argv0 : dir + "/" + argv0);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

Status ChildFailureStatus(const ChildReport& report, const ChildSpec& spec) {
  std::string what;
  switch (report.stage) {
    case kStageSetpgid:
      what = "setpgid";
      break;
    case kStageStdio:
      what = "dup2 stdio";
      break;
    case kStageChdir:
      what = "chdir '" + spec.cwd + "'";
      break;
    case kStageCloseRange:
      what = "close_range";
      break;
    default:
      what = "exec '" + spec.argv[0] + "'";
      if (spec.argv[0].find('/') == std::string::npos) {
        what += " (searched PATH=" + FindEnv(spec.env, "PATH") + ")";
      }
      break;
  }
  if (report.err == ENOENT) {
    return Status::NotFound(what + ": " + std::strerror(report.err));
  }
  return Status::FromErrno(what, report.err);
}

}  // namespace

int64_t MonotonicNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Milliseconds until deadline_ns for poll(), rounded up so that a wait
// never ends before its deadline; 0 once it has passed.
int PollMsUntil(int64_t deadline_ns) {
  const int64_t left_ns = deadline_ns - MonotonicNowNs();
  if (left_ns <= 0) return 0;
  return static_cast<int>(std::min<int64_t>((left_ns + 999'999) / 1'000'000, INT32_MAX));
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

void ReapBlocking(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

ExitStatus FromSiginfo(const siginfo_t& info) {
  ExitStatus status;
  switch (info.si_code) {
    case CLD_EXITED:
      status.kind = ExitStatus::Kind::kExited;
      status.code = info.si_status;
      break;
    case CLD_KILLED:
    case CLD_DUMPED:
      status.kind = ExitStatus::Kind::kSignaled;
      status.signal = info.si_status;
      status.core_dumped = info.si_code == CLD_DUMPED;
      break;
    default:
      break;
  }
  return status;
}


std::string ExitStatus::ToString() const {
  switch (kind) {
    case Kind::kExited:
      return "exited with code " + std::to_string(code);
    case Kind::kSignaled: {
      const char* abbrev = sigabbrev_np(signal);
      std::string s = "killed by signal " + std::to_string(signal);
      if (abbrev != nullptr) s += std::string(" (SIG") + abbrev + ")";
      if (core_dumped) s += ", core dumped";
      return s;
    }
    case Kind::kUnknown:
      break;
  }
  return "exit status unknown";
}



std::vector<std::string> BuildChildEnv(const std::map<std::string, std::string>& extra,
                                       const std::string& notify_socket) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view kv(*entry);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    merged.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  merged.erase("NOTIFY_SOCKET");
  for (const auto& [key, value] : extra) merged[key] = value;
  if (!notify_socket.empty()) merged["NOTIFY_SOCKET"] = notify_socket;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [key, value] : merged) out.push_back(key + "=" + value);
  return out;
}

bool WaitPidfd(int pidfd, int64_t timeout_ms) {
  const int64_t deadline_ns = timeout_ms < 0 ? 0 : MonotonicNowNs() + timeout_ms * 1'000'000;
  while (true) {
    pollfd pfd{pidfd, POLLIN, 0};
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      wait_ms = PollMsUntil(deadline_ns);
    }
    const int n = poll(&pfd, 1, wait_ms);
    if (n > 0) return true;  // POLLIN, or POLLHUP/POLLNVAL: nothing to wait for
    if (n == 0) return false;
    if (errno != EINTR) return true;
  }
}

Result<Child> SpawnChild(const ChildSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return Status::InvalidArgument("empty argv");

  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull.valid()) return Status::FromErrno("open /dev/null", errno);
  int report_fds[2];
  if (pipe2(report_fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe2", errno);
  UniqueFd report_read(report_fds[0]);
  UniqueFd report_write(report_fds[1]);
  UniqueFd output;
  if (spec.output_fd >= 0) {
    output.reset(fcntl(spec.output_fd, F_DUPFD_CLOEXEC, 3));
    if (!output.valid()) return Status::FromErrno("fcntl(F_DUPFD_CLOEXEC)", errno);
  }
  RAZAR_RETURN_IF_ERROR(KeepAboveStdio(&devnull));
  RAZAR_RETURN_IF_ERROR(KeepAboveStdio(&report_write));

  ExecPlan plan;
  plan.candidates = ExecCandidates(spec.argv[0], spec.env);
  for (const auto& c : plan.candidates) plan.candidate_ptrs.push_back(c.c_str());
  for (const auto& a : spec.argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
  plan.argv.push_back(nullptr);
  for (const auto& e : spec.env) plan.envp.push_back(const_cast<char*>(e.c_str()));
  plan.envp.push_back(nullptr);
  plan.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  plan.stdin_fd = devnull.get();
  plan.output_fd = output.valid() ? output.get() : devnull.get();
  plan.report_fd = report_write.get();

  // Block every signal across fork so that the child cannot run a RAZAR
  // handler before it has reset the dispositions.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = fork();
  if (pid == 0) RunChild(plan);
  const int fork_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Status::FromErrno("fork", fork_err);

  // Also set the group from this side, so that a group signal sent right
  // after we return cannot miss the child (EACCES once it has exec'd: fine).
  setpgid(pid, pid);
  report_write.reset();
  ChildReport report{};
  ssize_t n;
  do {
    n = read(report_read.get(), &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof report)) {
    ReapBlocking(pid);
    return ChildFailureStatus(report, spec);
  }
  // EOF: exec succeeded (the CLOEXEC pipe closed). The child is unreaped,
  // so the pid cannot have been reused yet: the pidfd names our child.
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd.valid()) {
    const int err = errno;
    kill(pid, SIGKILL);
    ReapBlocking(pid);
    return Status::FromErrno("pidfd_open", err);
  }
  return Child{pid, std::move(pidfd)};
}

}  // namespace razar::orchestrator
