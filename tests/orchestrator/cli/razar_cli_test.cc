// The `razar` command end to end: the real binary (RAZAR_BINARY) run with
// fork + execve, killed with SIGKILL mid-boot and rerun, stopped with
// SIGTERM, queried over HTTP, its spine rebuilt read-only; and `check`,
// `status`, `resolve` through RazarMain in process.
//
// Components carry RAZAR_BOOTTEST_TAG=<test dir> in their environment; a
// tagged process still running at TearDown is killed and fails the test.
// Note: after a SIGKILL of RAZAR its components are orphans; on machines
// whose pid 1 reaps late (or never), they linger as zombies, so "gone"
// below means "not running" (absent or state Z).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "orchestrator/supervisor/supervisor.h"
#include "orchestrator/boot_test_util.h"
#include "orchestrator/child_test_util.h"
#include "orchestrator/config/config.h"
#include "orchestrator/cli/razar_cli.h"
#include "orchestrator/journal/runtime_state.h"
#include "replay/replay.h"

extern char** environ;

namespace razar::orchestrator {
namespace {

using namespace testing;  // boot_test_util.h: Argv, ReadEvents, WaitUntil, ...

json Shell(const std::string& name, const std::string& script, int64_t priority) {
  return {{"name", name},
          {"command", Argv({"/bin/sh", "-c", script})},
          {"priority", priority},
          {"stop_timeout_ms", 2000},
          {"start_timeout_ms", 10000}};
}

size_t LineCount(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string l; std::getline(in, l);) ++n;
  return n;
}


// The exit code; 128+signal if killed; -1 on timeout (then it is killed).
int WaitExit(pid_t pid, int64_t timeout_ms) {
  int status = 0;
  const bool exited =
      WaitUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout_ms, 5);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

class RazarCliTest : public TaggedComponentTest {
 protected:
  void TearDown() override {
    for (pid_t pid : razars_) {
      if (::waitpid(pid, nullptr, WNOHANG) == 0) {
        ADD_FAILURE() << "razar " << pid << " still running at the end; killing it";
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
    KillTaggedLeftovers();
    testing::ChildProcessTest::TearDown();
  }

  // Starts `razar boot CONFIG --base BASE` + extra args in the background.
  pid_t StartBoot(const std::string& config, std::vector<std::string> extra) {
    std::vector<std::string> args = {RAZAR_BINARY, "boot", config, "--base", Base()};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string n = std::to_string(runs_++);
    const pid_t pid = Spawn(args, Path("razar" + n + ".out"), Path("razar" + n + ".err"));
    EXPECT_GT(pid, 0);
    razars_.push_back(pid);
    return pid;
  }
  std::string Stdout(int run) {
    return testing::ReadFile(Path("razar" + std::to_string(run) + ".out"));
  }
  std::string Stderr(int run) {
    return testing::ReadFile(Path("razar" + std::to_string(run) + ".err"));
  }

  // Runs `razar boot ... --exit-after-boot` to completion.
  int BootAndExit(const std::string& config, std::vector<std::string> extra = {}) {
    extra.push_back("--exit-after-boot");
    const pid_t pid = StartBoot(config, extra);
    return WaitExit(pid, 30'000);
  }

  // A supervising `razar boot` (which adopts whatever runs), stopped with
  // SIGTERM once its boot has finished: how a test tears down components
  // left running by --exit-after-boot or a killed RAZAR. Returns the exit
  // code.
  int StopViaRazar(const std::string& config, std::vector<std::string> extra = {"--no-spine"}) {
    const size_t before =
        Select(ReadEvents(Base(), 0, /*tolerate_partial=*/true), "boot_finished").size();
    extra.push_back("--http-port");
    extra.push_back("0");
    const pid_t pid = StartBoot(config, extra);
    EXPECT_TRUE(WaitUntil(
        [&] {
          return Select(ReadEvents(Base(), 0, /*tolerate_partial=*/true), "boot_finished").size() >
                 before;
        },
        20'000));
    ::kill(pid, SIGTERM);
    return WaitExit(pid, 20'000);
  }

  // ok: healthy; bad: fails its probe, no retries, quarantined; dep:
  // depends on bad, so blocked. A degraded node of every kind.
  std::string QuarantinedAndBlockedConfig() {
    json ok = Shell("ok", "exec sleep 60", 0);
    json bad = Shell("bad", "exit 3", 0);
    bad["retries"] = 0;
    bad["probe"] = {{"command", Argv({"false"})}, {"period_ms", 50}};
    json dep = Shell("dep", "exec sleep 60", 1);
    dep["depends_on"] = Argv({"bad"});
    return WriteConfig({ok, bad, dep});
  }

  std::optional<RuntimeState> State() {
    Result<RuntimeState> st = LoadRuntimeState(Paths());
    if (!st.ok()) return std::nullopt;
    return std::move(*st);
  }

  static ComponentStatus StatusIn(const std::optional<RuntimeState>& st, const std::string& name) {
    if (!st) return ComponentStatus::kPending;
    const ComponentRuntime* c = st->Find(name);
    return c == nullptr ? ComponentStatus::kPending : c->status;
  }

  std::vector<pid_t> razars_;
  int runs_ = 0;
};

// --- Crash RAZAR mid-boot, rerun, adopt ---------------------------------

TEST_F(RazarCliTest, KilledMidBootThenRerunAdoptsHealthyComponentsAndResumes) {
  json s0 = Shell("s0", "echo $$ >> s0.launches; exec sleep 60", 0);
  json s1 = Shell("s1", "echo $$ >> s1.launches; exec sleep 60", 1);
  s1["depends_on"] = Argv({"s0"});
  s1["probe"] = {{"command", Argv({"true"})}, {"period_ms", 100}};
  json s2 = Shell("s2", "echo $$ >> s2.launches; exec sleep 60", 2);
  s2["depends_on"] = Argv({"s1"});
  s2["start_timeout_ms"] = 60000;
  s2["probe"] = {{"command", Argv({"test", "-f", "flag"})}, {"period_ms", 100}};
  const std::string config = WriteConfig({s0, s1, s2});

  const pid_t first = StartBoot(config, {"--http-port", "0"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto st = State();
        return StatusIn(st, "s0") == ComponentStatus::kHealthy &&
               StatusIn(st, "s1") == ComponentStatus::kHealthy &&
               StatusIn(st, "s2") == ComponentStatus::kStarting;
      },
      20'000))
      << testing::ReadFile(Base() + "/logs/razar_state.json") << Stderr(0);
  auto before = State();
  ASSERT_TRUE(before);
  ASSERT_EQ(::kill(first, SIGKILL), 0);  // RAZAR only, not the components' groups
  EXPECT_EQ(WaitExit(first, 5'000), 128 + SIGKILL);

  struct Seen {
    pid_t pid;
    uint64_t start;
  };
  std::map<std::string, Seen> seen;
  for (const char* n : {"s0", "s1", "s2"}) {
    const ComponentRuntime* c = before->Find(n);
    ASSERT_NE(c, nullptr);
    seen[n] = {c->pid, c->pid_start_time};
    EXPECT_TRUE(Running(c->pid, c->pid_start_time)) << n << " died with RAZAR";
  }

  std::ofstream(Path("flag")) << "";
  const size_t lines = LineCount(Base() + "/logs/razar.log");
  const int second_run = runs_;
  ASSERT_EQ(BootAndExit(config, {"--http-port", "0"}), 0) << Stderr(second_run);

  auto after = State();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->razar_pid, razars_.back());
  for (const char* n : {"s0", "s1"}) {
    SCOPED_TRACE(n);
    const ComponentRuntime* c = after->Find(n);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->status, ComponentStatus::kHealthy);
    EXPECT_EQ(c->pid, seen[n].pid);
    EXPECT_EQ(c->pid_start_time, seen[n].start);
    EXPECT_TRUE(Running(c->pid, c->pid_start_time));
  }
  EXPECT_EQ(StatusIn(after, "s2"), ComponentStatus::kHealthy);
  const auto ev = ReadEvents(Base(), lines, /*tolerate_partial=*/true);
  EXPECT_EQ(Count(ev, "adopted", "s0"), 1u);
  EXPECT_EQ(Count(ev, "adopted", "s1"), 1u);
  EXPECT_EQ(Count(ev, "launched", "s0"), 0u);
  EXPECT_EQ(Count(ev, "launched", "s1"), 0u);
  EXPECT_EQ(LineCount(Path("s0.launches")), 1u);
  EXPECT_EQ(LineCount(Path("s1.launches")), 1u);

  // Tear down through RAZAR: adopt again, SIGTERM, everything stops.
  auto final_state = State();
  ASSERT_TRUE(final_state);
  EXPECT_EQ(StopViaRazar(config), 0);
  for (const auto& c : final_state->components) {
    EXPECT_FALSE(Running(c.pid, c.pid_start_time)) << c.name << " (pid " << c.pid << ") survived";
  }
  for (const auto& [n, s] : seen) EXPECT_FALSE(Running(s.pid, s.start)) << n;
}

TEST_F(RazarCliTest, RerunRelaunchesWhenTheStatePidBelongsToAnotherProcess) {
  json s0 = Shell("s0", "echo $$ >> s0.launches; exec sleep 60", 0);
  json s1 = Shell("s1", "exec sleep 60", 1);
  s1["depends_on"] = Argv({"s0"});
  const std::string config = WriteConfig({s0, s1});
  ASSERT_EQ(BootAndExit(config, {"--http-port", "0", "--no-spine"}), 0) << Stderr(0);
  auto st = State();
  ASSERT_TRUE(st);
  ComponentRuntime* c = st->Find("s0");
  ASSERT_NE(c, nullptr);
  const pid_t old_pid = c->pid;
  const uint64_t old_start = c->pid_start_time;
  ASSERT_TRUE(Running(old_pid, old_start));

  // s0 dies; its pid "is reused" by an unrelated process (a decoy sleep of
  // the test's), which the state file now names with s0's start time.
  const pid_t decoy = Spawn({"/bin/sleep", "60"}, "/dev/null", "/dev/null");
  ASSERT_GT(decoy, 0);
  ASSERT_TRUE(WaitUntil([&] { return ReadProcStartTime(decoy).ok(); }, 2'000));
  ASSERT_NE(*ReadProcStartTime(decoy), old_start);
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return !Running(old_pid); }, 2'000));
  c->pid = decoy;
  ASSERT_TRUE(SaveRuntimeState(Paths(), *st).ok());

  const size_t lines = LineCount(Base() + "/logs/razar.log");
  ASSERT_EQ(BootAndExit(config, {"--http-port", "0", "--no-spine"}), 0) << Stderr(1);
  const auto ev = ReadEvents(Base(), lines, /*tolerate_partial=*/true);
  EXPECT_EQ(Count(ev, "adopt_skipped", "s0"), 1u);
  EXPECT_EQ(Count(ev, "adopted", "s0"), 0u);
  EXPECT_EQ(Count(ev, "launched", "s0"), 1u);
  EXPECT_EQ(Count(ev, "adopted", "s1"), 1u);
  auto after = State();
  ASSERT_TRUE(after);
  const ComponentRuntime* s0_now = after->Find("s0");
  ASSERT_NE(s0_now, nullptr);
  EXPECT_EQ(s0_now->status, ComponentStatus::kHealthy);
  EXPECT_NE(s0_now->pid, decoy);
  EXPECT_TRUE(Running(s0_now->pid, s0_now->pid_start_time));
  EXPECT_TRUE(Running(decoy)) << "RAZAR signalled a process that is not its component";
  EXPECT_EQ(LineCount(Path("s0.launches")), 2u);

  ::kill(decoy, SIGKILL);
  ::waitpid(decoy, nullptr, 0);
  EXPECT_EQ(StopViaRazar(config), 0);
  for (const auto& comp : after->components) {
    EXPECT_FALSE(Running(comp.pid, comp.pid_start_time)) << comp.name;
  }
}

// Regression (boot.cc Init / SetStatus): a restarted RAZAR starts from an
// empty RuntimeState and rewrites logs/razar_state.json at its first status
// change, so the pids of leftovers it has not adopted yet are dropped from
// the file. If it dies during adoption (here: while probing b), the next
// RAZAR cannot adopt b: b keeps running unwatched and a second b is
// launched.
TEST_F(RazarCliTest, KilledDuringAdoptionKeepsTheUnadoptedPidsInTheStateFile) {
  // b's probe passes only while the gate file exists, and otherwise waits
  // (up to its 10 s timeout) for it: the second RAZAR's adoption probe of b
  // is held open deterministically until the test has killed that RAZAR —
  // no timing window to miss.
  const std::string gate = Path("b.gate");
  json a = Shell("a", "exec sleep 60", 0);
  json b = Shell("b", "exec sleep 60", 1);
  b["probe"] = {{"command", Argv({"/bin/sh", "-c",
                                  "while [ ! -e '" + gate + "' ]; do sleep 0.02; done"})},
                {"timeout_ms", 10000},
                {"period_ms", 10000}};
  const std::string config = WriteConfig({a, b});
  { std::ofstream(gate) << "open\n"; }
  ASSERT_EQ(BootAndExit(config, {"--http-port", "0", "--no-spine"}), 0) << Stderr(0);
  auto st = State();
  ASSERT_TRUE(st);
  const ComponentRuntime b_first = *st->Find("b");
  ASSERT_TRUE(Running(b_first.pid, b_first.pid_start_time));

  ASSERT_EQ(::unlink(gate.c_str()), 0);  // from now on b's probe blocks
  size_t lines = LineCount(Base() + "/logs/razar.log");
  const pid_t second = StartBoot(config, {"--http-port", "0", "--no-spine"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Count(ReadEvents(Base(), lines, /*tolerate_partial=*/true), "adopted", "a") == 1;
      },
      10'000, 2));
  ::kill(second, SIGKILL);
  EXPECT_EQ(WaitExit(second, 5'000), 128 + SIGKILL);
  ASSERT_EQ(Count(ReadEvents(Base(), lines, /*tolerate_partial=*/true), "adopted", "b"), 0u)
      << "b's adoption probe cannot have passed: its gate was closed";
  { std::ofstream(gate) << "open\n"; }

  st = State();
  ASSERT_TRUE(st);
  const ComponentRuntime* b_now = st->Find("b");
  ASSERT_NE(b_now, nullptr);
  EXPECT_EQ(b_now->pid, b_first.pid) << "b's pid is gone from the state file";
  EXPECT_EQ(b_now->pid_start_time, b_first.pid_start_time);

  lines = LineCount(Base() + "/logs/razar.log");
  ASSERT_EQ(BootAndExit(config, {"--http-port", "0", "--no-spine"}), 0);
  EXPECT_EQ(Count(ReadEvents(Base(), lines, /*tolerate_partial=*/true), "launched", "b"), 0u)
      << "b was launched a second time while the first b still runs";
  EXPECT_EQ(StopViaRazar(config), 0);
  if (Running(b_first.pid, b_first.pid_start_time)) {
    ADD_FAILURE() << "the first b (pid " << b_first.pid << ") leaked: no RAZAR watches it";
    ::kill(b_first.pid, SIGKILL);
  }
}

// --- SIGTERM ------------------------------------------------------------

TEST_F(RazarCliTest, SigtermStopsComponentsInReverseBootOrderAndLeavesNoProcess) {
  json c1 = Shell("c1", "exec sleep 60", 0);
  json c2 = Shell("c2", "exec sleep 60", 1);
  // c3 ignores SIGTERM (inherited across exec): SIGKILL after stop_timeout.
  json c3 = Shell("c3", "trap '' TERM; exec sleep 60", 2);
  c3["stop_timeout_ms"] = 300;
  const std::string config = WriteConfig({c1, c2, c3});
  const pid_t razar = StartBoot(config, {"--http-port", "0", "--no-spine"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Select(ReadEvents(Base(), 0, /*tolerate_partial=*/true), "boot_finished").size() ==
               1;
      },
      20'000))
      << Stderr(0);
  auto st = State();
  ASSERT_TRUE(st);
  for (const auto& c : st->components) {
    ASSERT_EQ(c.status, ComponentStatus::kHealthy) << c.name;
    ASSERT_TRUE(Running(c.pid, c.pid_start_time)) << c.name;
  }

  ASSERT_EQ(::kill(razar, SIGTERM), 0);
  EXPECT_EQ(WaitExit(razar, 15'000), 0) << Stderr(0);

  const auto stopped = Select(ReadEvents(Base(), 0, /*tolerate_partial=*/true), "stopped");
  ASSERT_EQ(stopped.size(), 3u);
  EXPECT_EQ(stopped[0].component, "c3");
  EXPECT_EQ(stopped[1].component, "c2");
  EXPECT_EQ(stopped[2].component, "c1");
  EXPECT_NE(stopped[0].details.value("detail", "").find("SIGKILL"), std::string::npos)
      << stopped[0].details.dump();
  for (const auto& c : st->components) {
    EXPECT_FALSE(Running(c.pid, c.pid_start_time)) << c.name << " still runs";
    EXPECT_EQ(::kill(c.pid, 0), -1) << c.name << " not reaped";
  }
  EXPECT_NE(Stdout(0).find("stopping components in reverse order"), std::string::npos);
  auto after = State();
  ASSERT_TRUE(after);
  for (const auto& c : after->components) EXPECT_EQ(c.status, ComponentStatus::kStopped);
}

TEST_F(RazarCliTest, SigtermMidBootStopsPromptlyAndQuarantinesNothing) {
  json a = Shell("a", "exec sleep 60", 0);
  json b = Shell("b", "exec sleep 60", 1);
  b["start_timeout_ms"] = 60000;
  b["probe"] = {{"command", Argv({"false"})}, {"period_ms", 50}};
  const std::string config = WriteConfig({a, b});
  const pid_t razar = StartBoot(config, {"--http-port", "0", "--no-spine"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto st = State();
        return StatusIn(st, "a") == ComponentStatus::kHealthy &&
               StatusIn(st, "b") == ComponentStatus::kStarting;
      },
      20'000))
      << Stderr(0);
  auto st = State();
  ASSERT_TRUE(st);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(razar, SIGTERM), 0);
  EXPECT_EQ(WaitExit(razar, 15'000), 1) << "an unfinished boot is degraded";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  for (const auto& c : st->components) EXPECT_FALSE(Running(c.pid, c.pid_start_time)) << c.name;
  EXPECT_FALSE(std::filesystem::exists(Base() + "/quarantine/b.json"))
      << "a component interrupted by shutdown is not a failure to quarantine";
  EXPECT_EQ(Count(ReadEvents(Base(), 0, /*tolerate_partial=*/true), "quarantined", "b"), 0u);
}

TEST_F(RazarCliTest, AdoptedComponentThatDiesIsRelaunched) {
  json a = Shell("a", "echo $$ >> a.launches; exec sleep 60", 0);
  a["backoff"] = {{"initial_ms", 50}, {"jitter", false}};
  const std::string config = WriteConfig({a});
  ASSERT_EQ(BootAndExit(config, {"--http-port", "0", "--no-spine"}), 0) << Stderr(0);
  const pid_t old_pid = State()->Find("a")->pid;

  const size_t lines = LineCount(Base() + "/logs/razar.log");
  const pid_t razar = StartBoot(config, {"--http-port", "0", "--no-spine"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Select(ReadEvents(Base(), lines, /*tolerate_partial=*/true), "boot_finished")
                   .size() == 1;
      },
      20'000));
  ASSERT_EQ(Count(ReadEvents(Base(), lines, /*tolerate_partial=*/true), "adopted", "a"), 1u);
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  const bool relaunched = WaitUntil(
      [&] {
        return Count(ReadEvents(Base(), lines, /*tolerate_partial=*/true), "launched", "a") == 1 &&
               StatusIn(State(), "a") == ComponentStatus::kHealthy;
      },
      5'000);
  EXPECT_TRUE(relaunched) << "the adopted a died and was not relaunched";
  auto st = State();
  ASSERT_TRUE(st);
  const ComponentRuntime now = *st->Find("a");
  EXPECT_NE(now.pid, old_pid);
  ASSERT_EQ(::kill(razar, SIGTERM), 0);
  EXPECT_EQ(WaitExit(razar, 15'000), 0);
  EXPECT_FALSE(Running(now.pid, now.pid_start_time));
  EXPECT_EQ(LineCount(Path("a.launches")), 2u);
}

// Regression (razar_cli.cc RunBoot): Healthy() skipped quarantined
// components, so a boot that quarantined one printed "boot complete: every
// component healthy" and exited 0. A quarantined component leaves the node
// degraded (docs/operations.md, "Node health"): exit 1, and it says so.
TEST_F(RazarCliTest, BootThatQuarantinedAComponentDoesNotSayEveryComponentIsHealthy) {
  json ok = Shell("ok", "exec sleep 60", 0);
  json bad = Shell("bad", "exit 3", 0);
  bad["retries"] = 0;
  bad["probe"] = {{"command", Argv({"false"})}, {"period_ms", 50}};
  const std::string config = WriteConfig({ok, bad});
  EXPECT_EQ(BootAndExit(config, {"--http-port", "0", "--no-spine"}), 1) << Stderr(0);
  EXPECT_EQ(Stdout(0).find("every component healthy"), std::string::npos) << Stdout(0);
  EXPECT_NE(Stdout(0).find("degraded"), std::string::npos) << Stdout(0);
  EXPECT_EQ(StopViaRazar(config), 1) << "bad is still quarantined";
}

// --- HTTP + metrics -----------------------------------------------------


// The sample value of the metric line that starts with `series` (name and
// labels exactly as exposed), or nullopt.
std::optional<double> Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(series + " ", 0) == 0) return std::stod(l.substr(series.size() + 1));
  }
  return std::nullopt;
}

TEST_F(RazarCliTest, HttpServesHealthStatusAndMetricsThatPromtoolAccepts) {
  json h1 = Shell("h1", "exec sleep 60", 0);
  h1["layer"] = "heart";
  json h2 = Shell("h2", "exec sleep 60", 1);
  h2["probe"] = {{"command", Argv({"true"})}, {"period_ms", 200}};
  const std::string config = WriteConfig({h1, h2});
  const uint16_t port = UnusedPort();
  ASSERT_NE(port, 0);
  const pid_t razar = StartBoot(config, {"--http-port", std::to_string(port), "--no-spine"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = HttpGet(port, "/health");
        return r && r->status == 200;
      },
      20'000, 50))
      << Stderr(0);

  auto status = HttpGet(port, "/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  const json sj = json::parse(status->body, nullptr, false);
  ASSERT_FALSE(sj.is_discarded()) << status->body;
  EXPECT_EQ(sj.value("healthy", false), true);
  std::vector<std::string> names;
  for (const json& c : sj.value("components", json::array())) {
    names.push_back(c.value("name", ""));
    EXPECT_EQ(c.value("status", ""), "healthy") << c.dump();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"h1", "h2"}));

  auto metrics = HttpGet(port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const std::string text = metrics->body;
  EXPECT_EQ(Sample(text, "razar_component_up{component=\"h1\",layer=\"heart\"}"), 1.0) << text;
  EXPECT_EQ(Sample(text, "razar_component_up{component=\"h2\",layer=\"root\"}"), 1.0) << text;
  EXPECT_EQ(Sample(text, "razar_quarantined_components"), 0.0) << text;

  ASSERT_EQ(::kill(razar, SIGTERM), 0);
  EXPECT_EQ(WaitExit(razar, 15'000), 0);
  EXPECT_FALSE(HttpGet(port, "/health")) << "HTTP server still answering after exit";

  if (::access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "/usr/bin/promtool is missing";
  std::ofstream(Path("metrics.txt")) << text;
  const std::string cmd = "/usr/bin/promtool check metrics < " + Path("metrics.txt") + " > " +
                          Path("promtool.out") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)
      << "promtool check metrics: " << testing::ReadFile(Path("promtool.out"));
}

TEST_F(RazarCliTest, HttpHealthIs503AndMetricsCountQuarantineWhenAComponentIsBlocked) {
  const std::string config = QuarantinedAndBlockedConfig();
  const uint16_t port = UnusedPort();
  ASSERT_NE(port, 0);
  const pid_t razar = StartBoot(config, {"--http-port", std::to_string(port), "--no-spine"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Select(ReadEvents(Base(), 0, /*tolerate_partial=*/true), "boot_finished").size() ==
               1;
      },
      20'000))
      << Stderr(0);

  auto health = HttpGet(port, "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503) << health->body;
  auto status = HttpGet(port, "/status");
  ASSERT_TRUE(status);
  const json sj = json::parse(status->body, nullptr, false);
  ASSERT_FALSE(sj.is_discarded());
  std::map<std::string, std::string> by_name;
  for (const json& c : sj.value("components", json::array())) {
    by_name[c.value("name", "")] = c.value("status", "");
  }
  EXPECT_EQ(by_name["ok"], "healthy");
  EXPECT_EQ(by_name["bad"], "quarantined");
  EXPECT_EQ(by_name["dep"], "blocked");
  auto metrics = HttpGet(port, "/metrics");
  ASSERT_TRUE(metrics);
  const std::string text = metrics->body;
  EXPECT_EQ(Sample(text, "razar_quarantined_components"), 1.0) << text;
  EXPECT_EQ(Sample(text, "razar_component_up{component=\"ok\",layer=\"root\"}"), 1.0);
  EXPECT_EQ(Sample(text, "razar_component_up{component=\"bad\",layer=\"root\"}"), 0.0);
  EXPECT_EQ(Sample(text, "razar_component_up{component=\"dep\",layer=\"root\"}"), 0.0);

  ASSERT_EQ(::kill(razar, SIGTERM), 0);
  EXPECT_EQ(WaitExit(razar, 15'000), 1) << "a blocked component makes the boot degraded";
}

// --- Spine --------------------------------------------------------------

TEST_F(RazarCliTest, SpineRecordsEveryComponentStatusChange) {
  json ok = Shell("ok1", "exec sleep 60", 0);
  ok["layer"] = "heart";
  json bad = Shell("bad", "exit 3", 0);
  bad["layer"] = "throat";
  bad["retries"] = 0;
  bad["probe"] = {{"command", Argv({"false"})}, {"period_ms", 50}};
  const std::string config = WriteConfig({ok, bad});
  ASSERT_EQ(BootAndExit(config, {"--http-port", "0"}), 1) << "bad is quarantined: degraded\n"
                                                           << Stderr(0);
  EXPECT_NE(Stdout(0).find("spine"), std::string::npos) << Stdout(0);

  auto check = [&](storage::ComponentState ok_state, const std::string& ok_detail) {
    replay::RebuildOptions ro;
    ro.spine_dir = Base() + "/logs/spine";
    Result<replay::Rebuilt> r = replay::Rebuild(ro);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const auto& heart = r->state.layer(storage::Layer::heart).components;
    const auto it = heart.find(ComponentIdOf("ok1"));
    ASSERT_NE(it, heart.end()) << "ok1 not in the heart layer";
    EXPECT_EQ(it->second.name, "ok1");
    EXPECT_TRUE(it->second.has_state);
    EXPECT_EQ(storage::ComponentStateName(it->second.state), storage::ComponentStateName(ok_state));
    if (!ok_detail.empty()) {
      EXPECT_EQ(it->second.detail, ok_detail);
    }
    const auto& throat = r->state.layer(storage::Layer::throat).components;
    const auto jt = throat.find(ComponentIdOf("bad"));
    ASSERT_NE(jt, throat.end()) << "bad not in the throat layer";
    EXPECT_EQ(storage::ComponentStateName(jt->second.state),
              storage::ComponentStateName(storage::ComponentState::quarantined));
  };
  check(storage::ComponentState::healthy, "");
  // Stopping is a status change too — and a graceful stop is `stopped`, not
  // `failed` (regression: razar-replay timeline showed every clean shutdown
  // as a failure). The detail says how the process ended: the RAZAR that
  // stops ok1 adopted it, so it cannot know its exit status.
  EXPECT_EQ(StopViaRazar(config, {}), 1);
  check(storage::ComponentState::stopped, "exit status unknown");
}

// --- check / status / resolve ------------------------------------------

TEST_F(RazarCliTest, CheckPrintsThePlanAndExitsZero) {
  json db = Shell("db", "exec sleep 60", 0);
  json cache = Shell("cache", "exec sleep 60", 0);
  json app = Shell("app", "exec sleep 60", 5);
  app["depends_on"] = Argv({"db", "cache"});
  app["layer"] = "crown";
  const std::string config = WriteConfig({db, cache, app});
  std::string out, err;
  ASSERT_EQ(CallRazar({"check", config}, &out, &err), 0) << err;
  EXPECT_EQ(err, "");
  EXPECT_NE(out.find("3 components in 2 stages"), std::string::npos) << out;
  EXPECT_NE(out.find("db, cache"), std::string::npos) << out;
  EXPECT_NE(out.find("crown"), std::string::npos) << out;

  ASSERT_EQ(CallRazar({"check", config, "--format", "json"}, &out, &err), 0) << err;
  const json plan = json::parse(out, nullptr, false);
  ASSERT_FALSE(plan.is_discarded()) << out;
  ASSERT_EQ(plan["stages"].size(), 2u);
  EXPECT_EQ(plan["stages"][0]["components"].size(), 2u);
  EXPECT_EQ(plan["stages"][1]["priority"], 5);
  EXPECT_EQ(plan["stages"][1]["components"][0]["name"], "app");
  EXPECT_EQ(plan["stages"][1]["components"][0]["depends_on"], json({"db", "cache"}));
  EXPECT_EQ(plan["stages"][0]["components"][0]["dependents"], json({"app"}));
  EXPECT_FALSE(std::filesystem::exists(Base())) << "check created runtime files";
}

TEST_F(RazarCliTest, EachBadConfigExitsTwoWithOneMessageNamingFileComponentAndKey) {
  // Every config also has a valid component that would leave a marker if
  // anything were launched.
  json marker = Shell("m", "touch launched.marker; exec sleep 60", 0);
  json good = Shell("a", "exec sleep 60", 0);
  struct Case {
    const char* what;
    json components;
    std::string component;  // as the message quotes it
    std::string key;
    std::string words;
  };
  json unknown = good;
  unknown["retires"] = 3;
  json wrong_type = good;
  wrong_type["retries"] = "three";
  json cyc_a = good;
  cyc_a["depends_on"] = Argv({"b"});
  json cyc_b = Shell("b", "exec sleep 60", 0);
  cyc_b["depends_on"] = Argv({"a"});
  json missing = good;
  missing["depends_on"] = Argv({"nope"});
  json empty = good;
  empty["command"] = json::array();
  const std::vector<Case> cases = {
      {"unknown key", {marker, unknown}, "a", "retires", "unknown key"},
      {"wrong type", {marker, wrong_type}, "a", "retries", "non-negative integer"},
      {"duplicate name", {marker, good, good}, "a", "name", "duplicate"},
      {"cycle", {marker, cyc_a, cyc_b}, "a", "depends_on", "cycle"},
      {"missing dependency", {marker, missing}, "a", "depends_on", "nope"},
      {"empty command", {marker, empty}, "a", "command", "empty command"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string config = WriteConfig(c.components, "bad" + std::to_string(n++) + ".json");
    std::string out, err;
    EXPECT_EQ(CallRazar({"check", config}, &out, &err), 2);
    EXPECT_EQ(out, "");
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find(config), std::string::npos) << err;
    EXPECT_NE(err.find("component \"" + c.component + "\""), std::string::npos) << err;
    EXPECT_NE(err.find("key \"" + c.key + "\""), std::string::npos) << err;
    EXPECT_NE(err.find(c.words), std::string::npos) << err;

    // `boot` refuses it the same way and launches nothing.
    const int run = runs_;
    EXPECT_EQ(WaitExit(StartBoot(config, {"--http-port", "0", "--no-spine"}), 10'000), 2);
    EXPECT_EQ(Stderr(run), err);
  }
  EXPECT_FALSE(std::filesystem::exists(Path("launched.marker")));
  EXPECT_FALSE(std::filesystem::exists(Base() + "/logs/razar_state.json"));
}

TEST_F(RazarCliTest, StatusJsonMatchesTheStateFileAndExitsOneWhenDegraded) {
  const std::string config = QuarantinedAndBlockedConfig();
  Result<BootConfig> cfg = LoadBootConfig(config);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  SupervisorOptions o;
  o.config = *cfg;
  o.paths = Paths();
  auto sup = Supervisor::Create(std::move(o));
  ASSERT_TRUE(sup.ok());
  ASSERT_TRUE((*sup)->Boot().ok());

  std::string out, err;
  EXPECT_EQ(CallRazar({"status", "--base", Base(), "--format", "json"}, &out, &err), 1) << err;
  const json j = json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j.value("healthy", true), false);
  auto st = State();
  ASSERT_TRUE(st);
  EXPECT_EQ(j.value("razar_pid", 0), st->razar_pid);
  ASSERT_EQ(j["components"].size(), st->components.size());
  for (size_t i = 0; i < st->components.size(); ++i) {
    const ComponentRuntime& c = st->components[i];
    const json& jc = j["components"][i];
    EXPECT_EQ(jc.value("name", ""), c.name);
    EXPECT_EQ(jc.value("status", ""), ComponentStatusName(c.status));
    EXPECT_EQ(jc.value("pid", -1), c.pid);
    EXPECT_EQ(jc.value("attempts", 0u), c.attempts);
    EXPECT_EQ(jc.value("last_error", ""), c.last_error);
  }

  EXPECT_EQ(CallRazar({"status", "--base", Base()}, &out, &err), 1);
  for (const char* word : {"component", "ok", "healthy", "bad", "quarantined", "dep", "blocked"}) {
    EXPECT_NE(out.find(word), std::string::npos) << word << "\n" << out;
  }
  (*sup)->StopAll();
}

TEST_F(RazarCliTest, StatusWithoutAStateFileExitsTwoWithAClearMessage) {
  std::string out, err;
  EXPECT_EQ(CallRazar({"status", "--base", Base()}, &out, &err), 2);
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("razar_state.json"), std::string::npos) << err;
  EXPECT_NE(err.find("razar boot"), std::string::npos) << err;
  EXPECT_EQ(CallRazar({"status", "--base", Base(), "--format", "json"}, &out, &err), 2);
  EXPECT_EQ(CallRazar({"frobnicate"}, &out, &err), 2);
}


// Regression: `--http-port 70000` wrapped to port 4464 (the same value in
// the config file was rightly rejected).
TEST_F(RazarCliTest, HttpPortOutOfRangeIsAUsageErrorNotAWrap) {
  const std::string config = WriteConfig({Shell("a", "exec sleep 60", 0)});
  std::string out, err;
  EXPECT_EQ(CallRazar({"boot", config, "--base", Base(), "--http-port", "70000"}, &out, &err), 2);
  EXPECT_NE(err.find("http-port"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(Base() + "/logs/razar_state.json")) << "something booted";
}

TEST_F(RazarCliTest, CheckWithWarningsExitsOneAndNamesEachProblem) {
  json ghost = Shell("ghost", "exec sleep 60", 0);
  ghost["command"] = Argv({"definitely-not-a-program-razar"});
  const std::string config = WriteConfig({ghost});
  std::string out, err;
  EXPECT_EQ(CallRazar({"check", config}, &out, &err), 1);
  EXPECT_NE(err.find("razar: warning: "), std::string::npos) << err;
  EXPECT_NE(err.find("\"ghost\""), std::string::npos) << err;
  EXPECT_NE(out.find("Boot plan"), std::string::npos) << "the plan is still printed";
  EXPECT_EQ(CallRazar({"check", config, "--format", "json"}, &out, &err), 1);
  const json j = json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["warnings"].size(), 1u) << out;
}

}  // namespace
}  // namespace razar::orchestrator
