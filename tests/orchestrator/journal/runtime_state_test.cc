// Runtime state file (atomic save, defensive load), the lifecycle log, and
// the timestamp helpers.
#include "orchestrator/journal/lifecycle_log.h"
#include "orchestrator/journal/runtime_state.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/fault_injection_env.h"
#include "storage/test_util.h"

namespace razar::orchestrator {
namespace {

using storage::testing::TempDir;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

RuntimeState SampleState() {
  RuntimeState s;
  s.last_healthy_component = "db";
  s.boot_started_unix_ms = 1'714'564'800'123;  // 2024-05-01T12:00:00.123Z
  s.razar_pid = 4242;
  ComponentRuntime& db = s.Upsert("db");
  db.status = ComponentStatus::kHealthy;
  db.attempts = 2;
  db.pid = 31337;
  db.pid_start_time = 987654321;
  db.updated_unix_ms = 1'714'564'801'250;
  ComponentRuntime& api = s.Upsert("api");
  api.status = ComponentStatus::kQuarantined;
  api.attempts = 4;
  api.last_error = "exit status 1: \"bad\"\nsecond line";
  return s;
}

void ExpectSameState(const RuntimeState& a, const RuntimeState& b) {
  EXPECT_EQ(a.last_healthy_component, b.last_healthy_component);
  EXPECT_EQ(a.boot_started_unix_ms, b.boot_started_unix_ms);
  EXPECT_EQ(a.razar_pid, b.razar_pid);
  ASSERT_EQ(a.components.size(), b.components.size());
  for (size_t i = 0; i < a.components.size(); ++i) {
    const ComponentRuntime& x = a.components[i];
    const ComponentRuntime& y = b.components[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.attempts, y.attempts);
    EXPECT_EQ(x.pid, y.pid);
    EXPECT_EQ(x.pid_start_time, y.pid_start_time);
    EXPECT_EQ(x.last_error, y.last_error);
    EXPECT_EQ(x.updated_unix_ms, y.updated_unix_ms);
  }
}

class RuntimeStateTest : public ::testing::Test {
 protected:
  RuntimeStateTest() : dir_("razar-state"), paths_{dir_.path()} {}
  TempDir dir_;
  RuntimePaths paths_;
};

TEST_F(RuntimeStateTest, SaveThenLoadRoundTrips) {
  RuntimeState state = SampleState();
  ASSERT_TRUE(SaveRuntimeState(paths_, state).ok());
  auto loaded = LoadRuntimeState(paths_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ExpectSameState(state, *loaded);
  EXPECT_FALSE(std::ifstream(paths_.state_file() + ".tmp").good()) << "temp file left behind";

  nlohmann::json j = nlohmann::json::parse(ReadText(paths_.state_file()));
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["boot_started"], "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(j["components"][0]["status"], "healthy");
  EXPECT_EQ(j["components"][1]["status"], "quarantined");
  EXPECT_EQ(j["components"][0]["pid_start_time"], 987654321);
}

TEST_F(RuntimeStateTest, SaveReplacesThePreviousState) {
  RuntimeState state = SampleState();
  ASSERT_TRUE(SaveRuntimeState(paths_, state).ok());
  state.Find("db")->status = ComponentStatus::kStopped;
  state.last_healthy_component = "";
  ASSERT_TRUE(SaveRuntimeState(paths_, state).ok());
  auto loaded = LoadRuntimeState(paths_);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->Find("db")->status, ComponentStatus::kStopped);
  EXPECT_EQ(loaded->last_healthy_component, "");
}

TEST_F(RuntimeStateTest, FailedSyncLeavesThePreviousStateIntact) {
  RuntimeState old_state = SampleState();
  ASSERT_TRUE(SaveRuntimeState(paths_, old_state).ok());
  const std::string before = ReadText(paths_.state_file());

  storage::FaultInjectionEnv env;
  env.FailOp(storage::FaultInjectionEnv::Op::kSync, 1, EIO, /*persistent=*/false);
  RuntimeState new_state = old_state;
  new_state.last_healthy_component = "api";
  Status s = SaveRuntimeState(paths_, new_state, &env);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("razar_state.json"), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadText(paths_.state_file()), before);
  EXPECT_FALSE(std::ifstream(paths_.state_file() + ".tmp").good()) << "temp file left behind";

