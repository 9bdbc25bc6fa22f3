#include "orchestrator/os/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>

#include "orchestrator/config/names.h"
#include "orchestrator/os/proc_stat.h"
#include "storage/env.h"

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
      grace_deadline_ns = MonotonicNowNs() + int64_t{drain_grace_ms} * 1'000'000;
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
  if (!IsValidComponentName(spec.name)) {
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
    RAZAR_RETURN_IF_ERROR(storage::Env::Default()->CreateDirs(options.log_dir).WithContext(context));
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
  if (!options.log_dir.empty() && !IsValidComponentName(options.name)) {
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
      RAZAR_RETURN_IF_ERROR(storage::Env::Default()->CreateDirs(options.log_dir).WithContext(context));
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
  const int64_t deadline_ns = MonotonicNowNs() + int64_t{stop_timeout_ms} * 1'000'000;
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

