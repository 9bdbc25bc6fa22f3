#include "orchestrator/os/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/child_test_util.h"

namespace razar::orchestrator {
namespace {

using testing::ChildProcessTest;
using testing::ReadFile;

using Ms = std::chrono::milliseconds;

int64_t ElapsedMs(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - since).count();
}

// A pidfd for a process that is not our child, to see it die.
UniqueFd OpenPidfd(pid_t pid) {
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

class ProcessTest : public ChildProcessTest {
 protected:
  ComponentSpec Shell(const std::string& name, const std::string& script) {
    ComponentSpec spec;
    spec.name = name;
    spec.command = {"/bin/sh", "-c", script};
    return spec;
  }

  SpawnOptions Logged() {
    SpawnOptions options;
    options.log_dir = Path("logs/components");
    return options;
  }

  std::unique_ptr<Process> MustSpawn(const ComponentSpec& spec, const SpawnOptions& options) {
    auto process = Process::Spawn(spec, options);
    EXPECT_TRUE(process.ok()) << process.status().ToString();
    return process.ok() ? std::move(process).value() : nullptr;
  }
};

TEST_F(ProcessTest, CapturesStdoutAndStderrInOrderAndReportsExitCode) {
  auto p = MustSpawn(Shell("echoer", "echo out; echo err >&2; echo out2; exit 3"), Logged());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->pgid(), p->pid());
  auto status = p->Wait(5'000);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->kind, ExitStatus::Kind::kExited);
  EXPECT_EQ(status->code, 3);
  EXPECT_EQ(status->ToString(), "exited with code 3");
  EXPECT_FALSE(p->IsAlive());
  EXPECT_EQ(p->log_path(), Path("logs/components/echoer.log"));
  EXPECT_EQ(ReadFile(p->log_path()), "out\nerr\nout2\n");
}

TEST_F(ProcessTest, ReportsDeathBySignal) {
  ComponentSpec spec;
  spec.name = "sleeper";
  spec.command = {"/bin/sleep", "30"};
  auto p = MustSpawn(spec, {});
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->IsAlive());
  EXPECT_TRUE(p->Wait(0).status().code() == Status::Code::kTimedOut);
  ASSERT_TRUE(p->Signal(SIGUSR1).ok());
  auto status = p->Wait(5'000);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->kind, ExitStatus::Kind::kSignaled);
  EXPECT_EQ(status->signal, SIGUSR1);
  EXPECT_EQ(status->ToString(), "killed by signal 10 (SIGUSR1)");
  EXPECT_TRUE(p->Signal(SIGTERM).IsNotFound());
  EXPECT_TRUE(p->SignalGroup(SIGTERM).IsNotFound());
}

TEST_F(ProcessTest, MissingBinaryIsAClearErrorNotExit127) {
  ComponentSpec spec;
  spec.name = "ghost";
  spec.command = {"/nonexistent/razar-ghost", "--flag"};
  auto p = Process::Spawn(spec, Logged());
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.status().IsNotFound()) << p.status().ToString();
  EXPECT_NE(p.status().message().find("exec '/nonexistent/razar-ghost'"), std::string::npos)
      << p.status().message();
  EXPECT_NE(p.status().message().find("No such file or directory"), std::string::npos);

  spec.command = {"razar-no-such-command-anywhere"};
  p = Process::Spawn(spec, {});
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.status().IsNotFound());
  EXPECT_NE(p.status().message().find("searched PATH="), std::string::npos) << p.status().message();
}

TEST_F(ProcessTest, NonExecutableFileIsEacces) {
  const std::string script = Path("not-executable.sh");
  { std::ofstream(script) << "#!/bin/sh\nexit 0\n"; }
  ASSERT_EQ(chmod(script.c_str(), 0644), 0);
  ComponentSpec spec;
  spec.name = "noexec";
  spec.command = {script};
  auto p = Process::Spawn(spec, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().err(), EACCES) << p.status().ToString();

  // Found in PATH but not executable: execvp semantics report EACCES too.
  spec.command = {"not-executable.sh"};
  spec.env["PATH"] = dir_;
  p = Process::Spawn(spec, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().err(), EACCES) << p.status().ToString();
}

