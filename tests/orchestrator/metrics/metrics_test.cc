// Metrics: values land in the right series, and the exposition passes
// `promtool check metrics`.
#include "orchestrator/metrics/metrics.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/test_util.h"

namespace razar::orchestrator {
namespace {

using storage::testing::TempDir;

constexpr const char* kPromtool = "/usr/bin/promtool";

// "name{labels}" -> value, for every sample line of the exposition.
std::map<std::string, double> ParseSamples(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) {
      ADD_FAILURE() << "malformed sample line: " << line;
      continue;
    }
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

// Runs `promtool check metrics` with `text` on stdin (fork/exec, no shell).
PromtoolResult RunPromtool(const std::string& text, const std::string& scratch_dir) {
  PromtoolResult result;
  const std::string out_path = scratch_dir + "/promtool.out";
  // Everything the child needs is opened before fork: only async-signal-safe
  // calls between fork and exec.
  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int in_pipe[2];
  if (out_fd < 0 || ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "cannot set up promtool's stdin/stdout";
    return result;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork failed";
    return result;
  }
  if (pid == 0) {
    ::dup2(in_pipe[0], STDIN_FILENO);  // dup2 clears O_CLOEXEC on the copies
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    ::execl(kPromtool, kPromtool, "check", "metrics", static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(out_fd);
  ::close(in_pipe[0]);
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(in_pipe[1], text.data() + written, text.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  ::close(in_pipe[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream out(out_path);
  std::stringstream ss;
  ss << out.rdbuf();
  result.output = ss.str();
  return result;
}

ComponentSpec Spec(const std::string& name, storage::Layer layer, ProbeKind kind) {
  ComponentSpec spec;
  spec.name = name;
  spec.command = {name};
  spec.layer = layer;
  spec.probe.kind = kind;
  return spec;
}

void Populate(Metrics& m) {
  m.RegisterComponent(Spec("db", storage::Layer::root, ProbeKind::kTcp));
  m.RegisterComponent(Spec("api", storage::Layer::heart, ProbeKind::kHttp));
  m.RegisterComponent(Spec("ui", storage::Layer::crown, ProbeKind::kNone));
  m.SetComponentUp("db", storage::Layer::root, true);
  m.IncrementRestarts("api");
  m.IncrementRestarts("api");
  m.ObserveProbe("db", ProbeKind::kTcp, 0.002, true);
  m.ObserveProbe("api", ProbeKind::kHttp, 0.3, false);
  m.ObserveProbe("api", ProbeKind::kHttp, 1.5, true);
  m.SetQuarantinedCount(1);
  m.AddSpineAppends(5);
  m.AddSpineAppends(7);
  m.ObserveSpineFsync(0.0004);
  m.SetBootStage(2);
}

TEST(MetricsTest, ValuesLandInTheirSeries) {
  Metrics m;
  Populate(m);
  auto s = ParseSamples(m.Serialize());
  EXPECT_EQ(s.at(R"(razar_component_up{component="db",layer="root"})"), 1);
  EXPECT_EQ(s.at(R"(razar_component_up{component="api",layer="heart"})"), 0);
  EXPECT_EQ(s.at(R"(razar_component_up{component="ui",layer="crown"})"), 0);
  EXPECT_EQ(s.at(R"(razar_component_restarts_total{component="api"})"), 2);
  EXPECT_EQ(s.at(R"(razar_component_restarts_total{component="db"})"), 0);
  EXPECT_EQ(s.at(R"(razar_probe_failures_total{component="api",kind="http"})"), 1);
  EXPECT_EQ(s.at(R"(razar_probe_failures_total{component="db",kind="tcp"})"), 0);
  EXPECT_EQ(s.at(R"(razar_probe_duration_seconds_count{component="api",kind="http"})"), 2);
  EXPECT_DOUBLE_EQ(s.at(R"(razar_probe_duration_seconds_sum{component="api",kind="http"})"), 1.8);
  EXPECT_EQ(s.at(R"(razar_probe_duration_seconds_bucket{component="api",kind="http",le="0.5"})"),
            1);
  EXPECT_EQ(s.at(R"(razar_probe_duration_seconds_bucket{component="api",kind="http",le="+Inf"})"),
            2);
  EXPECT_EQ(s.count(R"(razar_probe_failures_total{component="ui",kind="none"})"), 0u)
      << "no probe series for a component without a probe";
  EXPECT_EQ(s.at("razar_quarantined_components"), 1);
  EXPECT_EQ(s.at("razar_spine_appends_total"), 12);
  EXPECT_EQ(s.at("razar_spine_fsync_seconds_count"), 1);
  EXPECT_EQ(s.at(R"(razar_spine_fsync_seconds_bucket{le="0.0005"})"), 1);
  EXPECT_EQ(s.at(R"(razar_spine_fsync_seconds_bucket{le="0.00025"})"), 0);
  EXPECT_EQ(s.at("razar_boot_stage"), 2);

  m.SetComponentUp("db", storage::Layer::root, false);
  m.SetQuarantinedCount(0);
  s = ParseSamples(m.Serialize());
  EXPECT_EQ(s.at(R"(razar_component_up{component="db",layer="root"})"), 0);
  EXPECT_EQ(s.at("razar_quarantined_components"), 0);
}

TEST(MetricsTest, ExpositionHasHelpAndTypeLines) {
  Metrics m;
  Populate(m);
  const std::string text = m.Serialize();
  for (const char* line :
       {"# TYPE razar_component_up gauge", "# TYPE razar_component_restarts_total counter",
        "# TYPE razar_probe_duration_seconds histogram",
        "# TYPE razar_probe_failures_total counter", "# TYPE razar_quarantined_components gauge",
        "# TYPE razar_spine_appends_total counter", "# TYPE razar_spine_fsync_seconds histogram",
        "# TYPE razar_boot_stage gauge", "# HELP razar_component_up "}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\n" << text;
  }
  EXPECT_STREQ(Metrics::kContentType, "text/plain; version=0.0.4");
}

TEST(MetricsTest, PassesPromtoolCheckMetrics) {
  if (::access(kPromtool, X_OK) != 0) {
    GTEST_SKIP() << kPromtool << " not installed (Debian package `prometheus`)";
  }
  TempDir dir("razar-metrics");
  Metrics m;
  Populate(m);
  // A label value that needs escaping must still be valid exposition.
  m.IncrementRestarts("odd\"name\\with\nnewline");
  const std::string text = m.Serialize();
  PromtoolResult r = RunPromtool(text, dir.path());
  EXPECT_EQ(r.exit_code, 0) << "promtool said:\n" << r.output << "\ninput:\n" << text;
  EXPECT_EQ(r.output.find("error"), std::string::npos) << r.output;

  PromtoolResult empty = RunPromtool(Metrics().Serialize(), dir.path());
  EXPECT_EQ(empty.exit_code, 0) << empty.output;
}

TEST(MetricsTest, PromtoolRejectsBrokenExposition) {
  // Guards the check above: if promtool accepted anything, the test would prove nothing.
  if (::access(kPromtool, X_OK) != 0) GTEST_SKIP() << kPromtool << " not installed";
  TempDir dir("razar-metrics");
  PromtoolResult r = RunPromtool("# TYPE x counter\nx{ 1\n", dir.path());
  EXPECT_NE(r.exit_code, 0) << r.output;
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Metrics m;
  constexpr int kThreads = 4, kIncrements = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < kIncrements; ++i) {
        m.IncrementRestarts("db");
        m.ObserveProbe("db", ProbeKind::kCommand, 0.01, i % 2 == 0);
        m.AddSpineAppends(1);
      }
    });
  }
  std::thread reader([&m] {
    for (int i = 0; i < 50; ++i) EXPECT_FALSE(m.Serialize().empty());
  });
  for (auto& t : threads) t.join();
  reader.join();
  auto s = ParseSamples(m.Serialize());
  EXPECT_EQ(s.at(R"(razar_component_restarts_total{component="db"})"), kThreads * kIncrements);
  EXPECT_EQ(s.at(R"(razar_probe_failures_total{component="db",kind="command"})"),
            kThreads * kIncrements / 2);
  EXPECT_EQ(s.at(R"(razar_probe_duration_seconds_count{component="db",kind="command"})"),
            kThreads * kIncrements);
  EXPECT_EQ(s.at("razar_spine_appends_total"), kThreads * kIncrements);
}

}  // namespace
}  // namespace razar::orchestrator
