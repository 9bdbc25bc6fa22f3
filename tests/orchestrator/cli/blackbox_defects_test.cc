// Black-box regression tests for reported defects of the `razar` command,
// written from docs/operations.md and `--help` only: the real binary
// (RAZAR_BINARY) and `razar-replay` next to it are run with fork + execve,
// each in a working directory of the test's choosing, and judged by exit
// code, stdout/stderr, the runtime files the guide documents
// (logs/razar_state.json, logs/razar.log, quarantine/, logs/spine) and HTTP.
// Each test is named after what broke and fails on the old behaviour.
//
// Components carry RAZAR_BOOTTEST_TAG=<test dir> in their environment; a
// tagged process still running at TearDown is killed and fails the test,
// as does a `razar` this test started and did not reap.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "orchestrator/boot_test_util.h"
#include "orchestrator/child_test_util.h"
#include "orchestrator/httplib_for_tests.h"

extern char** environ;

namespace razar::orchestrator::blackbox {
namespace {

using ::razar::orchestrator::testing::HttpGet;
using ::razar::orchestrator::testing::HttpReply;

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Argv;
using testing::ReadEvents;
using testing::ReadFile;
using testing::Select;
using testing::WaitUntil;

// A config this deep overflowed the stack of the old parsers.
constexpr int kDeepLevels = 70'000;

// `razar-replay` is built into the same directory as `razar`.
std::string ReplayBinary() {
  return (fs::path(RAZAR_BINARY).parent_path() / "razar-replay").string();
}

// `name` searched in PATH as exec does; "" when absent.
std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path == nullptr ? "/usr/bin:/bin" : path);
  for (std::string d; std::getline(dirs, d, ':');) {
    const std::string candidate = (d.empty() ? "." : d) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

size_t Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

// The lines of `text` that start with `prefix`.
std::vector<std::string> LinesStartingWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  }
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// `number` as a whole number in `text` (pid 12 is not in "pid 123").
bool ContainsNumber(const std::string& text, const std::string& number) {
  return std::regex_search(text, std::regex("(^|[^0-9])" + number + "([^0-9]|$)"));
}

json Sh(const std::string& name, const std::string& script) {
  return {{"name", name},
          {"command", Argv({"/bin/sh", "-c", script})},
          {"stop_timeout_ms", 2000},
          {"start_timeout_ms", 10000}};
}


// What one finished run of a command printed and how it ended.
struct Outcome {
  int code = -1;  // exit code; 128+signal if killed; -1 on timeout
  std::string out, err;
  int64_t elapsed_ms = 0;
};

class BlackBoxDefects : public testing::TaggedComponentTest {
 protected:
  void TearDown() override {
    for (pid_t pid : started_) {
      if (::waitpid(pid, nullptr, WNOHANG) == 0) {
        ADD_FAILURE() << "process " << pid << " still running at the end; killing it";
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
    KillTaggedLeftovers();
    testing::ChildProcessTest::TearDown();
  }

  // fork + execve of `args` in `cwd` (its own process group, signal mask
  // cleared), stdout/stderr to files named by the run number. Everything
  // the child touches is prepared before fork.
  pid_t Start(const std::vector<std::string>& args, const std::string& cwd = "") {
    const std::string n = std::to_string(runs_++);
    const std::string dir = cwd.empty() ? dir_ : cwd;
    const pid_t pid = testing::Spawn(args, Path("run" + n + ".out"), Path("run" + n + ".err"), dir);
    EXPECT_GT(pid, 0);
    started_.push_back(pid);
    run_of_[pid] = n;
    return pid;
  }

  // Waits for `pid` (started by Start) to exit; kills it on timeout.
  Outcome Wait(pid_t pid, int64_t timeout_ms) {
    const auto t0 = std::chrono::steady_clock::now();
    int status = 0;
    const bool exited =
        WaitUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout_ms, 5);
    Outcome o;
    o.elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (!exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      o.code = -1;
    } else if (WIFEXITED(status)) {
      o.code = WEXITSTATUS(status);
    } else {
      o.code = 128 + WTERMSIG(status);
    }
    o.out = Stdout(pid);
    o.err = Stderr(pid);
    return o;
  }

  Outcome Run(const std::vector<std::string>& args, const std::string& cwd = "",
              int64_t timeout_ms = 8'000) {
    return Wait(Start(args, cwd), timeout_ms);
  }

  // `razar ARGS...`
  Outcome Razar(std::vector<std::string> args, const std::string& cwd = "",
                int64_t timeout_ms = 8'000) {
    args.insert(args.begin(), RAZAR_BINARY);
    return Run(args, cwd, timeout_ms);
  }

  std::string Stdout(pid_t pid) { return ReadFile(Path("run" + run_of_[pid] + ".out")); }
  std::string Stderr(pid_t pid) { return ReadFile(Path("run" + run_of_[pid] + ".err")); }

  // `razar boot CONFIG --base BASE ARGS...` in the background.
  pid_t StartBoot(const std::string& config, const std::string& base,
                  std::vector<std::string> extra, const std::string& cwd = "") {
    std::vector<std::string> args = {RAZAR_BINARY, "boot", config, "--base", base};
    args.insert(args.end(), extra.begin(), extra.end());
    return Start(args, cwd);
  }

  // Writes {"components": [...], ...top} (each component tagged) to `path`.
  std::string WriteAt(const std::string& path, json components, json top = json::object()) {
    for (json& c : components) c["env"][testing::kTagVar] = dir_;
    top["components"] = std::move(components);
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << top.dump(2);
    return path;
  }

  static void WriteText(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }

  // logs/razar_state.json of `base`, or null while absent or mid-write.
  static json StateFile(const std::string& base) {
    return json::parse(ReadFile(base + "/logs/razar_state.json"), nullptr, false);
  }

  static std::string StatusOf(const std::string& base, const std::string& name) {
    const json st = StateFile(base);
    if (!st.is_object()) return "";
    for (const json& c : st.value("components", json::array())) {
      if (c.value("name", "") == name) return c.value("status", "");
    }
    return "";
  }

  static int64_t PidOf(const std::string& base, const std::string& name) {
    const json st = StateFile(base);
    if (!st.is_object()) return 0;
    for (const json& c : st.value("components", json::array())) {
      if (c.value("name", "") == name) return c.value("pid", int64_t{0});
    }
    return 0;
  }

  static size_t BootsFinished(const std::string& base) {
    return Select(ReadEvents(base, 0, /*tolerate_partial=*/true), "boot_finished").size();
  }

  // Waits until `base` has logged its n-th boot_finished.
  static bool WaitBootFinished(const std::string& base, size_t n = 1, int64_t timeout_ms = 15'000) {
    return WaitUntil([&] { return BootsFinished(base) >= n; }, timeout_ms, 20);
  }

  // SIGTERM to a supervising razar; its outcome.
  Outcome Stop(pid_t razar, int signal = SIGTERM) {
    EXPECT_EQ(::kill(razar, signal), 0);
    return Wait(razar, 20'000);
  }

  std::vector<pid_t> started_;
  std::map<pid_t, std::string> run_of_;
  int runs_ = 0;
};

// --- 1. Deep nesting ----------------------------------------------------

struct DeepFile {
  std::string name, text;
};

std::vector<DeepFile> DeepConfigs() {
  const std::string open_a(kDeepLevels, '['), close_a(kDeepLevels, ']');
  std::string objects;
  for (int i = 0; i < kDeepLevels; ++i) objects += "{\"a\":";
  objects += "1" + std::string(kDeepLevels, '}');
  std::string flow_maps;
  for (int i = 0; i < kDeepLevels; ++i) flow_maps += "{a: ";
  flow_maps += "1" + std::string(kDeepLevels, '}');
  return {
      {"deep_arrays.json", "{\"components\": " + open_a + close_a + "}\n"},
      {"bare_arrays.json", open_a + close_a + "\n"},
      {"deep_objects.json", objects + "\n"},
      {"deep_flow.yaml", "components: " + open_a + close_a + "\n"},
      {"bare_flow.yaml", open_a + close_a + "\n"},
      {"deep_flow_maps.yml", "components: " + flow_maps + "\n"},
  };
}

TEST_F(BlackBoxDefects, CheckOnDeeplyNestedConfigIsAOneLineErrorNotACrash) {
  for (const DeepFile& f : DeepConfigs()) {
    SCOPED_TRACE(f.name);
    const std::string path = Path(f.name);
    WriteText(path, f.text);
    const Outcome o = Razar({"check", path});
    EXPECT_EQ(o.code, 2) << "(139 = SIGSEGV) stderr: " << o.err.substr(0, 400);
    EXPECT_EQ(Lines(o.err), 1u) << o.err.substr(0, 400);
    EXPECT_TRUE(Contains(o.err, path)) << o.err.substr(0, 400);
  }
}

TEST_F(BlackBoxDefects, BootOnDeeplyNestedConfigIsAOneLineErrorNotACrash) {
  for (const DeepFile& f : DeepConfigs()) {
    SCOPED_TRACE(f.name);
    const std::string path = Path(f.name);
    const std::string base = Path("base_" + f.name);
    WriteText(path, f.text);
    const Outcome o = Razar(
        {"boot", path, "--base", base, "--http-port", "0", "--no-spine", "--exit-after-boot"});
    EXPECT_EQ(o.code, 2) << "(139 = SIGSEGV) stderr: " << o.err.substr(0, 400);
    EXPECT_EQ(Lines(o.err), 1u) << o.err.substr(0, 400);
    EXPECT_TRUE(Contains(o.err, path)) << o.err.substr(0, 400);
    EXPECT_FALSE(fs::exists(base + "/logs/razar_state.json")) << "nothing may be launched";
  }
}

// The depth guard runs before parsing: it must still read the text as
// YAML, where a bracket in a comment, a single-quoted or block scalar or a
// plain scalar is not nesting. A config nested four levels deep is not
// "nested deeper than 64 levels".
TEST_F(BlackBoxDefects, DepthGuardDoesNotCountBracketsInYamlCommentsOrScalars) {
  // 70 components, each documented with a half-open interval.
  std::string comments = "components:\n";
  for (int i = 0; i < 70; ++i) {
    comments += "  # serves ports [" + std::to_string(8000 + i) + ", 9000)\n";
    comments += "  - name: c" + std::to_string(i) + "\n    command: [/bin/true]\n";
  }
  const std::string brackets(70, '[');
  const std::vector<DeepFile> files = {
      {"comments.yaml", comments},
      {"single_quoted.yaml",
       "components:\n  - name: a\n    command: ['/bin/echo', '" + brackets + "']\n"},
      {"literal_block.yaml",
       "components:\n  - name: a\n    command:\n      - /bin/echo\n      - |\n        " + brackets +
           "\n"},
      {"plain_scalar.yaml",
       "components:\n  - name: a\n    command:\n      - /bin/echo\n      - x" + brackets + "\n"},
      // The JSON twin: brackets in strings are already ignored.
      {"strings.json",
       json{{"components", {{{"name", "a"}, {"command", {"/bin/echo", brackets}}}}}}.dump()},
  };
  for (const DeepFile& f : files) {
    SCOPED_TRACE(f.name);
    const std::string path = Path(f.name);
    WriteText(path, f.text);
    const Outcome o = Razar({"check", path});
    EXPECT_EQ(o.code, 0) << o.err;
  }
}

// --- 2. NOTIFY_SOCKET ---------------------------------------------------

TEST_F(BlackBoxDefects, NotifySocketIsAbsoluteUnderARelativeBaseSoSystemdNotifyReachesIt) {
  if (FindInPath("systemd-notify").empty()) {
    GTEST_SKIP()
        << "systemd-notify is not installed (package systemd): the test needs the real one";
  }
  // The component runs in <dir>/cfg/work, RAZAR in <dir>/run...: neither
  // resolves the other's relative paths.
  json n = Sh("n",
              "echo \"$NOTIFY_SOCKET\" > sockpath; "
              "systemd-notify --ready || exit 7; exec sleep 60");
  n["cwd"] = "work";
  n["probe"] = {{"notify", true}};
  n["retries"] = 0;
  const std::string config = WriteAt(Path("cfg/boot.json"), {n});
  fs::create_directories(Path("cfg/work"));

  struct Case {
    std::string razar_cwd, base;
  };
  // The last base is too long for sun_path (107 bytes): an abstract name.
  const std::string long_dir =
      "run3/" + std::string(60, 'x') + "/" + std::string(60, 'y') + "/" + std::string(10, 'z');
  const std::vector<Case> cases = {
      {Path("run1"), "."}, {Path("run2"), "rel/dir"}, {Path(long_dir), "."}};
  for (const Case& c : cases) {
    SCOPED_TRACE("razar cwd " + c.razar_cwd + ", --base " + c.base);
    fs::create_directories(c.razar_cwd);
    fs::remove(Path("cfg/work/sockpath"));
    std::string base_abs = (fs::path(c.razar_cwd) / c.base).lexically_normal().string();
    if (base_abs.size() > 1 && base_abs.back() == '/') base_abs.pop_back();
    // The config path is relative too: to razar's own cwd.
    const std::string rel_config = fs::relative(config, c.razar_cwd).string();
    const pid_t razar =
        StartBoot(rel_config, c.base, {"--http-port", "0", "--no-spine"}, c.razar_cwd);
    const bool settled = WaitUntil(
        [&] {
          const std::string s = StatusOf(base_abs, "n");
          return s == "healthy" || s == "quarantined";
        },
        12'000, 20);
    const std::string status = StatusOf(base_abs, "n");
    const std::string sock = ReadFile(Path("cfg/work/sockpath"));
    const Outcome stopped = Stop(razar);
    EXPECT_EQ(stopped.code, 0) << stopped.err;

    EXPECT_TRUE(settled) << stopped.err;
    EXPECT_EQ(status, "healthy") << "NOTIFY_SOCKET=" << sock
                                 << " (exit 7 = systemd-notify refused it)\n"
                                 << stopped.err;
    const std::string value = sock.substr(0, sock.find('\n'));
    ASSERT_FALSE(value.empty()) << "the component did not record $NOTIFY_SOCKET";
    EXPECT_TRUE(value[0] == '/' || value[0] == '@') << "relative NOTIFY_SOCKET: " << value;
    const std::string documented = base_abs + "/logs/notify/n.sock";
    if (documented.size() <= 107) {
      EXPECT_EQ(value, documented);
    } else {
      EXPECT_EQ(value.rfind("@razar/", 0), 0u) << value;
      EXPECT_TRUE(value.size() > 2 && value.compare(value.size() - 2, 2, "/n") == 0) << value;
    }
  }
}

// --- 3. One boot per base -----------------------------------------------

TEST_F(BlackBoxDefects, SecondBootOnTheSameBaseIsRefusedAndTheLockDiesWithSigkill) {
  const std::string config = WriteAt(Path("boot.json"), {Sh("a", "exec sleep 60")});
  const std::string base = Base();
  const pid_t first = StartBoot(config, base, {"--http-port", "0", "--no-spine"});
  ASSERT_TRUE(WaitBootFinished(base)) << Stderr(first);
  ASSERT_EQ(StatusOf(base, "a"), "healthy") << Stderr(first);
  const int64_t component = PidOf(base, "a");
  ASSERT_GT(component, 0);
  const std::string state_before = ReadFile(base + "/logs/razar_state.json");
  const std::string log_before = ReadFile(base + "/logs/razar.log");

  // Without --exit-after-boot: a second boot that got past the lock would
  // keep running and time out here.
  const Outcome second =
      Razar({"boot", config, "--base", base, "--http-port", "0", "--no-spine"}, "", 8'000);
  EXPECT_EQ(second.code, 2) << second.err;
  EXPECT_LT(second.elapsed_ms, 5'000);
  EXPECT_EQ(Lines(second.err), 1u) << second.err;
  EXPECT_TRUE(Contains(second.err, base) || Contains(second.err, "razar.lock")) << second.err;
  EXPECT_TRUE(ContainsNumber(second.err, std::to_string(first)))
      << "the holder's pid " << first << " is not named: " << second.err;
  EXPECT_EQ(ReadFile(base + "/logs/razar_state.json"), state_before) << "the refused boot wrote";
  EXPECT_EQ(ReadFile(base + "/logs/razar.log"), log_before) << "the refused boot wrote";
  EXPECT_EQ(::waitpid(first, nullptr, WNOHANG), 0) << "the first boot must keep running";
  EXPECT_TRUE(testing::Running(static_cast<pid_t>(component)));

  // SIGKILL: no cleanup runs, the kernel drops the flock.
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  EXPECT_EQ(Wait(first, 10'000).code, 128 + SIGKILL);
  const pid_t third = StartBoot(config, base, {"--http-port", "0", "--no-spine"});
  ASSERT_TRUE(WaitBootFinished(base, 2)) << Stderr(third);
  EXPECT_EQ(StatusOf(base, "a"), "healthy") << Stderr(third);
  EXPECT_EQ(::waitpid(third, nullptr, WNOHANG), 0) << Stderr(third);
  const Outcome stopped = Stop(third);
  EXPECT_EQ(stopped.code, 0) << stopped.err;
  EXPECT_TRUE(WaitUntil([&] { return !testing::Running(static_cast<pid_t>(component)); }, 5'000));
}

// The lock is the flock, not the file: a leftover razar.lock naming a live
// process that holds no lock (here: this test) does not block a boot.
TEST_F(BlackBoxDefects, LeftoverLockFileWithoutAHolderDoesNotBlockABoot) {
  json bad = Sh("bad", "exit 3");
  bad["retries"] = 0;
  const std::string config = WriteAt(Path("boot.json"), {bad});
  WriteText(Base() + "/logs/razar.lock", std::to_string(::getpid()) + "\n");
  const Outcome o = Razar(
      {"boot", config, "--base", Base(), "--http-port", "0", "--no-spine", "--exit-after-boot"});
  EXPECT_EQ(o.code, 1) << "the boot ran (and quarantined bad): " << o.err;
  EXPECT_EQ(StatusOf(Base(), "bad"), "quarantined") << o.err;
}

// --- 4. --http-port range -----------------------------------------------

TEST_F(BlackBoxDefects, HttpPortOutOfRangeIsAUsageErrorAndLaunchesNothing) {
  const std::string config =
      WriteAt(Path("boot.json"), {Sh("m", "touch " + Path("launched.marker") + "; exec sleep 60")});
  for (const std::string port : {"70000", "65536", "-1"}) {
    SCOPED_TRACE("--http-port " + port);
    const std::string base = Path("base" + port);
    // No --exit-after-boot: a boot that started would not return.
    const Outcome o =
        Razar({"boot", config, "--base", base, "--http-port", port, "--no-spine"}, "", 4'000);
    EXPECT_EQ(o.code, 2) << o.err;
    EXPECT_TRUE(Contains(o.err, "--http-port")) << o.err;
    EXPECT_FALSE(fs::exists(base + "/logs/razar_state.json"));
    EXPECT_FALSE(fs::exists(Path("launched.marker")));
  }
  // The config's own port has the same range.
  const std::string bad_port =
      WriteAt(Path("port.json"), {Sh("m", "exec sleep 60")}, {{"http", {{"port", 70000}}}});
  const Outcome o = Razar({"check", bad_port});
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_TRUE(Contains(o.err, "http.port")) << o.err;
}

// --- 5. Node health when everything is quarantined ----------------------

TEST_F(BlackBoxDefects, BootWhereEveryComponentIsQuarantinedIsDegradedNotHealthy) {
  json bad = Sh("bad", "exit 3");
  bad["retries"] = 0;
  const std::string config = WriteAt(Path("boot.json"), {bad});
  // The first boot quarantines bad; the second skips it as quarantined.
  for (int boot = 1; boot <= 2; ++boot) {
    SCOPED_TRACE("boot " + std::to_string(boot));
    const Outcome o = Razar(
        {"boot", config, "--base", Base(), "--http-port", "0", "--no-spine", "--exit-after-boot"});
    EXPECT_EQ(o.code, 1) << o.out << o.err;
    EXPECT_TRUE(Contains(o.out, "degraded")) << o.out;
    EXPECT_FALSE(Contains(o.out, "every component healthy")) << o.out;

    const Outcome js = Razar({"status", "--base", Base(), "--format", "json"});
    EXPECT_EQ(js.code, 1) << js.err;
    const json st = json::parse(js.out, nullptr, false);
    ASSERT_TRUE(st.is_object()) << js.out;
    EXPECT_EQ(st.value("healthy", true), false) << js.out;
    EXPECT_EQ(st.value("node", ""), "degraded") << js.out;
    EXPECT_EQ(st.value("quarantined", json::array()), json::array({"bad"})) << js.out;
    const Outcome table = Razar({"status", "--base", Base()});
    EXPECT_EQ(table.code, 1) << table.out << table.err;
  }
}

TEST_F(BlackBoxDefects, HttpHealthIs503WhileEveryComponentIsQuarantined) {
  json bad = Sh("bad", "exit 3");
  bad["retries"] = 0;
  const std::string config = WriteAt(Path("boot.json"), {bad});
  const uint16_t port = testing::UnusedPort();
  ASSERT_NE(port, 0);
  const pid_t razar =
      StartBoot(config, Base(), {"--http-port", std::to_string(port), "--no-spine"});
  ASSERT_TRUE(WaitBootFinished(Base())) << Stderr(razar);
  std::optional<HttpReply> health;
  ASSERT_TRUE(
      WaitUntil([&] { return (health = HttpGet(port, "/health")).has_value(); }, 10'000, 50))
      << Stderr(razar);
  EXPECT_EQ(health->status, 503) << health->body;
  const json hj = json::parse(health->body, nullptr, false);
  ASSERT_TRUE(hj.is_object()) << health->body;
  EXPECT_EQ(hj.value("status", ""), "degraded") << health->body;
  EXPECT_EQ(hj.value("quarantined", json::array()), json::array({"bad"})) << health->body;

  const std::optional<HttpReply> status = HttpGet(port, "/status");
  ASSERT_TRUE(status);
  const json sj = json::parse(status->body, nullptr, false);
  ASSERT_TRUE(sj.is_object()) << status->body;
  EXPECT_EQ(sj.value("healthy", true), false) << status->body;
  EXPECT_EQ(sj.value("node", ""), "degraded") << status->body;

  const Outcome stopped = Stop(razar);
  EXPECT_EQ(stopped.code, 1) << "a degraded node: " << stopped.err;
}

// --- 6. Probe-less health -----------------------------------------------

TEST_F(BlackBoxDefects, ProbelessComponentThatExitsIsNeverHealthyAndEndsQuarantined) {
  json quick = Sh("quick", "exit 3");
  // Still running at the first check after launch, gone before the grace.
  json late = Sh("late", "sleep 0.3; exit 3");
  for (json* c : {&quick, &late}) {
    (*c)["retries"] = 0;
    (*c)["priority"] = 0;
  }
  const std::string config = WriteAt(Path("boot.json"), {quick, late});
  const Outcome o = Razar(
      {"boot", config, "--base", Base(), "--http-port", "0", "--no-spine", "--exit-after-boot"});
  EXPECT_EQ(o.code, 1) << o.out << o.err;
  const auto events = ReadEvents(Base());
  for (const std::string name : {"quick", "late"}) {
    SCOPED_TRACE(name);
    for (const testing::Event& e : events) {
      if (e.component == name) {
        EXPECT_NE(e.status, "healthy") << "event " << e.event << " " << e.details.dump();
      }
    }
    EXPECT_EQ(StatusOf(Base(), name), "quarantined");
    EXPECT_TRUE(fs::exists(Base() + "/quarantine/" + name + ".json"));
  }
}

// Milliseconds from `launched` to `healthy` of `name` in razar.log; -1 if
// either is missing.
int64_t LaunchToHealthyMs(const std::string& base, const std::string& name) {
  const auto events = ReadEvents(base, 0, /*tolerate_partial=*/true);
  const auto launched = Select(events, "launched", name);
  const auto healthy = Select(events, "healthy", name);
  if (launched.empty() || healthy.empty()) return -1;
  return healthy.front().unix_ms - launched.front().unix_ms;
}

TEST_F(BlackBoxDefects, ProbelessComponentIsHealthyAfterStartGraceOrAtOnceWithGraceZero) {
  json graced = Sh("graced", "exec sleep 60");  // default start_grace_ms: 1000
  json instant = Sh("instant", "exec sleep 60");
  instant["start_grace_ms"] = 0;
  graced["priority"] = 0;
  instant["priority"] = 0;
  const std::string config = WriteAt(Path("boot.json"), {graced, instant});
  const pid_t razar = StartBoot(config, Base(), {"--http-port", "0", "--no-spine"});
  ASSERT_TRUE(WaitBootFinished(Base())) << Stderr(razar);
  EXPECT_EQ(StatusOf(Base(), "graced"), "healthy");
  EXPECT_EQ(StatusOf(Base(), "instant"), "healthy");
  const int64_t graced_ms = LaunchToHealthyMs(Base(), "graced");
  const int64_t instant_ms = LaunchToHealthyMs(Base(), "instant");
  // Millisecond timestamps: a 1000 ms wait may show as 999.
  EXPECT_GE(graced_ms, 990) << "healthy before the 1 s grace";
  EXPECT_LE(graced_ms, 6'000);
  EXPECT_GE(instant_ms, 0);
  EXPECT_LT(instant_ms, 900) << "start_grace_ms 0 means healthy once running";
  const Outcome stopped = Stop(razar);
  EXPECT_EQ(stopped.code, 0) << stopped.err;
}

// --- 7. check's warnings and the public HTTP bind ------------------------

TEST_F(BlackBoxDefects, CheckWarnsPerMissingProgramOrCwdNamingComponentAndKey) {
  json nocmd = Sh("nocmd", "true");
  nocmd["command"] = Argv({"/nonexistent/razar-blackbox-program"});
  json nopath = Sh("nopath", "true");
  nopath["command"] = Argv({"razar-blackbox-no-such-program"});
  json nocwd = Sh("nocwd", "exec sleep 60");
  nocwd["cwd"] = "no/such/dir";
  const std::string config = WriteAt(Path("boot.json"), {nocmd, nopath, nocwd, Sh("fine", "true")});

  const Outcome o = Razar({"check", config});
  EXPECT_EQ(o.code, 1) << o.err;
  const auto warnings = LinesStartingWith(o.err, "razar: warning:");
  EXPECT_EQ(warnings.size(), 3u) << o.err;
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"nocmd", "command"}, {"nopath", "command"}, {"nocwd", "cwd"}};
  for (const auto& [component, key] : expected) {
    const bool named = std::any_of(warnings.begin(), warnings.end(), [&](const std::string& w) {
      return Contains(w, "\"" + component + "\"") && Contains(w, "\"" + key + "\"");
    });
    EXPECT_TRUE(named) << "no warning names component " << component << " and key " << key << ":\n"
                       << o.err;
  }
  for (const std::string& w : warnings) EXPECT_FALSE(Contains(w, "\"fine\"")) << w;

  const Outcome js = Razar({"check", config, "--format", "json"});
  EXPECT_EQ(js.code, 1);
  const json j = json::parse(js.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << js.out;
  EXPECT_EQ(j.value("warnings", json::array()).size(), 3u) << js.out;
}

TEST_F(BlackBoxDefects, CheckOnACleanConfigExitsZeroWithoutWarnings) {
  // A PATH program, an absolute one, and a cwd relative to the config's
  // directory — checked from another working directory.
  json path_cmd = Sh("pathcmd", "true");
  path_cmd["command"] = Argv({"sleep", "60"});
  json in_sub = Sh("insub", "exec sleep 60");
  in_sub["cwd"] = "work";
  const std::string config = WriteAt(Path("cfg/boot.json"), {path_cmd, in_sub});
  fs::create_directories(Path("cfg/work"));
  fs::create_directories(Path("elsewhere"));
  const Outcome o = Razar({"check", config}, Path("elsewhere"));
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_FALSE(Contains(o.err, "warning")) << o.err;
  const Outcome js = Razar({"check", config, "--format", "json"}, Path("elsewhere"));
  EXPECT_EQ(js.code, 0) << js.err;
  const json j = json::parse(js.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << js.out;
  EXPECT_EQ(j.value("warnings", json::array({"missing"})), json::array()) << js.out;
}

TEST_F(BlackBoxDefects, PublicHttpBindWithoutTokenIsRefusedUnlessAllowedOnPurpose) {
  const json marker = Sh("m", "touch " + Path("launched.marker") + "; exec sleep 60");
  const std::string refused =
      WriteAt(Path("public.json"), {marker}, {{"http", {{"bind", "0.0.0.0"}}}});
  const Outcome check = Razar({"check", refused});
  EXPECT_EQ(check.code, 2) << check.err;
  EXPECT_TRUE(Contains(check.err, "http.bind")) << check.err;
  const Outcome boot = Razar({"boot", refused, "--base", Base(), "--http-port", "0", "--no-spine"});
  EXPECT_EQ(boot.code, 2) << boot.err;
  EXPECT_TRUE(Contains(boot.err, "http.bind")) << boot.err;
  EXPECT_FALSE(fs::exists(Path("launched.marker")));

  const std::string allowed =
      WriteAt(Path("allowed.json"), {marker},
              {{"http", {{"bind", "0.0.0.0"}, {"allow_public_without_token", true}}}});
  const Outcome warned = Razar({"check", allowed});
  EXPECT_EQ(warned.code, 1) << warned.err;
  const auto warnings = LinesStartingWith(warned.err, "razar: warning:");
  ASSERT_EQ(warnings.size(), 1u) << warned.err;
  EXPECT_TRUE(Contains(warnings[0], "http.bind")) << warnings[0];

  WriteText(Path("token"), "s3cret\n");
  const std::string with_token =
      WriteAt(Path("token.json"), {marker},
              {{"http", {{"bind", "0.0.0.0"}, {"token_file", Path("token")}}}});
  const Outcome ok = Razar({"check", with_token});
  EXPECT_EQ(ok.code, 0) << ok.err;
}

// --- 8. A directory as the config ---------------------------------------

TEST_F(BlackBoxDefects, DirectoryGivenAsConfigIsAnErrorNamingThePath) {
  for (const std::string name : {"conf.d", "boot.yaml"}) {
    SCOPED_TRACE(name);
    const std::string path = Path(name);
    fs::create_directories(path);
    const Outcome check = Razar({"check", path});
    EXPECT_EQ(check.code, 2) << check.err;
    EXPECT_EQ(Lines(check.err), 1u) << check.err;
    EXPECT_TRUE(Contains(check.err, path)) << check.err;
    const std::string base = Path("base-" + name);
    const Outcome boot = Razar(
        {"boot", path, "--base", base, "--http-port", "0", "--no-spine", "--exit-after-boot"});
    EXPECT_EQ(boot.code, 2) << boot.err;
    EXPECT_TRUE(Contains(boot.err, path)) << boot.err;
    EXPECT_FALSE(fs::exists(base + "/logs/razar_state.json"));
  }
}

// --- 9. A graceful stop in the spine ------------------------------------

// The timeline's entries as JSON objects (an array, or one object a line).
std::vector<json> TimelineEntries(const std::string& text) {
  std::vector<json> out;
  const json all = json::parse(text, nullptr, false);
  if (all.is_array()) {
    for (const json& e : all) out.push_back(e);
    return out;
  }
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    const json e = json::parse(l, nullptr, false);
    if (e.is_object()) out.push_back(e);
  }
  return out;
}

// Expects the last state of each of `names` in the output of
// `razar-replay timeline --format json` to be `stopped`.
void ExpectLastTimelineStateStopped(const std::string& replay_out,
                                    const std::vector<std::string>& names) {
  const std::vector<json> entries = TimelineEntries(replay_out);
  for (const std::string& name : names) {
    std::string last;
    for (const json& e : entries) {
      if (e.value("component", "") == name) last = e.value("state", "");
    }
    EXPECT_EQ(last, "stopped") << name << " in the timeline:\n" << replay_out;
  }
}

class BlackBoxGracefulStop : public BlackBoxDefects {
 protected:
  void SetUp() override {
    BlackBoxDefects::SetUp();
    replay_ = ReplayBinary();
    ASSERT_EQ(::access(replay_.c_str(), X_OK), 0)
        << replay_ << " is not built: build the razar-replay target too";
  }

  // Boots a plain component and one that ignores SIGTERM (SIGKILLed after
  // stop_timeout_ms: still a deliberate stop), with the spine; stops RAZAR
  // with `sig` once both are healthy; checks the timeline.
  void StopHealthyNodeWith(int sig) {
    json svc = Sh("svc", "exec sleep 60");
    json stubborn = Sh("stubborn", "trap '' TERM; exec sleep 60");
    stubborn["stop_timeout_ms"] = 300;
    for (json* c : {&svc, &stubborn}) {
      (*c)["priority"] = 0;
      (*c)["start_grace_ms"] = 200;  // keeps the test short; still a grace
    }
    const std::string config = WriteAt(Path("boot.json"), {svc, stubborn});
    const pid_t razar = StartBoot(config, Base(), {"--http-port", "0"});  // with the spine
    ASSERT_TRUE(WaitBootFinished(Base())) << Stderr(razar);
    ASSERT_EQ(StatusOf(Base(), "svc"), "healthy") << Stderr(razar);
    ASSERT_EQ(StatusOf(Base(), "stubborn"), "healthy") << Stderr(razar);
    const Outcome stopped = Stop(razar, sig);
    EXPECT_EQ(stopped.code, 0) << stopped.err;

    const Outcome tl =
        Run({replay_, "timeline", "--spine", Base() + "/logs/spine", "--format", "json"});
    ASSERT_EQ(tl.code, 0) << tl.err;
    ExpectLastTimelineStateStopped(tl.out, {"svc", "stubborn"});
    const Outcome table = Run({replay_, "timeline", "--spine", Base() + "/logs/spine"});
    EXPECT_EQ(table.code, 0) << table.err;
    EXPECT_TRUE(Contains(table.out, "stopped")) << table.out;
    EXPECT_FALSE(Contains(table.out, "failed")) << table.out;
  }

  std::string replay_;
};

TEST_F(BlackBoxGracefulStop, SigtermIsRecordedAsStoppedNotFailedInTheSpineTimeline) {
  StopHealthyNodeWith(SIGTERM);
}

TEST_F(BlackBoxGracefulStop, SigintIsRecordedAsStoppedNotFailedInTheSpineTimeline) {
  StopHealthyNodeWith(SIGINT);
}

// A component still starting when RAZAR is stopped ends `stopped` too.
TEST_F(BlackBoxGracefulStop, StopDuringStartEndsStoppedInTheSpineTimeline) {
  json slow = Sh("slow", "exec sleep 60");
  slow["probe"] = {{"command", Argv({"false"})}, {"period_ms", 50}};
  slow["start_timeout_ms"] = 60'000;
  const std::string config = WriteAt(Path("boot.json"), {slow});
  const pid_t razar = StartBoot(config, Base(), {"--http-port", "0"});
  ASSERT_TRUE(WaitUntil([&] { return StatusOf(Base(), "slow") == "starting"; }, 15'000, 20))
      << Stderr(razar);
  const Outcome stopped = Stop(razar);
  EXPECT_EQ(stopped.code, 1) << "an unfinished boot is degraded: " << stopped.err;
  EXPECT_FALSE(fs::exists(Base() + "/quarantine/slow.json"));
  const Outcome tl =
      Run({replay_, "timeline", "--spine", Base() + "/logs/spine", "--format", "json"});
  ASSERT_EQ(tl.code, 0) << tl.err;
  ExpectLastTimelineStateStopped(tl.out, {"slow"});
}

}  // namespace
}  // namespace razar::orchestrator::blackbox