TEST_F(ProcessTest, MissingCwdIsAClearError) {
  ComponentSpec spec = Shell("nocwd", "exit 0");
  spec.cwd = Path("does-not-exist");
  auto p = Process::Spawn(spec, {});
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.status().IsNotFound());
  EXPECT_NE(p.status().message().find("chdir"), std::string::npos) << p.status().message();
}

TEST_F(ProcessTest, RejectsBadSpecs) {
  ComponentSpec spec = Shell("bad/name", "exit 0");
  EXPECT_TRUE(Process::Spawn(spec, {}).status().IsInvalidArgument());
  spec = Shell("ok", "exit 0");
  spec.command.clear();
  EXPECT_TRUE(Process::Spawn(spec, {}).status().IsInvalidArgument());
  spec = Shell("notify", "exit 0");
  spec.probe.kind = ProbeKind::kNotify;
  EXPECT_TRUE(Process::Spawn(spec, {}).status().IsInvalidArgument());
}

TEST_F(ProcessTest, ArgvZeroIsSearchedInPath) {
  ComponentSpec spec;
  spec.name = "pathsearch";
  spec.command = {"sh", "-c", "echo found"};
  auto p = MustSpawn(spec, Logged());
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->Wait(5'000).ok());
  EXPECT_EQ(ReadFile(p->log_path()), "found\n");
}

TEST_F(ProcessTest, EnvCwdStdinAndNotifySocket) {
  // RAZAR's own NOTIFY_SOCKET (when run by systemd) must not leak.
  setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  ComponentSpec spec = Shell("env", "echo \"$FOO|$(pwd)|${NOTIFY_SOCKET-unset}\"; cat; echo eof");
  spec.env["FOO"] = "bar baz";
  spec.cwd = dir_;
  auto p = MustSpawn(spec, Logged());
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->Wait(5'000).ok());  // `cat` returns at once: stdin is /dev/null
  EXPECT_EQ(ReadFile(p->log_path()), "bar baz|" + dir_ + "|unset\neof\n");

  SpawnOptions options = Logged();
  options.notify_socket = "@razar/env";
  spec = Shell("env2", "echo \"$NOTIFY_SOCKET\"");
  auto q = MustSpawn(spec, options);
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->Wait(5'000).ok());
  EXPECT_EQ(ReadFile(q->log_path()), "@razar/env\n");
  unsetenv("NOTIFY_SOCKET");
}

TEST_F(ProcessTest, OnlyStdioIsInheritedAndSignalsAreDefault) {
  // A descriptor without CLOEXEC in RAZAR must still not reach the child,
  // and an ignored SIGPIPE must not be inherited.
  const int leaked = open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 3);
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old);
  auto p = MustSpawn(Shell("fds", "ls /proc/$$/fd; grep SigIgn /proc/$$/status"), Logged());
  sigaction(SIGPIPE, &old, nullptr);
  close(leaked);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->Wait(5'000).ok());
  const std::string out = ReadFile(p->log_path());
  // dash may hold one extra descriptor of its own (>= 10); never ours.
  std::istringstream lines(out);
  std::string line;
  std::vector<std::string> fds;
  while (std::getline(lines, line) && line.rfind("SigIgn", 0) != 0) fds.push_back(line);
  EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2"})) << out;
  EXPECT_NE(out.find("SigIgn:\t0000000000000000"), std::string::npos) << out;
}

TEST_F(ProcessTest, StopKillsTheWholeGroupIncludingGrandchildren) {
  const std::string fifo = MakeFifo("pid");
  auto p = MustSpawn(Shell("tree", "sleep 30 & echo $! > " + fifo + "; wait"), Logged());
  ASSERT_NE(p, nullptr);
  const pid_t grandchild = std::atoi(ReadFifoLine(fifo).c_str());
  ASSERT_GT(grandchild, 0);
  UniqueFd grandchild_fd = OpenPidfd(grandchild);
  ASSERT_TRUE(grandchild_fd.valid());
  EXPECT_EQ(ReadProcStat(grandchild)->pgrp, p->pid());

  auto status = p->Stop(5'000);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->kind, ExitStatus::Kind::kSignaled);
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_TRUE(WaitPidfd(grandchild_fd.get(), 2'000)) << "grandchild survived Stop";
}

TEST_F(ProcessTest, SigtermIgnoringChildGetsSigkillAfterStopTimeout) {
  const std::string fifo = MakeFifo("ready");
  auto p = MustSpawn(
      Shell("stubborn", "trap '' TERM; echo ready > " + fifo + "; while :; do sleep 1; done"),
      Logged());
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(ReadFifoLine(fifo), "ready");  // the trap is in place
  const auto start = std::chrono::steady_clock::now();
  auto status = p->Stop(300);
  const int64_t elapsed = ElapsedMs(start);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->kind, ExitStatus::Kind::kSignaled);
  EXPECT_EQ(status->signal, SIGKILL);
  EXPECT_GE(elapsed, 300);
  EXPECT_LT(elapsed, 3'000);
}

TEST_F(ProcessTest, StopWaitsForGrandchildThatIgnoresSigtermThenKillsIt) {
  // The leader dies at once on SIGTERM; a grandchild ignoring it keeps the
  // group alive until stop_timeout_ms, then SIGKILL reaches it.
  const std::string fifo = MakeFifo("pid");
  auto p = MustSpawn(
      Shell("half", "sh -c 'trap \"\" TERM; echo $$ > " + fifo + "; exec sleep 30' & wait"),
      Logged());
  ASSERT_NE(p, nullptr);
  const pid_t grandchild = std::atoi(ReadFifoLine(fifo).c_str());
  ASSERT_GT(grandchild, 0);
  UniqueFd grandchild_fd = OpenPidfd(grandchild);
  ASSERT_TRUE(grandchild_fd.valid());
  const auto start = std::chrono::steady_clock::now();
  auto status = p->Stop(400);
  const int64_t elapsed = ElapsedMs(start);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->signal, SIGTERM);  // the leader went on SIGTERM
  EXPECT_GE(elapsed, 400);             // but Stop waited for the group
  EXPECT_LT(elapsed, 3'000);
  EXPECT_TRUE(WaitPidfd(grandchild_fd.get(), 2'000));
}

TEST_F(ProcessTest, StopReturnsEarlyWhenTheGroupExits) {
  ComponentSpec spec;
  spec.name = "quick";
  spec.command = {"/bin/sleep", "30"};
  auto p = MustSpawn(spec, {});
  ASSERT_NE(p, nullptr);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(p->Stop(10'000).ok());
  EXPECT_LT(ElapsedMs(start), 2'000);
  // A second Stop returns the recorded status.
  auto again = p->Stop(10'000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->signal, SIGTERM);
}

TEST_F(ProcessTest, LeftoversOfTheGroupAreKilledWhenTheLeaderExits) {
  const std::string fifo = MakeFifo("pid");
  auto p = MustSpawn(Shell("leaver", "sleep 30 & echo $! > " + fifo + "; exit 0"), Logged());
  ASSERT_NE(p, nullptr);
  const pid_t grandchild = std::atoi(ReadFifoLine(fifo).c_str());
  UniqueFd grandchild_fd = OpenPidfd(grandchild);
  ASSERT_TRUE(grandchild_fd.valid());
  auto status = p->Wait(5'000);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success());
  EXPECT_TRUE(WaitPidfd(grandchild_fd.get(), 2'000));
}

TEST_F(ProcessTest, LeftoversSurviveWhenKillGroupOnExitIsOff) {
  const std::string fifo = MakeFifo("pid");
  SpawnOptions options;  // not captured: the grandchild would hold the pipe
  options.kill_group_on_exit = false;
  auto p = MustSpawn(Shell("keeper", "sleep 30 & echo $! > " + fifo + "; exit 0"), options);
  ASSERT_NE(p, nullptr);
  const pid_t grandchild = std::atoi(ReadFifoLine(fifo).c_str());
  UniqueFd grandchild_fd = OpenPidfd(grandchild);
  ASSERT_TRUE(grandchild_fd.valid());
  ASSERT_TRUE(p->Wait(5'000).ok());
  EXPECT_FALSE(WaitPidfd(grandchild_fd.get(), 100));
  ASSERT_EQ(syscall(SYS_pidfd_send_signal, grandchild_fd.get(), SIGKILL, nullptr, 0), 0);
  EXPECT_TRUE(WaitPidfd(grandchild_fd.get(), 2'000));
}

TEST_F(ProcessTest, OutputWrittenJustBeforeExitIsAllInTheLog) {
  // 1.2 MB, far more than the 64 KiB pipe buffer, then exit at once.
  auto p = MustSpawn(Shell("burst", "seq 1 200000"), Logged());
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->Wait(10'000).ok());
  std::string expected;
  for (int i = 1; i <= 200000; ++i) expected += std::to_string(i) + "\n";
  const std::string log = ReadFile(p->log_path());
  EXPECT_EQ(log.size(), expected.size());
  EXPECT_TRUE(log == expected);
  EXPECT_EQ(p->log_bytes_dropped(), 0u);
}

TEST_F(ProcessTest, OutputIsRotatedBySizeWithoutLosingOrSplittingLines) {
  SpawnOptions options = Logged();
  options.log_max_bytes = 1'000;
  options.log_keep_files = 3;
  // 300 lines of 12 bytes = 3600 bytes: the log and three old files.
  auto p = MustSpawn(Shell("rotor", "seq -f 'line %06g' 1 300"), options);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->Wait(5'000).ok());
  const std::string base = p->log_path();
  std::string all;
  for (const std::string& file : {base + ".3", base + ".2", base + ".1", base}) {
    const std::string part = ReadFile(file);
    ASSERT_FALSE(part.empty()) << file;
    EXPECT_LE(part.size(), 1'000u) << file;
    EXPECT_EQ(part.back(), '\n') << file << " ends mid-line";
    all += part;
  }
  std::string expected;
  char line[32];
  for (int i = 1; i <= 300; ++i) {
    snprintf(line, sizeof line, "line %06d\n", i);
    expected += line;
  }
  EXPECT_EQ(all, expected);
  EXPECT_FALSE(std::filesystem::exists(base + ".4"));
}

TEST_F(ProcessTest, ConcurrentWaitAndStopAgree) {
  ComponentSpec spec;
  spec.name = "shared";
  spec.command = {"/bin/sleep", "30"};
  auto p = MustSpawn(spec, {});
  ASSERT_NE(p, nullptr);
  Result<ExitStatus> waited = Status::Aborted("not run");
  std::thread waiter([&] { waited = p->Wait(-1); });
  auto stopped = p->Stop(5'000);
  waiter.join();
  ASSERT_TRUE(stopped.ok());
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ(waited->signal, stopped->signal);
}

TEST_F(ProcessTest, DestroyingARunningProcessKillsAndReapsIt) {
  ComponentSpec spec;
  spec.name = "orphan";
  spec.command = {"/bin/sh", "-c", "sleep 30 & wait"};
  auto p = MustSpawn(spec, Logged());
  ASSERT_NE(p, nullptr);
  UniqueFd watch = OpenPidfd(p->pid());
  ASSERT_TRUE(watch.valid());
  p.reset();
  EXPECT_TRUE(WaitPidfd(watch.get(), 0));  // TearDown checks it was reaped
}

TEST_F(ProcessTest, ReadProcStartTimeIdentifiesAProcess) {
  auto self = ReadProcStat(getpid());
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(self->ppid, getppid());
  EXPECT_EQ(self->pgrp, getpgrp());
  EXPECT_GT(self->start_time, 0u);
  EXPECT_EQ(*ReadProcStartTime(getpid()), self->start_time);
  EXPECT_TRUE(ReadProcStartTime(0x7ffffff0).status().IsNotFound());

  // A command name with spaces and parentheses does not shift the fields.
  const std::string odd = Path("a) b (c");
  std::filesystem::copy_file("/bin/sleep", odd);
  ASSERT_EQ(chmod(odd.c_str(), 0755), 0);
  ComponentSpec spec;
  spec.name = "odd";
  spec.command = {odd, "30"};
  auto p = MustSpawn(spec, {});
  ASSERT_NE(p, nullptr);
  auto stat = ReadProcStat(p->pid());
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  EXPECT_EQ(stat->pgrp, p->pid());
  EXPECT_EQ(stat->ppid, getpid());
  EXPECT_EQ(stat->start_time, p->start_time());
  ASSERT_TRUE(p->Stop(2'000).ok());
}

TEST_F(ProcessTest, AdoptsALiveProcessAndStopsIt) {
  ComponentSpec spec;
  spec.name = "old";
  spec.command = {"/bin/sh", "-c", "sleep 30 & wait"};
  auto original = MustSpawn(spec, {});
  ASSERT_NE(original, nullptr);

  AdoptOptions options;
  options.name = "old";
  options.log_dir = Path("logs");  // its stdout is /dev/null: nothing to reattach, still adopted
  auto adopted = Process::Adopt(original->pid(), original->start_time(), options);
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  Process& p = **adopted;
  EXPECT_TRUE(p.adopted());
  EXPECT_EQ(p.pid(), original->pid());
  EXPECT_EQ(p.pgid(), original->pid());
  EXPECT_EQ(p.start_time(), original->start_time());
  EXPECT_TRUE(p.IsAlive());
  EXPECT_TRUE(p.log_path().empty());

  auto status = p.Stop(5'000);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->kind, ExitStatus::Kind::kUnknown);  // not our child: no waitid
  EXPECT_FALSE(p.IsAlive());
  // The real parent (here: the test, as `original`) still reaps it.
  auto reaped = original->Wait(2'000);
  ASSERT_TRUE(reaped.ok());
  EXPECT_EQ(reaped->signal, SIGTERM);
}

TEST_F(ProcessTest, AdoptRefusesAReusedOrDeadPid) {
  ComponentSpec spec;
  spec.name = "victim";
  spec.command = {"/bin/sleep", "30"};
  auto live = MustSpawn(spec, {});
  ASSERT_NE(live, nullptr);
  auto wrong = Process::Adopt(live->pid(), live->start_time() + 1);
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(wrong.status().IsNotFound());
  EXPECT_NE(wrong.status().message().find("reused"), std::string::npos);

  // Exited but not reaped yet (a zombie): gone.
  ASSERT_TRUE(live->Signal(SIGKILL).ok());
  ASSERT_TRUE(WaitPidfd(live->pidfd(), 2'000));
  auto zombie = Process::Adopt(live->pid(), live->start_time());
  EXPECT_TRUE(zombie.status().IsNotFound()) << zombie.status().ToString();

  // Reaped: no such process.
  const pid_t pid = live->pid();
  const uint64_t start_time = live->start_time();
  ASSERT_TRUE(live->Wait(0).ok());
  auto dead = Process::Adopt(pid, start_time);
  EXPECT_TRUE(dead.status().IsNotFound()) << dead.status().ToString();
}

TEST_F(ProcessTest, ReleasedChildSurvivesWithoutReaderAndAdoptionReattachesOutput) {
  // The old RAZAR captures "before", then goes away (Release: nobody reads
  // the pipe). The child keeps writing -- without SIGPIPE, because it holds
  // a reader itself -- and the new RAZAR reattaches and gets the rest.
  const std::string go = MakeFifo("go");
  const std::string done = MakeFifo("done");
  ComponentSpec spec =
      Shell("phoenix", "echo before; read x < " + go + "; echo \"after $x\"; echo done > " + done +
                           "; exec sleep 30");
  auto old_razar = MustSpawn(spec, Logged());
  ASSERT_NE(old_razar, nullptr);
  const pid_t pid = old_razar->pid();
  const uint64_t start_time = old_razar->start_time();
  old_razar->Release();
  { std::ofstream(go) << "gap\n"; }
  ASSERT_EQ(ReadFifoLine(done), "done");  // it wrote "after gap" with no RAZAR reading, and lives
  EXPECT_TRUE(old_razar->IsAlive());
  AdoptOptions options;
  options.name = "phoenix";
  options.log_dir = Path("logs/components");
  // (The shell may still have the `done` FIFO on fd 1 right now: Adopt
  // must pick the pipe, by inode.)
  options.output_pipe_inode = old_razar->output_pipe_inode();
  ASSERT_NE(options.output_pipe_inode, 0u);
  auto adopted = Process::Adopt(pid, start_time, options);
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  EXPECT_EQ((*adopted)->log_path(), Path("logs/components/phoenix.log"));
  ASSERT_TRUE((*adopted)->Stop(2'000).ok());
  EXPECT_EQ(ReadFile(Path("logs/components/phoenix.log")), "before\nafter gap\n");

  old_razar.reset();  // released: leaves the zombie alone
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);  // we are still its real parent
  EXPECT_TRUE(WIFSIGNALED(wstatus));
}

// ---- RotatingLog on its own ----

class RotatingLogTest : public ChildProcessTest {};

TEST_F(RotatingLogTest, ExistingSizeCountsAndOldestFileIsDropped) {
  const std::string path = Path("r.log");
  { std::ofstream(path) << "12345678\n"; }  // 9 bytes already there
  auto log = RotatingLog::Open(path, 10, 1);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->size(), 9u);
  ASSERT_TRUE((*log)->Append("abc\n").ok());  // does not fit: rotate first
  EXPECT_EQ(ReadFile(path + ".1"), "12345678\n");
  EXPECT_EQ(ReadFile(path), "abc\n");
  // 4 + 11 > 10: rotate; then "defghi\n" fills a file and "xyz\n" starts
  // the next. keep_files = 1, so "abc\n" is the file that falls off.
  ASSERT_TRUE((*log)->Append("defghi\nxyz\n").ok());
  EXPECT_EQ(ReadFile(path + ".1"), "defghi\n");
  EXPECT_EQ(ReadFile(path), "xyz\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".2"));
}

TEST_F(RotatingLogTest, LinesLongerThanAFileAreSplitAndNothingIsLost) {
  const std::string path = Path("long.log");
  auto log = RotatingLog::Open(path, 8, 5);
  ASSERT_TRUE(log.ok());
  const std::string data = "0123456789abcdefghij\nxy\n";
  ASSERT_TRUE((*log)->Append(data).ok());
  std::string all;
  for (const std::string& f : {path + ".3", path + ".2", path + ".1", path}) {
    const std::string part = ReadFile(f);
    EXPECT_LE(part.size(), 8u) << f;
    all += part;
  }
  EXPECT_EQ(all, data);
  // 8 + 8 bytes of the long line, hard-split; the rest fits in one file.
  EXPECT_EQ(ReadFile(path + ".2"), "01234567");
  EXPECT_EQ(ReadFile(path + ".1"), "89abcdef");
  EXPECT_EQ(ReadFile(path), "ghij\nxy\n");
}

TEST_F(RotatingLogTest, KeepZeroTruncatesInPlace) {
  const std::string path = Path("t.log");
  auto log = RotatingLog::Open(path, 6, 0);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append("abcd\n").ok());
  ASSERT_TRUE((*log)->Append("efgh\n").ok());
  EXPECT_EQ(ReadFile(path), "efgh\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".1"));
}

}  // namespace
}  // namespace razar::orchestrator
