#include "orchestrator/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char** environ;

namespace razar::orchestrator {
namespace {

constexpr size_t kPumpChunkBytes = size_t{64} * 1024;
// Normal pump reads stop after this many chunks to look at the wake fd.
constexpr int kPumpChunksPerWake = 16;
// After the leader's death the pump reads until the pipe is empty; this
// bounds that loop against a writer that escaped the group kill.
constexpr int kPumpDrainMaxChunks = 4096;  // 256 MiB
// How long Wait/Stop wait for the pump to drain the leader's output.
constexpr int64_t kDrainWaitMs = 2'000;
// How long Stop waits for the leader after SIGKILL (only a process stuck in
// uninterruptible sleep takes longer).
constexpr int64_t kKillWaitMs = 5'000;

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Milliseconds until deadline_ns for poll(), rounded up so that a wait
// never ends before its deadline; 0 once it has passed.
int PollMsUntil(int64_t deadline_ns) {
  const int64_t left_ns = deadline_ns - NowNs();
  if (left_ns <= 0) return 0;
  return static_cast<int>(std::min<int64_t>((left_ns + 999'999) / 1'000'000, INT32_MAX));
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

bool IsValidName(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

Status CreateDirs(const std::string& path) {
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (prefix.empty()) continue;
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno("mkdir " + prefix, errno);
    }
  }
  return Status::Ok();
}

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

// Live (not zombie) processes whose process group is `pgid`.
std::vector<pid_t> LiveGroupMembers(pid_t pgid) {
  std::vector<pid_t> members;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return members;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    auto stat = ReadProcStat(static_cast<pid_t>(pid));
    if (stat.ok() && stat->pgrp == pgid && stat->state != 'Z' && stat->state != 'X') {
      members.push_back(static_cast<pid_t>(pid));
    }
  }
  closedir(dir);
  return members;
}

// A pipe for the child's stdout/stderr: our end non-blocking, the child's
// end opened read-write through /proc so that the child holds a reader
// (see the file comment of process.h). Falls back to the plain write end
// without /proc.
Status MakeOutputPipe(UniqueFd* read_end, UniqueFd* child_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe2", errno);
  read_end->reset(fds[0]);
  child_end->reset(fds[1]);
  if (fcntl(read_end->get(), F_SETFL, O_NONBLOCK) != 0) {
    return Status::FromErrno("fcntl(O_NONBLOCK)", errno);
  }
  const std::string self = "/proc/self/fd/" + std::to_string(fds[1]);
  const int rw = open(self.c_str(), O_RDWR | O_CLOEXEC);
  if (rw >= 0) child_end->reset(rw);
  return Status::Ok();
}

uint64_t PipeInode(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) ? static_cast<uint64_t>(st.st_ino) : 0;
}

// Opens, for reading, the anonymous pipe on fd 1 (else fd 2) of `pid` --
// the one RAZAR gave it -- through /proc. Only "pipe:[inode]" links count:
// a named FIFO or file the process has put on fd 1 for a moment (a shell's
// `echo x > fifo`) is not ours to read. When expected_inode != 0 the pipe
// must be that one. Invalid when there is none.
UniqueFd OpenOutputPipeOf(pid_t pid, uint64_t expected_inode) {
  for (int fd : {1, 2}) {
    const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    char target[64];
    const ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    const std::string link(target, static_cast<size_t>(n));
    if (link.rfind("pipe:[", 0) != 0) continue;
    const uint64_t inode = std::strtoull(link.c_str() + 6, nullptr, 10);
    if (expected_inode != 0 && inode != expected_inode) continue;
    UniqueFd pipe(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (pipe.valid() && PipeInode(pipe.get()) == inode) return pipe;
  }
  return UniqueFd();
}
}  // namespace

// ---------------------------------------------------------------------------
// /proc helpers

Result<ProcStat> ReadProcStat(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ESRCH)
      return Status::NotFound("no process " + std::to_string(pid));
    return Status::FromErrno("open " + path, errno);
  }
  char buf[1024];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  const int read_err = errno;
  close(fd);
  if (n < 0) {
    if (read_err == ESRCH) return Status::NotFound("no process " + std::to_string(pid));
    return Status::FromErrno("read " + path, read_err);
  }
  const std::string text(buf, static_cast<size_t>(n));
  // comm (field 2) is in parens and may itself contain ") ": the fields
  // after it start after the *last* ')'.
  const size_t close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return Status::Corruption(path + ": no ')'");
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  size_t pos = close_paren + 1;
  while (pos < text.size() && fields.size() < 20) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    const size_t end = text.find_first_of(" \n", pos);
    if (pos >= text.size()) break;
    fields.push_back(text.substr(pos, end == std::string::npos ? end : end - pos));
    pos = end == std::string::npos ? text.size() : end;
  }
  if (fields.size() < 20 || fields[0].size() != 1) return Status::Corruption(path + ": too short");
  ProcStat stat;
  stat.pid = pid;
  stat.state = fields[0][0];
  stat.ppid = static_cast<pid_t>(std::strtol(fields[1].c_str(), nullptr, 10));
  stat.pgrp = static_cast<pid_t>(std::strtol(fields[2].c_str(), nullptr, 10));
  stat.start_time = std::strtoull(fields[19].c_str(), nullptr, 10);
  return stat;
}

