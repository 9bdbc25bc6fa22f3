// Child process supervision: spawn a component, capture its output into a
// rotated log, watch it through a pidfd, stop it with its whole process
// group, and adopt it again after RAZAR itself restarts.
//
// Model. A component is a process group: Spawn puts the child in a new
// group (setpgid(0, 0)) whose id is the child's pid, and stopping signals
// the group, so grandchildren go down with it. The group id cannot be
// reused while the leader is an unreaped zombie, so every group signal is
// sent before the leader is reaped (after that, none is). The leader is
// watched and signalled through a pidfd (pidfd_open), so no signal is ever
// sent to a recycled pid.
//
// Output. stdout and stderr of the child share one pipe; a pump thread per
// Process reads it and appends to <log_dir>/<name>.log, rotating by size
// (<name>.log.1 .. .N, .1 newest). The child's end of the pipe is opened
// read-write (via /proc/self/fd), so the child itself holds a reader: if
// RAZAR dies, the child's writes block when the 64 KiB pipe buffer is full
// instead of killing it with SIGPIPE, and a restarted RAZAR can reattach
// through Adopt (see AdoptOptions). Wait/Stop return only after the pump
// has drained everything the leader wrote: no line is lost at exit.
//
// Requirements on the rest of RAZAR: nobody may call wait(), waitpid(-1) or
// set SIGCHLD to SIG_IGN (that would steal the exit status of our children
// and let their pids be reused under us). If RAZAR becomes a child
// subreaper (PR_SET_CHILD_SUBREAPER), orphaned grandchildren become its
// children and someone must reap them by pid.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/config/spec.h"
#include "orchestrator/os/rotating_log.h"
#include "orchestrator/os/spawn.h"
#include "orchestrator/os/unique_fd.h"
#include "storage/status.h"

namespace razar::orchestrator {

// ---------------------------------------------------------------------------
// Process

struct SpawnOptions {
  // Directory for <name>.log (created if missing). Default empty: output is
  // not captured (the child's stdout/stderr are /dev/null).
  std::string log_dir;
  uint64_t log_max_bytes = 10 << 20;  // Default 10 MiB per file; 0: never rotate
  uint32_t log_keep_files = 3;        // Default 3 old files: <name>.log.1 .. .3
  // NOTIFY_SOCKET for the child (e.g. <runtime dir>/notify/<name>.sock or
  // "@name"). Required when spec.probe.kind == kNotify; set whenever
  // non-empty.
  std::string notify_socket;
  // When the leader exits on its own, SIGKILL what is left of its group
  // (before reaping, so the group id is still ours): a restart must not
  // collide with leftovers (like systemd's KillMode=control-group, without
  // the SIGTERM grace; Stop() is the graceful path). With output captured
  // this happens as soon as the pump sees the exit; otherwise when the exit
  // is observed (IsAlive / Wait). Default true.
  bool kill_group_on_exit = true;
  // After the leader exits and its output is drained, how long the pump
  // keeps reading for group members that escaped the kill (setsid) and
  // still hold the pipe. Default 1 s.
  uint32_t drain_grace_ms = 1'000;
};

struct AdoptOptions {
  // Component name (for messages and the log file name). Default empty.
  std::string name;
  // When non-empty and the process's stdout (or stderr) is still an
  // anonymous pipe, reopen it through /proc/<pid>/fd/{1,2} and resume
  // capture into <log_dir>/<name>.log. Anything written while no RAZAR was
  // reading (up to the pipe's 64 KiB) is captured then. If the pipe cannot
  // be found the adoption still succeeds, without capture (log_path()
  // empty). Default empty: no capture.
  std::string log_dir;
  // Process::output_pipe_inode() as persisted at spawn: when non-zero only
  // that pipe is reattached, never some other pipe the process has on
  // fd 1/2 by then. Default 0: any anonymous pipe.
  uint64_t output_pipe_inode = 0;
  uint64_t log_max_bytes = 10 << 20;
  uint32_t log_keep_files = 3;
};

// One supervised process (and its group).
//
// Lifetime: destroying a Process that was spawned, is still running and
// was not Release()d kills its group with SIGKILL and reaps it, so that no
// child outlives its supervisor by accident. Destroying an adopted Process
// leaves the process alone.
//
// Thread safety: all methods are safe to call concurrently (e.g. one thread
// blocked in Wait while another calls Stop). Blocking calls do not hold the
// internal lock while they wait.
class Process {
 public:
  // Starts spec.command (cwd spec.cwd, env BuildChildEnv(spec.env, ...)).
  // Errors: InvalidArgument (empty command, bad name, notify probe without
  // a notify socket), NotFound (binary not found / cwd missing), IoError
  // (EACCES, ENOEXEC, pipes, log file).
  static Result<std::unique_ptr<Process>> Spawn(const ComponentSpec& spec,
                                                const SpawnOptions& options);