  // Unsynced writes would vanish in a power loss; the rename never happened,
  // so the old state is what survives.
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  auto loaded = LoadRuntimeState(paths_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->last_healthy_component, "db");
}

TEST_F(RuntimeStateTest, MissingFileIsNotFound) {
  auto r = LoadRuntimeState(paths_);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
}

TEST_F(RuntimeStateTest, CorruptFilesAreCorruptionNeverACrash) {
  ASSERT_EQ(::mkdir(paths_.logs_dir().c_str(), 0755), 0);
  static const char kBinary[] = "\x00\xff\xfe garbage";
  const std::string good = DumpJson(RuntimeStateToJson(SampleState()));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not valid JSON"},
      {"{\"components\": [", "not valid JSON"},
      {good.substr(0, good.size() / 2), "not valid JSON"},
      {std::string(kBinary, sizeof(kBinary) - 1), "not valid JSON"},
      {"[1,2,3]", "not a JSON object"},
      {R"({"version": 2})", "unsupported state file version 2"},
      {R"({"version": "1"})", R"(key "version")"},
      {R"({"components": {}})", R"(key "components")"},
      {R"({"components": [7]})", R"(key "components[0]")"},
      {R"({"components": [{"name": "db", "status": "zombie"}]})", R"(unknown status "zombie")"},
      {R"({"components": [{"name": "db", "pid": "12"}]})", R"(key "components[0].pid")"},
      {R"({"components": [{"name": "db", "pid": -5}]})", "negative pid"},
      {R"({"components": [{"name": "db", "attempts": 99999999999}]})", "out of range"},
      {R"({"components": [{"status": "healthy"}]})", "missing component name"},
      {R"({"components": [{"name": "a"}, {"name": "a"}]})", "duplicate component"},
      {R"({"boot_started": "yesterday"})", R"(key "boot_started")"},
      {R"({"components": [{"name": "a", "updated": "2024-13-01T00:00:00Z"}]})", "ISO-8601"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    WriteText(paths_.state_file(), text);
    auto r = LoadRuntimeState(paths_);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
    EXPECT_NE(r.status().message().find(paths_.state_file()), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find(expected), std::string::npos) << r.status().message();
  }
}

TEST_F(RuntimeStateTest, UnknownKeysAreIgnoredAndMissingOnesDefault) {
  ASSERT_EQ(::mkdir(paths_.logs_dir().c_str(), 0755), 0);
  WriteText(paths_.state_file(),
            R"({"version": 1, "future_field": {"x": 1},
                "components": [{"name": "db", "status": "blocked", "new": true}]})");
  auto r = LoadRuntimeState(paths_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->components.size(), 1u);
  EXPECT_EQ(r->components[0].status, ComponentStatus::kBlocked);
  EXPECT_EQ(r->components[0].pid, 0);
  EXPECT_EQ(r->razar_pid, 0);
}

TEST(ComponentStatusTest, NamesRoundTrip) {
  const std::vector<std::string> names = {"pending",     "starting", "healthy", "failed",
                                          "quarantined", "stopped",  "blocked"};
  for (const std::string& name : names) {
    auto s = ParseComponentStatus(name);
    ASSERT_TRUE(s.has_value()) << name;
    EXPECT_EQ(ComponentStatusName(*s), name);
  }
  EXPECT_FALSE(ParseComponentStatus("Healthy").has_value());
}

TEST(TimestampTest, FormatsAndParsesUtc) {
  EXPECT_EQ(FormatUtcIso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatUtcIso8601(1'714'564'800'123), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(FormatUtcIso8601(1'714'564'800'123, false), "2024-05-01T12:00:00Z");
  EXPECT_EQ(ParseUtcIso8601("2024-05-01T12:00:00.123Z"), 1'714'564'800'123);
  EXPECT_EQ(ParseUtcIso8601("2024-05-01T12:00:00Z"), 1'714'564'800'000);
  EXPECT_FALSE(ParseUtcIso8601("2024-05-01 12:00:00Z").has_value());
  EXPECT_FALSE(ParseUtcIso8601("2024-05-01T12:00:00.12xZ").has_value());
  EXPECT_FALSE(ParseUtcIso8601("2024-05-01T12:00:00+01").has_value());
  EXPECT_FALSE(ParseUtcIso8601("").has_value());
}

// ---------------------------------------------------------------------------

TEST(LifecycleLogTest, EveryLineIsAJsonObjectWithTheEventFields) {
  TempDir dir("razar-lifecycle");
  RuntimePaths paths{dir.path()};
  auto log = LifecycleLog::Open(paths.lifecycle_log());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE((*log)->Append("launch", "db", "starting", "pid 42").ok());
  ASSERT_TRUE((*log)->Append("probe", "db", "healthy", {{"latency_ms", 3}}).ok());
  ASSERT_TRUE((*log)->Append("boot", "", "started").ok());
  ASSERT_TRUE((*log)->Append("exit", "db", "failed", std::string("bad utf8 \xff\xfe")).ok());

  std::istringstream in(ReadText(paths.lifecycle_log()));
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    lines.push_back(j);
  }
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["event"], "launch");
  EXPECT_EQ(lines[0]["component"], "db");
  EXPECT_EQ(lines[0]["status"], "starting");
  EXPECT_EQ(lines[0]["details"], "pid 42");
  const std::string ts = lines[0]["timestamp"];
  EXPECT_TRUE(ParseUtcIso8601(ts).has_value()) << ts;
  EXPECT_EQ(ts.size(), 24u) << "milliseconds: " << ts;
  EXPECT_EQ(lines[1]["details"]["latency_ms"], 3);
  EXPECT_EQ(lines[2]["details"], "");
  EXPECT_EQ(lines[3]["status"], "failed");
}

TEST(LifecycleLogTest, ConcurrentAppendsNeverInterleave) {
  TempDir dir("razar-lifecycle");
  const std::string path = dir.Sub("logs/razar.log");
  auto log = LifecycleLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  // A second writer on the same file stands in for another process.
  auto other = LifecycleLog::Open(path);
  ASSERT_TRUE(other.ok());
  constexpr int kThreads = 4, kLines = 500;
  const std::string payload(300, 'x');  // long lines make interleaving visible
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    LifecycleLog* target = t % 2 == 0 ? log->get() : other->get();
    threads.emplace_back([target, t, &payload] {
      for (int i = 0; i < kLines; ++i) {
        EXPECT_TRUE(target->Append("probe", "c" + std::to_string(t), "healthy", payload).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::istringstream in(ReadText(path));
  int count = 0;
  for (std::string line; std::getline(in, line); ++count) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "torn line " << count;
    ASSERT_EQ(j["details"], payload);
  }
  EXPECT_EQ(count, kThreads * kLines);
}

TEST(LifecycleLogTest, OpenFailsCleanlyOnAnUnwritablePath) {
  auto log = LifecycleLog::Open("/proc/razar-cannot-exist/razar.log");
  EXPECT_FALSE(log.ok());
}

}  // namespace
}  // namespace razar::orchestrator