Result<uint64_t> ReadProcStartTime(pid_t pid) {
  RAZAR_ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid));
  return stat.start_time;
}

// ---------------------------------------------------------------------------
// ExitStatus

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

// ---------------------------------------------------------------------------
// RotatingLog

RotatingLog::RotatingLog(std::string path, uint64_t max_bytes, uint32_t keep_files, int fd,
                         uint64_t size)
    : path_(std::move(path)),
      max_bytes_(max_bytes),
      keep_files_(keep_files),
      fd_(fd),
      size_(size) {}

RotatingLog::~RotatingLog() {
  if (fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<RotatingLog>> RotatingLog::Open(const std::string& path, uint64_t max_bytes,
                                                       uint32_t keep_files) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("fstat " + path, err);
  }
  return std::unique_ptr<RotatingLog>(
      new RotatingLog(path, max_bytes, keep_files, fd, static_cast<uint64_t>(st.st_size)));
}

Status RotatingLog::Append(std::string_view data) {
  while (!data.empty()) {
    const uint64_t room = size_ < max_bytes_ ? max_bytes_ - size_ : 0;
    if (max_bytes_ == 0 || data.size() <= room) return Write(data);
    // Cut after the last newline that fits; with nothing written yet in
    // this file and no newline, the line is longer than a file: split it.
    size_t cut = 0;
    if (room > 0) {
      const size_t newline = data.substr(0, room).rfind('\n');
      if (newline != std::string_view::npos) cut = newline + 1;
      if (cut == 0 && size_ == 0) cut = room;
    }
    if (cut > 0) {
      RAZAR_RETURN_IF_ERROR(Write(data.substr(0, cut)));
      data.remove_prefix(cut);
    }
    if (Status rotated = Rotate(); !rotated.ok()) {
      Status written = Write(data);
      return written.ok() ? rotated : written;
    }
  }
  return Status::Ok();
}