  // Watches an existing process that RAZAR spawned before it restarted.
  // NotFound if the pid is gone, is a zombie, or belongs to another process
  // now (start time differs from `expected_start_time`).
  //
  // Limits, because an adopted process is not our child: its exit is seen
  // through the pidfd only (no waitpid), so its exit status is kUnknown and
  // the zombie is reaped by its real parent (init or a subreaper). Group
  // signals are used only if it leads its own group (always true when
  // RAZAR spawned it) and only while the pidfd shows it alive: we cannot
  // pin its group id with a zombie, so a microsecond window remains in
  // which a dying leader's pgid could be recycled. kill_group_on_exit does
  // not apply. Output is not captured unless AdoptOptions::log_dir asks to
  // reattach.
  static Result<std::unique_ptr<Process>> Adopt(pid_t pid, uint64_t expected_start_time,
                                                const AdoptOptions& options = {});

  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  // The process group; equals pid() for spawned processes.
  pid_t pgid() const { return pgid_; }
  // /proc/<pid>/stat field 22, captured at spawn / adoption. Persist it with
  // the pid to Adopt after a restart.
  uint64_t start_time() const { return start_time_; }
  bool adopted() const { return adopted_; }
  // Readable (POLLIN) once the process has exited, for the caller's own
  // poll/epoll loop; then call Wait(0) to reap. Owned by the Process.
  int pidfd() const { return pidfd_.get(); }
  // <log_dir>/<name>.log, or empty when output is not captured.
  const std::string& log_path() const { return log_path_; }
  // Inode of the output pipe (0 when not captured); persist it for
  // AdoptOptions::output_pipe_inode.
  uint64_t output_pipe_inode() const { return output_pipe_inode_; }
  // Output bytes lost to log write errors (e.g. disk full), and the last
  // such error ("" if none).
  uint64_t log_bytes_dropped() const;
  std::string log_error() const;

  // False once the process has exited (reaping it if it is our child).
  // Does not block, except to let the pump drain (bounded, normally
  // immediate).
  bool IsAlive();

  // Waits up to timeout_ms (-1: forever; 0: just check) for the process to
  // exit, reaps it and returns its status; the log holds all its output by
  // then. TimedOut if it is still running; Failed after Release().
  Result<ExitStatus> Wait(int64_t timeout_ms);

  // SIGTERM (then SIGCONT, so stopped processes see it) to the group; once
  // every member is gone or stop_timeout_ms has passed, SIGKILL to the
  // group; reap. Returns the leader's status (or the earlier one if it had
  // already exited and been reaped). Blocks at most stop_timeout_ms + 5 s:
  // TimedOut only if the leader survives SIGKILL for 5 s (stuck in the
  // kernel, state D); call again later. Adopted: the same signals, but the
  // status is kUnknown and nothing is reaped.
  Result<ExitStatus> Stop(uint32_t stop_timeout_ms);

  // A signal to the leader only, through the pidfd (never a reused pid).
  // NotFound if it has exited.
  Status Signal(int signal);
  // A signal to the whole group (the leader only if it does not lead its
  // own group). NotFound if the leader has exited and was reaped.
  Status SignalGroup(int signal);

  // The status, once the process has exited and been observed.
  std::optional<ExitStatus> exit_status() const;

  // Stops supervising: the process keeps running and will not be signalled
  // or reaped by this object (persist pid + start_time and Adopt it
  // later). Output capture stops; see the file comment for what happens to
  // the child's writes.
  void Release();

 private:
  struct Pump;

  Process() = default;
  // Starts the pump thread reading `pipe_read` into `log`.
  Status StartPump(UniqueFd pipe_read, std::unique_ptr<RotatingLog> log, uint32_t drain_grace_ms);
  void StopPump();
  // Observes the exit: kills leftovers of the group if asked (spawned
  // only), reaps (spawned only), records the status, waits for the drain.
  ExitStatus Reap(bool kill_group);
  // Group signal if the leader is still unreaped (or, adopted, alive).
  // NotFound if it was not sent because the process is gone.
  Status SignalGroupIfRunning(int signal);
  // Called by the pump when it sees the leader exit: SIGKILL the rest of
  // the group while the unreaped leader still pins the group id.
  void KillLeftoversAfterExit();
  // Waits until no live member of the group is left or the steady
  // (CLOCK_MONOTONIC) deadline passes.
  bool WaitGroupGone(int64_t deadline_ns);
  bool LeadsOwnGroup() const { return pgid_ == pid_; }

  std::string name_;
  pid_t pid_ = 0;
  pid_t pgid_ = 0;
  uint64_t start_time_ = 0;
  bool adopted_ = false;
  bool kill_group_on_exit_ = true;
  UniqueFd pidfd_;
  std::string log_path_;
  uint64_t output_pipe_inode_ = 0;

  mutable std::mutex mu_;
  std::optional<ExitStatus> exit_status_;  // guarded by mu_; set once reaped/observed
  bool released_ = false;                  // guarded by mu_
  bool stopping_ = false;                  // guarded by mu_: Stop is running

  std::unique_ptr<Pump> pump_;  // null when output is not captured
};

}  // namespace razar::orchestrator
