// Shared by the boot and razar-command tests: config builders, the
// lifecycle log as events, process checks, and a fixture that tags every
// component it launches (an environment variable) so that TearDown can
// find — and fail the test for — any component process left running.
//
// Thread safety: free functions are thread-safe; fixtures are per test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "orchestrator/httplib_for_tests.h"

#include "orchestrator/child_test_util.h"
#include "orchestrator/os/proc_stat.h"
#include "orchestrator/os/process.h"
#include "orchestrator/cli/razar_cli.h"
#include "orchestrator/journal/runtime_state.h"
#include "orchestrator/config/spec.h"

extern char** environ;

namespace razar::orchestrator::testing {

using nlohmann::json;
using Ms = std::chrono::milliseconds;

inline constexpr char kTagVar[] = "RAZAR_BOOTTEST_TAG";

inline json Argv(std::initializer_list<std::string> words) {
  return json(std::vector<std::string>(words));
}

// One line of logs/razar.log.
struct Event {
  size_t line = 0;
  std::string event, component, status;
  json details;
  int64_t unix_ms = 0;
};

// The lifecycle log's events from line `from_line` on. A line that is not
// JSON fails the test unless `tolerate_partial` (a live razar may be
// writing it right now).
inline std::vector<Event> ReadEvents(const std::string& base, size_t from_line = 0,
                                     bool tolerate_partial = false) {
  std::vector<Event> events;
  std::ifstream in(base + "/logs/razar.log");
  std::string text;
  for (size_t n = 0; std::getline(in, text); ++n) {
    if (n < from_line) continue;
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      if (!tolerate_partial) ADD_FAILURE() << "razar.log line " << n << " is not JSON: " << text;
      continue;
    }
    Event e;
    e.line = n;
    e.event = j.value("event", "");
    e.component = j.value("component", "");
    e.status = j.value("status", "");
    e.details = j.value("details", json());
    e.unix_ms = ParseUtcIso8601(j.value("timestamp", "")).value_or(0);
    events.push_back(std::move(e));
  }
  return events;
}

// The events named `event` of `component` (of any component when empty).
inline std::vector<Event> Select(const std::vector<Event>& events, const std::string& event,
                                 const std::string& component = "") {
  std::vector<Event> out;
  for (const Event& e : events) {
    if (e.event == event && (component.empty() || e.component == component)) out.push_back(e);
  }
  return out;
}

inline size_t Count(const std::vector<Event>& events, const std::string& event,
                    const std::string& component) {
  return Select(events, event, component).size();
}

// Running (not a zombie) and, when start_time != 0, the same process.
inline bool Running(pid_t pid, uint64_t start_time = 0) {
  if (pid <= 0) return false;
  auto st = ReadProcStat(pid);
  if (!st.ok() || st->state == 'Z' || st->state == 'X') return false;
  return start_time == 0 || st->start_time == start_time;
}

// Live processes whose environment holds `entry` (NAME=value).
inline std::vector<pid_t> ProcessesWithEnv(const std::string& entry) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = d.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    std::ifstream in("/proc/" + name + "/environ", std::ios::binary);
    if (!in) continue;
    std::string var;
    bool found = false;
    while (std::getline(in, var, '\0')) {
      if (var == entry) {
        found = true;
        break;
      }
    }
    if (found && Running(pid)) out.push_back(pid);
  }
  return out;
}

// Polls `done` every poll_ms for up to timeout_ms.
inline bool WaitUntil(const std::function<bool()>& done, int64_t timeout_ms, int64_t poll_ms = 10) {
  const auto deadline = std::chrono::steady_clock::now() + Ms(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Ms(poll_ms));
  }
  return true;
}

// A TCP port on 127.0.0.1 that nobody listens on right now.
inline uint16_t UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Runs `razar ARGS...` in this process (RazarMain); returns its exit code.
inline int CallRazar(std::vector<std::string> args, std::string* out_text = nullptr,
                     std::string* err_text = nullptr) {
  args.insert(args.begin(), "razar");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::ostringstream out, err;
  const int rc = RazarMain(static_cast<int>(args.size()), argv.data(), out, err);
  if (out_text != nullptr) *out_text = out.str();
  if (err_text != nullptr) *err_text = err.str();
  return rc;
}

// A ChildProcessTest whose configs tag every component; TearDown fails
// the test for any tagged process still running (and kills it).
// fork + execve of `argv` with stdout/stderr to files, in its own process
// group, signal mask cleared. Everything the child touches is prepared
// before fork (the test process has threads). `cwd` empty: the test's own.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path,
                   const std::string& err_path, const std::string& cwd = "") {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  sigset_t none;
  sigemptyset(&none);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), environ);
    ::_exit(127);
  }
  ::close(in_fd);
  ::close(out_fd);
  ::close(err_fd);
  return pid;
}

// GET http://127.0.0.1:<port><path>: status and body, or nullopt when
// nothing answered (1 s to connect, 3 s to read).
struct HttpReply {
  int status = 0;
  std::string body;
};
inline std::optional<HttpReply> HttpGet(uint16_t port, const std::string& path) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(1, 0);
  cli.set_read_timeout(3, 0);
  httplib::Result r = cli.Get(path);
  if (!r) return std::nullopt;
  return HttpReply{r->status, r->body};
}

class TaggedComponentTest : public ChildProcessTest {
 protected:
  void SetUp() override {
    ChildProcessTest::SetUp();
    tag_ = std::string(kTagVar) + "=" + dir_;
  }

  // Probes and the like may still be finishing: give them a moment.
  void KillTaggedLeftovers() {
    std::vector<pid_t> left;
    WaitUntil(
        [&] {
          left = ProcessesWithEnv(tag_);
          return left.empty();
        },
        1'500);
    for (pid_t pid : left) {
      ADD_FAILURE() << "component process " << pid << " left running; killing it";
      ::kill(pid, SIGKILL);
    }
    for (pid_t pid : left) {
      auto st = ReadProcStat(pid);
      if (st.ok() && st->ppid == getpid()) ::waitpid(pid, nullptr, 0);
    }
  }

  std::string Base() const { return dir_ + "/base"; }
  RuntimePaths Paths() const {
    RuntimePaths p;
    p.base = Base();
    return p;
  }

  // Writes {"components": [...]} (each tagged) to <dir>/<file>.
  std::string WriteConfig(json components, const std::string& file = "boot.json") {
    for (json& c : components) c["env"][kTagVar] = dir_;
    const std::string path = Path(file);
    std::ofstream(path) << json{{"components", components}}.dump(2);
    return path;
  }

  std::string tag_;
};

}  // namespace razar::orchestrator::testing