Status RotatingLog::Rotate() {
  if (keep_files_ == 0) {
    if (fd_ >= 0 && ftruncate(fd_, 0) != 0) return Status::FromErrno("truncate " + path_, errno);
    size_ = 0;
    return Status::Ok();
  }
  // .N-1 -> .N, ..., .1 -> .2, log -> .1; rename replaces the oldest.
  for (uint32_t k = keep_files_; k >= 2; --k) {
    const std::string from = path_ + "." + std::to_string(k - 1);
    const std::string to = path_ + "." + std::to_string(k);
    if (rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("rename " + from, errno);
    }
  }
  if (rename(path_.c_str(), (path_ + ".1").c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("rename " + path_, errno);
  }
  if (fd_ >= 0) close(fd_);
  fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
  size_ = 0;
  if (fd_ < 0) return Status::FromErrno("open " + path_, errno);
  return Status::Ok();
}

Status RotatingLog::Write(std::string_view data) {
  if (fd_ < 0) {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      bytes_dropped_ += data.size();
      return Status::FromErrno("open " + path_, errno);
    }
  }
  while (!data.empty()) {
    const ssize_t n = write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      bytes_dropped_ += data.size();
      return Status::FromErrno("write " + path_, errno);
    }
    size_ += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Low-level spawning

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  // close() is not retried on EINTR: on Linux the descriptor is gone anyway.
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
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
  const int64_t deadline_ns = timeout_ms < 0 ? 0 : NowNs() + timeout_ms * 1'000'000;
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

// ---------------------------------------------------------------------------
// Process::Pump: one thread per captured process.

struct Process::Pump {
  Process* owner = nullptr;  // outlives the pump (~Process joins first)
  UniqueFd pipe_read;
  UniqueFd wake;  // eventfd: Release / destruction asks the thread to finish
  std::unique_ptr<RotatingLog> log;
  uint32_t drain_grace_ms = 0;
  std::thread thread;

  std::mutex mu;
  std::condition_variable cv;
  bool leader_drained = false;  // guarded by mu: the leader's output is all in the log
  std::string last_error;       // guarded by mu
  std::atomic<uint64_t> bytes_dropped{0};

  enum class ReadResult { kMore, kEof };

  void Run();
  ReadResult ReadChunks(int max_chunks, std::vector<char>* buf);
  void SetLeaderDrained();
  bool WaitLeaderDrained(int64_t timeout_ms);
};

Process::Pump::ReadResult Process::Pump::ReadChunks(int max_chunks, std::vector<char>* buf) {
  for (int i = 0; i < max_chunks; ++i) {
    const ssize_t n = read(pipe_read.get(), buf->data(), buf->size());
    if (n == 0) return ReadResult::kEof;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return ReadResult::kMore;
      std::lock_guard<std::mutex> lock(mu);
      last_error = std::string("read pipe: ") + std::strerror(errno);
      return ReadResult::kEof;
    }
    if (Status s = log->Append(std::string_view(buf->data(), static_cast<size_t>(n))); !s.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      last_error = s.ToString();
    }
    bytes_dropped.store(log->bytes_dropped(), std::memory_order_relaxed);
  }
  return ReadResult::kMore;
}

void Process::Pump::Run() {
  std::vector<char> buf(kPumpChunkBytes);
  bool leader_dead = false;
  int64_t grace_deadline_ns = 0;
  while (true) {
    pollfd fds[3] = {{pipe_read.get(), POLLIN, 0},
                     {wake.get(), POLLIN, 0},
                     {leader_dead ? -1 : owner->pidfd_.get(), POLLIN, 0}};
    int timeout_ms = -1;
    if (leader_dead) {
      timeout_ms = PollMsUntil(grace_deadline_ns);
    }
    const int n = poll(fds, 3, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // grace expired (or poll failed): take what is there and stop
      ReadChunks(kPumpDrainMaxChunks, &buf);
      break;
    }
    if (fds[0].revents != 0 && ReadChunks(kPumpChunksPerWake, &buf) == ReadResult::kEof) break;
    if (fds[2].revents != 0) {
      leader_dead = true;
      // The leader's writes are all in the pipe now; leftovers of its group
      // are killed so that EOF follows, then we read until the pipe is empty.
      owner->KillLeftoversAfterExit();
      if (ReadChunks(kPumpDrainMaxChunks, &buf) == ReadResult::kEof) break;
      SetLeaderDrained();
      grace_deadline_ns = NowNs() + int64_t{drain_grace_ms} * 1'000'000;
    }
    if (fds[1].revents != 0) {
      ReadChunks(kPumpDrainMaxChunks, &buf);
      break;
    }
  }
  SetLeaderDrained();
  pipe_read.reset();
}

void Process::Pump::SetLeaderDrained() {
  std::lock_guard<std::mutex> lock(mu);
  leader_drained = true;
  cv.notify_all();
}

bool Process::Pump::WaitLeaderDrained(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu);
  return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return leader_drained; });
}

// ---------------------------------------------------------------------------
// Process

Result<std::unique_ptr<Process>> Process::Spawn(const ComponentSpec& spec,
                                                const SpawnOptions& options) {
  if (spec.command.empty()) {
    return Status::InvalidArgument("component '" + spec.name + "': empty command");
  }
  if (!IsValidName(spec.name)) {
    return Status::InvalidArgument("component name '" + spec.name + "' is not [A-Za-z0-9_.-]+");
  }
  if (spec.probe.kind == ProbeKind::kNotify && options.notify_socket.empty()) {
    return Status::InvalidArgument("component '" + spec.name +
                                   "': notify probe needs SpawnOptions::notify_socket");
  }
  const std::string context = "spawn '" + spec.name + "'";
  ChildSpec child_spec{spec.command, BuildChildEnv(spec.env, options.notify_socket), spec.cwd, -1};

  UniqueFd pipe_read, child_out;
  std::unique_ptr<RotatingLog> log;
  if (!options.log_dir.empty()) {
    RAZAR_RETURN_IF_ERROR(CreateDirs(options.log_dir).WithContext(context));
    // The log is opened before the child exists, so a log error leaves
    // nothing behind.
    auto opened = RotatingLog::Open(options.log_dir + "/" + spec.name + ".log",
                                    options.log_max_bytes, options.log_keep_files);
    if (!opened.ok()) return opened.status().WithContext(context);
    log = std::move(opened).value();
    RAZAR_RETURN_IF_ERROR(MakeOutputPipe(&pipe_read, &child_out).WithContext(context));
    child_spec.output_fd = child_out.get();
  }

  auto spawned = SpawnChild(child_spec);
  if (!spawned.ok()) return spawned.status().WithContext(context);
  child_out.reset();  // from now on only the child holds the writing side

  std::unique_ptr<Process> process(new Process());
  process->name_ = spec.name;
  process->pid_ = spawned->pid;
  process->pgid_ = spawned->pid;
  process->kill_group_on_exit_ = options.kill_group_on_exit;
  process->pidfd_ = std::move(spawned->pidfd);
  // Our unreaped child: /proc/<pid> exists even if it has already exited.
  auto start_time = ReadProcStartTime(process->pid_);
  Status started = start_time.ok() ? Status::Ok() : start_time.status();
  if (started.ok()) {
    process->start_time_ = *start_time;
    if (log) {
      process->log_path_ = log->path();
      process->output_pipe_inode_ = PipeInode(pipe_read.get());
      started = process->StartPump(std::move(pipe_read), std::move(log), options.drain_grace_ms);
    }
  }
  if (!started.ok()) {
    process->Stop(0).status().IgnoreError();  // the error below is the one to report
    return started.WithContext(context);
  }
  return process;
}

Result<std::unique_ptr<Process>> Process::Adopt(pid_t pid, uint64_t expected_start_time,
                                                const AdoptOptions& options) {
  const std::string context = "adopt pid " + std::to_string(pid);
  if (pid <= 0) return Status::InvalidArgument(context + ": bad pid");
  if (!options.log_dir.empty() && !IsValidName(options.name)) {
    return Status::InvalidArgument(context + ": name '" + options.name +
                                   "' is not [A-Za-z0-9_.-]+");
  }
  // Open the pidfd first, then check the start time: if /proc still shows
  // the expected start time afterwards, the pidfd names that process.
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd.valid()) {
    if (errno == ESRCH) return Status::NotFound(context + ": no such process");
    return Status::FromErrno(context + ": pidfd_open", errno);
  }
  auto proc = ReadProcStat(pid);
  if (!proc.ok()) return proc.status().WithContext(context);
  if (proc->start_time != expected_start_time) {
    return Status::NotFound(context + ": pid reused (start time " +
                            std::to_string(proc->start_time) + ", expected " +
                            std::to_string(expected_start_time) + ")");
  }
  if (proc->state == 'Z' || proc->state == 'X' || WaitPidfd(pidfd.get(), 0)) {
    return Status::NotFound(context + ": process has exited");
  }

  std::unique_ptr<Process> process(new Process());
  process->name_ = options.name;
  process->pid_ = pid;
  process->pgid_ = proc->pgrp;
  process->start_time_ = proc->start_time;
  process->adopted_ = true;
  process->kill_group_on_exit_ = false;
  process->pidfd_ = std::move(pidfd);
  if (!options.log_dir.empty()) {
    UniqueFd pipe_read = OpenOutputPipeOf(pid, options.output_pipe_inode);
    if (pipe_read.valid()) {
      RAZAR_RETURN_IF_ERROR(CreateDirs(options.log_dir).WithContext(context));
      auto log = RotatingLog::Open(options.log_dir + "/" + options.name + ".log",
                                   options.log_max_bytes, options.log_keep_files);
      if (!log.ok()) return log.status().WithContext(context);
      process->log_path_ = (*log)->path();
      process->output_pipe_inode_ = PipeInode(pipe_read.get());
      RAZAR_RETURN_IF_ERROR(
          process->StartPump(std::move(pipe_read), std::move(log).value(), 0).WithContext(context));
    }
  }
  return process;
}

Process::~Process() {
  bool kill_it;
  {
    std::lock_guard<std::mutex> lock(mu_);
    kill_it = !adopted_ && !released_ && !exit_status_ && pidfd_.valid();
  }
  if (kill_it) {
    SignalGroupIfRunning(SIGKILL).IgnoreError();  // NotFound: it is already gone
    if (WaitPidfd(pidfd_.get(), kKillWaitMs)) Reap(/*kill_group=*/true);
  }
  StopPump();
}

Status Process::StartPump(UniqueFd pipe_read, std::unique_ptr<RotatingLog> log,
                          uint32_t drain_grace_ms) {
  auto pump = std::make_unique<Pump>();
  pump->owner = this;
  pump->pipe_read = std::move(pipe_read);
  pump->wake.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!pump->wake.valid()) return Status::FromErrno("eventfd", errno);
  pump->log = std::move(log);
  pump->drain_grace_ms = drain_grace_ms;
  try {
    pump->thread = std::thread([p = pump.get()] { p->Run(); });
  } catch (const std::system_error& e) {  // no exception leaves the module
    return Status::IoError(std::string("start log pump thread: ") + e.what(), e.code().value());
  }
  pump_ = std::move(pump);
  return Status::Ok();
}

void Process::StopPump() {
  if (!pump_ || !pump_->thread.joinable()) return;
  const uint64_t one = 1;
  ssize_t n;
  do {
    n = write(pump_->wake.get(), &one, sizeof one);
  } while (n < 0 && errno == EINTR);
  pump_->thread.join();
}

uint64_t Process::log_bytes_dropped() const {
  return pump_ ? pump_->bytes_dropped.load(std::memory_order_relaxed) : 0;
}

std::string Process::log_error() const {
  if (!pump_) return {};
  std::lock_guard<std::mutex> lock(pump_->mu);
  return pump_->last_error;
}

void Process::KillLeftoversAfterExit() {
  std::lock_guard<std::mutex> lock(mu_);
  // Not during Stop: there the rest of the group gets its SIGTERM grace.
  if (!adopted_ && kill_group_on_exit_ && !exit_status_ && !released_ && !stopping_) {
    kill(-pgid_, SIGKILL);
  }
}

ExitStatus Process::Reap(bool kill_group) {
  ExitStatus status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exit_status_) return *exit_status_;
    if (!adopted_) {
      // The zombie leader still pins the group id: this cannot hit strangers.
      if (kill_group) kill(-pgid_, SIGKILL);
      siginfo_t info{};
      int r;
      do {
        r = waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED);
      } while (r < 0 && errno == EINTR);
      if (r == 0) status = FromSiginfo(info);  // ECHILD: reaped elsewhere, unknown
    }
    exit_status_ = status;
  }
  if (pump_) pump_->WaitLeaderDrained(kDrainWaitMs);
  return status;
}

bool Process::IsAlive() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exit_status_) return false;
    if (released_) return !WaitPidfd(pidfd_.get(), 0);
  }
  if (!WaitPidfd(pidfd_.get(), 0)) return true;
  Reap(kill_group_on_exit_);
  return false;
}

Result<ExitStatus> Process::Wait(int64_t timeout_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (released_) return Status::Failed("process " + std::to_string(pid_) + " was released");
    if (exit_status_) return *exit_status_;
  }
  if (!WaitPidfd(pidfd_.get(), timeout_ms)) {
    return Status::TimedOut("process " + std::to_string(pid_) + " still running after " +
                            std::to_string(timeout_ms) + " ms");
  }
  return Reap(kill_group_on_exit_);
}

Result<ExitStatus> Process::Stop(uint32_t stop_timeout_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (released_) return Status::Failed("process " + std::to_string(pid_) + " was released");
    if (exit_status_) return *exit_status_;
    stopping_ = true;
  }
  const int64_t deadline_ns = NowNs() + int64_t{stop_timeout_ms} * 1'000'000;
  if (SignalGroupIfRunning(SIGTERM).ok()) {
    SignalGroupIfRunning(SIGCONT).IgnoreError();  // a stopped process must see the SIGTERM
    if (!WaitGroupGone(deadline_ns)) SignalGroupIfRunning(SIGKILL).IgnoreError();
  }
  if (!WaitPidfd(pidfd_.get(), kKillWaitMs)) {
    return Status::TimedOut("process " + std::to_string(pid_) + " survived SIGKILL for " +
                            std::to_string(kKillWaitMs) + " ms");
  }
  return Reap(/*kill_group=*/true);
}

Status Process::Signal(int signal) {
  std::lock_guard<std::mutex> lock(mu_);
  if (exit_status_) return Status::NotFound("process " + std::to_string(pid_) + " has exited");
  if (PidfdSendSignal(pidfd_.get(), signal) != 0) {
    if (errno == ESRCH) return Status::NotFound("process " + std::to_string(pid_) + " has exited");
    return Status::FromErrno("pidfd_send_signal", errno);
  }
  return Status::Ok();
}

Status Process::SignalGroup(int signal) { return SignalGroupIfRunning(signal); }

Status Process::SignalGroupIfRunning(int signal) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string gone = "process " + std::to_string(pid_) + " has exited";
  if (exit_status_ || released_) return Status::NotFound(gone);
  // An adopted leader is not ours to keep as a zombie: once it is gone the
  // group id may be recycled, so only signal the group while it lives.
  if (adopted_ && WaitPidfd(pidfd_.get(), 0)) return Status::NotFound(gone);
  // Never signal our own group, whatever an adopted process says.
  if (LeadsOwnGroup() && pgid_ != getpgrp()) {
    if (kill(-pgid_, signal) != 0) {
      if (errno == ESRCH) return Status::NotFound(gone);
      return Status::FromErrno("kill(-" + std::to_string(pgid_) + ")", errno);
    }
    return Status::Ok();
  }
  if (PidfdSendSignal(pidfd_.get(), signal) != 0) {
    if (errno == ESRCH) return Status::NotFound(gone);
    return Status::FromErrno("pidfd_send_signal", errno);
  }
  return Status::Ok();
}

bool Process::WaitGroupGone(int64_t deadline_ns) {
  while (true) {
    std::vector<UniqueFd> members;  // pidfds of live members other than the leader
    if (LeadsOwnGroup()) {
      for (pid_t member : LiveGroupMembers(pgid_)) {
        if (member == pid_) continue;
        UniqueFd fd(PidfdOpen(member));
        // Re-check after opening: the pid may have been recycled in between.
        auto stat = ReadProcStat(member);
        if (fd.valid() && stat.ok() && stat->pgrp == pgid_) members.push_back(std::move(fd));
      }
    }
    const bool leader_gone = WaitPidfd(pidfd_.get(), 0);
    if (leader_gone && members.empty()) return true;
    const int remaining_ms = PollMsUntil(deadline_ns);
    if (remaining_ms <= 0) return false;
    std::vector<pollfd> fds;
    if (!leader_gone) fds.push_back({pidfd_.get(), POLLIN, 0});
    for (const auto& m : members) fds.push_back({m.get(), POLLIN, 0});
    // Someone exited (rescan: new members may have been forked meanwhile),
    // EINTR, or the time is up (the next round returns false).
    poll(fds.data(), fds.size(), remaining_ms);
  }
}

std::optional<ExitStatus> Process::exit_status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exit_status_;
}

void Process::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
  }
  StopPump();
}

}  // namespace razar::orchestrator
