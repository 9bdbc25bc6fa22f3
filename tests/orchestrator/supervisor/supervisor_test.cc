// Supervisor, in process, with real child processes: /bin/sh scripts,
// sleep, python3, probes against servers inside the test. Everything is
// checked through what the Supervisor leaves behind — logs/razar.log,
// logs/razar_state.json, quarantine/, docs/quarantine_log.md, metrics —
// and through the processes themselves.
//
// Every component carries RAZAR_BOOTTEST_TAG=<test dir> in its environment
// (so do its probes and grandchildren), which is how TearDown finds a
// process a test left running: it kills it and fails the test.

#include "orchestrator/config/names.h"
#include "orchestrator/supervisor/supervisor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "orchestrator/boot_test_util.h"
#include "orchestrator/child_test_util.h"
#include "orchestrator/base/clock.h"
#include "orchestrator/config/config.h"
#include "orchestrator/metrics/metrics.h"
#include "orchestrator/recovery/quarantine.h"
#include "orchestrator/cli/razar_cli.h"
#include "orchestrator/journal/runtime_state.h"

namespace razar::orchestrator {
namespace {

using namespace testing;  // boot_test_util.h: Argv, ReadEvents, WaitUntil, ...

// A component run by an explicit shell (RAZAR itself never uses one).
json Shell(const std::string& name, const std::string& script) {
  return {{"name", name},
          {"command", Argv({"/bin/sh", "-c", script})},
          {"stop_timeout_ms", 2000},
          {"start_timeout_ms", 10000}};
}

int64_t MtimeNs(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A handover hook that records its calls; `fix` runs before it answers.
class RecordingHook : public HandoverHook {
 public:
  RecordingHook(bool answer, std::function<void()> fix = nullptr)
      : answer_(answer), fix_(std::move(fix)) {}
  Result<bool> Handover(const ComponentSpec& spec, const FailureContext& context) override {
    std::lock_guard<std::mutex> l(mu_);
    ++calls_;
    spec_name_ = spec.name;
    context_ = context;
    if (fix_) fix_();
    return answer_;
  }
  int calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }
  FailureContext context() {
    std::lock_guard<std::mutex> l(mu_);
    return context_;
  }
  std::string spec_name() {
    std::lock_guard<std::mutex> l(mu_);
    return spec_name_;
  }

 private:
  const bool answer_;
  std::function<void()> fix_;
  std::mutex mu_;
  int calls_ = 0;
  std::string spec_name_;
  FailureContext context_;
};

class BootTest : public TaggedComponentTest {
 protected:
  void TearDown() override {
    KillTaggedLeftovers();
    testing::ChildProcessTest::TearDown();
  }

  std::unique_ptr<Supervisor> NewSupervisor(const std::string& config_path,
                                            SupervisorOptions o = {}) {
    Result<BootConfig> cfg = LoadBootConfig(config_path);
    EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
    if (!cfg.ok()) return nullptr;
    o.config = *cfg;
    o.paths = Paths();
    o.startup_probe_interval_ms = 50;
    Result<std::unique_ptr<Supervisor>> s = Supervisor::Create(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  const ComponentRuntime* Find(const RuntimeState& st, const std::string& name) {
    const ComponentRuntime* c = st.Find(name);
    EXPECT_NE(c, nullptr) << name << " missing from the state";
    return c;
  }

  ComponentStatus StatusOf(const Supervisor& s, const std::string& name) {
    const RuntimeState st = s.State();
    const ComponentRuntime* c = st.Find(name);
    return c == nullptr ? ComponentStatus::kPending : c->status;
  }
};

#define EXPECT_STATUS(sup, name, want)                      \
  EXPECT_STREQ(ComponentStatusName(StatusOf(*(sup), name)), \
               ComponentStatusName(ComponentStatus::want))  \
      << "component " << name << "; last error: "           \
      << ((sup)->State().Find(name) ? (sup)->State().Find(name)->last_error : "")

// --- Order and parallelism -------------------------------------------------

TEST_F(BootTest, StartsStagesInPriorityOrderAndOneStageInParallel) {
  // b and c each pass their probe only once the *other* has started: with
  // retries 0 that is possible only if they are launched together.
  json a = Shell("a", "echo a >> order; touch a.started; exec sleep 60");
  a["priority"] = 0;
  a["probe"] = {{"command", Argv({"test", "-f", "a.started"})}, {"period_ms", 50}};
  json b = Shell("b", "echo b >> order; touch b.started; exec sleep 60");
  b["priority"] = 1;
  b["retries"] = 0;
  b["start_timeout_ms"] = 3000;
  b["probe"] = {{"command", Argv({"test", "-f", "c.started"})}, {"period_ms", 50}};
  json c = Shell("c", "echo c >> order; touch c.started; exec sleep 60");
  c["priority"] = 1;
  c["retries"] = 0;
  c["start_timeout_ms"] = 3000;
  c["probe"] = {{"command", Argv({"test", "-f", "b.started"})}, {"period_ms", 50}};
  auto sup = NewSupervisor(WriteConfig({a, b, c}));
  ASSERT_NE(sup, nullptr);

  ASSERT_TRUE(sup->Boot().ok());
  EXPECT_TRUE(sup->Healthy());
  EXPECT_STATUS(sup, "a", kHealthy);
  EXPECT_STATUS(sup, "b", kHealthy);
  EXPECT_STATUS(sup, "c", kHealthy);

  const std::vector<std::string> order = Lines(testing::ReadFile(Path("order")));
  ASSERT_EQ(order.size(), 3u) << testing::ReadFile(Path("order"));
  EXPECT_EQ(order[0], "a");
  const auto ev = ReadEvents(Base());
  ASSERT_EQ(Count(ev, "healthy", "a"), 1u);
  const size_t a_healthy = Select(ev, "healthy", "a")[0].line;
  for (const char* n : {"b", "c"}) {
    ASSERT_EQ(Count(ev, "launched", n), 1u) << n;
    EXPECT_GT(Select(ev, "launched", n)[0].line, a_healthy)
        << n << " launched before a was healthy";
  }
  sup->StopAll();
}

TEST_F(BootTest, WaitsForDependencyToBeHealthyBeforeStartingDependent) {
  // Same priority: only depends_on holds app back.
  json db = Shell("db", "sleep 0.4; touch db.ready; exec sleep 60");
  db["priority"] = 0;
  db["probe"] = {{"command", Argv({"test", "-f", "db.ready"})}, {"period_ms", 50}};
  json app = Shell("app", "touch app.started; exec sleep 60");
  app["priority"] = 0;
  app["depends_on"] = Argv({"db"});
  app["probe"] = {{"command", Argv({"test", "-f", "app.started"})}, {"period_ms", 50}};
  auto sup = NewSupervisor(WriteConfig({db, app}));
  ASSERT_NE(sup, nullptr);

  ASSERT_TRUE(sup->Boot().ok());
  EXPECT_STATUS(sup, "db", kHealthy);
  EXPECT_STATUS(sup, "app", kHealthy);

  ASSERT_GT(MtimeNs(Path("app.started")), 0);
  EXPECT_GE(MtimeNs(Path("app.started")), MtimeNs(Path("db.ready")));
  const auto ev = ReadEvents(Base());
  ASSERT_EQ(Count(ev, "healthy", "db"), 1u);
  ASSERT_EQ(Count(ev, "launched", "app"), 1u);
  const Event db_healthy = Select(ev, "healthy", "db")[0];
  const Event app_launched = Select(ev, "launched", "app")[0];
  EXPECT_GT(app_launched.line, db_healthy.line);
  EXPECT_GE(app_launched.unix_ms, db_healthy.unix_ms);
  const Event boot = Select(ev, "boot_started", "")[0];
  EXPECT_GE(app_launched.unix_ms - boot.unix_ms, 350) << "app did not wait for db's 400 ms";
  sup->StopAll();
}

// --- Probe kinds ------------------------------------------------------------

TEST_F(BootTest, HttpProbeIsHealthyOn200AndNeverOn500) {
  httplib::Server server;
  server.Get("/ok", [](const httplib::Request&, httplib::Response& r) {
    r.set_content("fine", "text/plain");
  });
  server.Get("/bad", [](const httplib::Request&, httplib::Response& r) {
    r.status = 500;
    r.set_content("broken", "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { server.listen_after_bind(); });
  struct Joiner {
    httplib::Server& s;
    std::thread& t;
    ~Joiner() {
      s.stop();
      t.join();
    }
  } joiner{server, serving};
  ASSERT_TRUE(WaitUntil([&] { return server.is_running(); }, 5'000));
  const std::string url = "http://127.0.0.1:" + std::to_string(port);

  json ok = Shell("web_ok", "exec sleep 60");
  ok["probe"] = {{"http", url + "/ok"}, {"period_ms", 50}, {"timeout_ms", 500}};
  json bad = Shell("web_bad", "exec sleep 60");
  bad["priority"] = 0;
  ok["priority"] = 0;
  bad["retries"] = 0;
  bad["start_timeout_ms"] = 1500;  // room for a probe on a loaded machine
  bad["probe"] = {{"http", url + "/bad"}, {"period_ms", 50}, {"timeout_ms", 500}};
  auto sup = NewSupervisor(WriteConfig({ok, bad}));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());

  EXPECT_STATUS(sup, "web_ok", kHealthy);
  EXPECT_STATUS(sup, "web_bad", kQuarantined);
  EXPECT_NE(sup->State().Find("web_bad")->last_error.find("500"), std::string::npos)
      << sup->State().Find("web_bad")->last_error;
  sup->StopAll();
}

TEST_F(BootTest, TcpProbeIsHealthyOnceTheComponentListensAndNeverOnAClosedPort) {
  const uint16_t open_port = UnusedPort();
  const uint16_t closed_port = UnusedPort();
  ASSERT_NE(open_port, 0);
  ASSERT_NE(closed_port, 0);
  ASSERT_NE(open_port, closed_port);
  json server = {{"name", "server"},
                 {"command", Argv({"python3", "-m", "http.server", std::to_string(open_port),
                                   "--bind", "127.0.0.1"})},
                 {"priority", 0},
                 {"stop_timeout_ms", 2000},
                 {"start_timeout_ms", 10000},
                 {"probe", {{"tcp", "127.0.0.1:" + std::to_string(open_port)}, {"period_ms", 50}}}};
  json closed = Shell("closed", "exec sleep 60");
  closed["priority"] = 0;
  closed["retries"] = 0;
  closed["start_timeout_ms"] = 400;
  closed["probe"] = {{"tcp", "127.0.0.1:" + std::to_string(closed_port)}, {"period_ms", 50}};
  auto sup = NewSupervisor(WriteConfig({server, closed}));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());

  EXPECT_STATUS(sup, "server", kHealthy);
  EXPECT_STATUS(sup, "closed", kQuarantined);
  EXPECT_NE(sup->State().Find("closed")->last_error.find("start timeout"), std::string::npos)
      << sup->State().Find("closed")->last_error;
  sup->StopAll();
}

TEST_F(BootTest, CommandProbeIsHealthyOnExitZeroOnly) {
  json yes = Shell("yes", "exec sleep 60");
  yes["priority"] = 0;
  yes["probe"] = {{"command", Argv({"true"})}, {"period_ms", 50}};
  json no = Shell("no", "exec sleep 60");
  no["priority"] = 0;
  no["retries"] = 0;
  no["start_timeout_ms"] = 1500;  // room for several probes on a loaded machine
  no["probe"] = {{"command", Argv({"/bin/sh", "-c", "echo not yet; exit 4"})}, {"period_ms", 50}};
  auto sup = NewSupervisor(WriteConfig({yes, no}));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());

  EXPECT_STATUS(sup, "yes", kHealthy);
  EXPECT_STATUS(sup, "no", kQuarantined);
  const std::string err = sup->State().Find("no")->last_error;
  EXPECT_NE(err.find("start timeout"), std::string::npos) << err;
  EXPECT_NE(err.find("not yet"), std::string::npos) << "probe output missing: " << err;
  sup->StopAll();
}

constexpr char kPyReady[] =
    "import os, socket, time\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
    "s.connect(os.environ['NOTIFY_SOCKET'])\n"
    "s.send(b'READY=1')\n"
    "time.sleep(60)\n";

TEST_F(BootTest, NotifyProbeIsHealthyOnReadyDatagramOnly) {
  json py = {{"name", "py_ready"},
             {"command", Argv({"python3", "-c", kPyReady})},
             {"priority", 0},
             {"stop_timeout_ms", 2000},
             {"start_timeout_ms", 10000},
             {"probe", {{"notify", true}, {"period_ms", 50}, {"timeout_ms", 200}}}};
  json silent = Shell("silent", "exec sleep 60");
  silent["priority"] = 0;
  silent["retries"] = 0;
  silent["start_timeout_ms"] = 500;
  silent["probe"] = {{"notify", true}, {"period_ms", 50}, {"timeout_ms", 200}};
  json components = {py, silent};
  const bool have_systemd_notify = ::access("/usr/bin/systemd-notify", X_OK) == 0;
  if (have_systemd_notify) {
    json sd = Shell("sd_ready", "systemd-notify --ready; exec sleep 60");
    sd["priority"] = 0;
    sd["probe"] = {{"notify", true}, {"period_ms", 50}, {"timeout_ms", 200}};
    components.push_back(sd);
  }
  auto sup = NewSupervisor(WriteConfig(components));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());

  EXPECT_STATUS(sup, "py_ready", kHealthy);
  if (have_systemd_notify) {
    EXPECT_STATUS(sup, "sd_ready", kHealthy);
  }
  EXPECT_STATUS(sup, "silent", kQuarantined);
  EXPECT_NE(sup->State().Find("silent")->last_error.find("start timeout"), std::string::npos);
  sup->StopAll();
}

// Regression (boot.cc LaunchOnce): a relaunch binds the new notify socket at
// the same path and then destroys the previous NotifySocket, whose
// destructor unlinks that path — the new socket file is gone, the second
// incarnation's READY=1 has nowhere to go.
TEST_F(BootTest, NotifyComponentBecomesHealthyOnRetry) {
  json c = Shell("notify_retry",
                 std::string("if [ ! -f first.done ]; then touch first.done; exit 1; fi\n"
                             "exec python3 -c \"") +
                     kPyReady + "\"");
  c["retries"] = 1;
  c["backoff"] = {{"initial_ms", 50}, {"jitter", false}};
  c["start_timeout_ms"] = 3000;
  c["probe"] = {{"notify", true}, {"period_ms", 50}, {"timeout_ms", 200}};
  auto sup = NewSupervisor(WriteConfig({c}));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());

  EXPECT_STATUS(sup, "notify_retry", kHealthy);
  EXPECT_EQ(Count(ReadEvents(Base()), "launched", "notify_retry"), 2u);
  sup->StopAll();
}

// --- Start timeout and backoff ---------------------------------------------

TEST_F(BootTest, StartTimeoutQuarantinesWithinBoundedTime) {
  json c = Shell("stuck", "exec sleep 60");
  c["retries"] = 0;
  c["start_timeout_ms"] = 300;
  c["probe"] = {{"command", Argv({"false"})}, {"period_ms", 50}};
  auto sup = NewSupervisor(WriteConfig({c}));
  ASSERT_NE(sup, nullptr);

  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(sup->Boot().ok());
  const int64_t took_ms =
      std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0).count();

  EXPECT_STATUS(sup, "stuck", kQuarantined);
  const std::string err = sup->State().Find("stuck")->last_error;
  EXPECT_NE(err.find("start timeout (300 ms)"), std::string::npos) << err;
  EXPECT_GE(took_ms, 290);
  EXPECT_LT(took_ms, 3000);
  QuarantineStore store(Paths());
  Result<QuarantineRecord> rec = store.Get("stuck");
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_NE(rec->last_error.find("start timeout"), std::string::npos) << rec->last_error;
  EXPECT_EQ(rec->attempts, 1u);
  sup->StopAll();
}

TEST_F(BootTest, BackoffDelaysDoubleAndJitteredDelaysStayUnderTheCeiling) {
  // Both fail at once (exit, and a probe that never passes) and retry 3 times.
  json steady = {{"name", "steady"},
                 {"command", Argv({"false"})},
                 {"priority", 0},
                 {"retries", 3},
                 {"backoff", {{"initial_ms", 150}, {"max_ms", 10000}, {"jitter", false}}},
                 {"probe", {{"command", Argv({"false"})}, {"period_ms", 50}}}};
  json jittery = steady;
  jittery["name"] = "jittery";
  jittery["backoff"] = {{"initial_ms", 100}, {"max_ms", 10000}, {"jitter", true}};
  auto sup = NewSupervisor(WriteConfig({steady, jittery}));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());
  EXPECT_STATUS(sup, "steady", kQuarantined);
  EXPECT_STATUS(sup, "jittery", kQuarantined);

  const auto ev = ReadEvents(Base());
  struct Want {
    const char* name;
    uint64_t initial_ms;
    bool jitter;
  };
  for (const Want& w : {Want{"steady", 150, false}, Want{"jittery", 100, true}}) {
    SCOPED_TRACE(w.name);
    const auto launches = Select(ev, "launched", w.name);
    const auto retries = Select(ev, "retry_scheduled", w.name);
    ASSERT_EQ(launches.size(), 4u);
    ASSERT_EQ(retries.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      const uint64_t ceiling = w.initial_ms << i;
      const uint64_t delay = retries[i].details.value("delay_ms", uint64_t{999999});
      EXPECT_EQ(retries[i].details.value("retry", 0u), i + 1);
      if (w.jitter) {
        EXPECT_LE(delay, ceiling) << "retry " << i + 1;
      } else {
        EXPECT_EQ(delay, ceiling) << "retry " << i + 1;
      }
      // Timestamps are whole milliseconds: allow 1 ms of truncation.
      const int64_t gap = launches[i + 1].unix_ms - launches[i].unix_ms;
      EXPECT_GE(gap, static_cast<int64_t>(delay) - 1) << "retry " << i + 1;
      EXPECT_LE(gap, static_cast<int64_t>(delay) + 1500) << "retry " << i + 1;
    }
  }
  sup->StopAll();
}

// Drives a failing component's whole retry sequence on a FakeClock: each
// backoff sleep is advanced to 1 ms short of its delay (no relaunch may
// happen), then by the last millisecond (the relaunch must follow). Returns
// the delays seen.
std::vector<uint64_t> DriveBackoffOnFakeClock(Supervisor* sup, FakeClock* clock,
                                              const std::string& base, uint32_t probe_interval_ms) {
  std::atomic<bool> done{false};
  std::thread boot([&] {
    EXPECT_TRUE(sup->Boot().ok());
    done = true;
  });
  std::vector<uint64_t> delays;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (!clock->WaitForSleepers(1, 20)) continue;
    const auto retries = Select(ReadEvents(base), "retry_scheduled", "x");
    if (retries.size() <= delays.size()) {
      // A startup probe wait. FakeClock counts a woken sleeper until it
      // runs again: wait for that, so a stale count cannot make the next
      // round advance time under a backoff sleep that has just begun.
      clock->AdvanceMs(probe_interval_ms);
      WaitUntil([&] { return clock->sleepers() == 0; }, 50, 1);
      continue;
    }
    const uint64_t d = retries[delays.size()].details.value("delay_ms", uint64_t{0});
    delays.push_back(d);
    const size_t launches = Count(ReadEvents(base), "launched", "x");
    if (d == 0) continue;  // no sleep at all
    clock->AdvanceMs(static_cast<int64_t>(d) - 1);
    std::this_thread::sleep_for(Ms(30));
    EXPECT_EQ(Count(ReadEvents(base), "launched", "x"), launches)
        << "relaunched before its " << d << " ms delay";
    EXPECT_EQ(clock->sleepers(), 1);
    clock->AdvanceMs(1);
    EXPECT_TRUE(
        WaitUntil([&] { return Count(ReadEvents(base), "launched", "x") > launches; }, 5'000))
        << "not relaunched when its " << d << " ms delay ended";
  }
  if (!done) {
    ADD_FAILURE() << "boot did not finish on the fake clock";
    sup->RequestStop();
  }
  boot.join();
  return delays;
}

TEST_F(BootTest, FakeClockRelaunchesExactlyWhenEachBackoffDelayEnds) {
  json x = {{"name", "x"},
            {"command", Argv({"false"})},
            {"retries", 3},
            {"start_timeout_ms", 600000},
            {"backoff", {{"initial_ms", 150}, {"max_ms", 10000}, {"jitter", false}}},
            {"probe", {{"command", Argv({"false"})}, {"period_ms", 50}}}};
  FakeClock clock;
  SupervisorOptions o;
  o.clock = &clock;
  auto sup = NewSupervisor(WriteConfig({x}), std::move(o));
  ASSERT_NE(sup, nullptr);

  const std::vector<uint64_t> delays = DriveBackoffOnFakeClock(sup.get(), &clock, Base(), 50);
  EXPECT_EQ(delays, (std::vector<uint64_t>{150, 300, 600}));
  EXPECT_STATUS(sup, "x", kQuarantined);
  EXPECT_EQ(Count(ReadEvents(Base()), "launched", "x"), 4u);
  sup->StopAll();
}

TEST_F(BootTest, FakeClockJitteredDelaysFollowTheInjectedRandom) {
  json x = {{"name", "x"},
            {"command", Argv({"false"})},
            {"retries", 3},
            {"start_timeout_ms", 600000},
            {"backoff", {{"initial_ms", 150}, {"max_ms", 10000}, {"jitter", true}}},
            {"probe", {{"command", Argv({"false"})}, {"period_ms", 50}}}};
  FakeClock clock;
  SeededRandom random(20240501);
  SeededRandom reference(20240501);
  std::vector<uint64_t> want;
  for (uint64_t ceiling : {150, 300, 600}) want.push_back(reference.UniformInclusive(ceiling));
  SupervisorOptions o;
  o.clock = &clock;
  o.random = &random;
  auto sup = NewSupervisor(WriteConfig({x}), std::move(o));
  ASSERT_NE(sup, nullptr);

  const std::vector<uint64_t> delays = DriveBackoffOnFakeClock(sup.get(), &clock, Base(), 50);
  EXPECT_EQ(delays, want);
  EXPECT_STATUS(sup, "x", kQuarantined);
  sup->StopAll();
}

// --- Quarantine, resolve, handover -----------------------------------------

TEST_F(BootTest, QuarantineBlocksDependentsSurvivesRebootAndResolveStartsItAgain) {
  // bad passes only once "fixed" exists; dep and dep2 hang off it.
  json bad = Shell("bad", "[ -f fixed ] || { echo 'bad: no config' >&2; exit 3; }; exec sleep 60");
  bad["priority"] = 0;
  bad["retries"] = 1;
  bad["backoff"] = {{"initial_ms", 50}, {"jitter", false}};
  bad["probe"] = {{"command", Argv({"test", "-f", "fixed"})}, {"period_ms", 50}};
  json other = Shell("other", "exec sleep 60");
  other["priority"] = 0;
  json dep = Shell("dep", "exec sleep 60");
  dep["priority"] = 1;
  dep["depends_on"] = Argv({"bad"});
  json dep2 = Shell("dep2", "exec sleep 60");
  dep2["priority"] = 2;
  dep2["depends_on"] = Argv({"dep"});
  const std::string config = WriteConfig({bad, other, dep, dep2});

  {  // First boot: retries exhausted.
    auto sup = NewSupervisor(config);
    ASSERT_NE(sup, nullptr);
    ASSERT_TRUE(sup->Boot().ok());
    EXPECT_STATUS(sup, "bad", kQuarantined);
    EXPECT_STATUS(sup, "other", kHealthy);
    EXPECT_STATUS(sup, "dep", kBlocked);
    EXPECT_STATUS(sup, "dep2", kBlocked);
    EXPECT_FALSE(sup->Healthy());
    sup->StopAll();
  }
  QuarantineStore store(Paths());
  Result<QuarantineRecord> rec = store.Get("bad");
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->component, "bad");
  EXPECT_EQ(rec->attempts, 2u);
  EXPECT_NE(rec->reason.find("retries exhausted"), std::string::npos) << rec->reason;
  EXPECT_NE(rec->last_error.find("exited"), std::string::npos) << rec->last_error;
  EXPECT_TRUE(ParseUtcIso8601(rec->time_utc).has_value()) << rec->time_utc;
  EXPECT_EQ(rec->config.value("name", ""), "bad");
  EXPECT_EQ(rec->config.value("retries", 0), 1);
  EXPECT_TRUE(rec->config.contains("command"));
  const json raw = json::parse(testing::ReadFile(Base() + "/quarantine/bad.json"));
  for (const char* key : {"component", "reason", "attempts", "last_error", "time", "config"}) {
    EXPECT_TRUE(raw.contains(key)) << key;
  }
  EXPECT_NE(testing::ReadFile(Base() + "/docs/quarantine_log.md").find("| bad | quarantined |"),
            std::string::npos)
      << testing::ReadFile(Base() + "/docs/quarantine_log.md");
  auto ev = ReadEvents(Base());
  ASSERT_EQ(Count(ev, "dependents_blocked", "bad"), 1u);
  EXPECT_EQ(Select(ev, "dependents_blocked", "bad")[0].details.value("dependents", json()),
            json({"dep", "dep2"}));
  EXPECT_EQ(Count(ev, "blocked", "dep"), 1u);
  EXPECT_EQ(Count(ev, "blocked", "dep2"), 1u);
  EXPECT_EQ(Count(ev, "launched", "bad"), 2u);
  EXPECT_EQ(Count(ev, "launched", "dep"), 0u);
  const size_t first_boot_lines = ev.size();

  {  // Second boot: bad is skipped, not launched.
    auto sup = NewSupervisor(config);
    ASSERT_NE(sup, nullptr);
    ASSERT_TRUE(sup->Boot().ok());
    EXPECT_STATUS(sup, "bad", kQuarantined);
    EXPECT_STATUS(sup, "dep", kBlocked);
    sup->StopAll();
  }
  ev = ReadEvents(Base());
  std::vector<Event> second(ev.begin() + static_cast<ptrdiff_t>(first_boot_lines), ev.end());
  EXPECT_EQ(Count(second, "skipped", "bad"), 1u);
  EXPECT_EQ(Count(second, "launched", "bad"), 0u);
  EXPECT_EQ(Count(second, "launched", "dep"), 0u);

  std::string out, err;
  ASSERT_EQ(
      CallRazar({"resolve", "bad", "--note", "fixed the config", "--base", Base()}, &out, &err), 0)
      << err;
  EXPECT_FALSE(std::filesystem::exists(Base() + "/quarantine/bad.json"));
  EXPECT_NE(testing::ReadFile(Base() + "/docs/quarantine_log.md")
                .find("| bad | resolved | fixed the config |"),
            std::string::npos)
      << testing::ReadFile(Base() + "/docs/quarantine_log.md");
  EXPECT_EQ(Count(ReadEvents(Base()), "resolved", "bad"), 1u);
  EXPECT_EQ(CallRazar({"resolve", "bad", "--base", Base()}, &out, &err), 2);
  EXPECT_NE(err.find("not quarantined"), std::string::npos) << err;

  std::ofstream(Path("fixed")) << "";
  {  // Third boot: bad starts, and so do its dependents.
    auto sup = NewSupervisor(config);
    ASSERT_NE(sup, nullptr);
    ASSERT_TRUE(sup->Boot().ok());
    EXPECT_STATUS(sup, "bad", kHealthy);
    EXPECT_STATUS(sup, "dep", kHealthy);
    EXPECT_STATUS(sup, "dep2", kHealthy);
    EXPECT_TRUE(sup->Healthy());
    sup->StopAll();
  }
}

json AlwaysFailing(const std::string& name, const std::string& flag) {
  json c =
      Shell(name, "[ -f " + flag + " ] || { echo 'cannot start' >&2; exit 3; }; exec sleep 60");
  c["retries"] = 1;
  c["backoff"] = {{"initial_ms", 50}, {"jitter", false}};
  c["probe"] = {{"command", Argv({"test", "-f", flag})}, {"period_ms", 50}};
  return c;
}

TEST_F(BootTest, HandoverThatFixesTheComponentGivesItAnotherRound) {
  const std::string flag = Path("patched");
  RecordingHook hook(true, [&] { std::ofstream(flag) << ""; });
  SupervisorOptions o;
  o.handover = &hook;
  auto sup = NewSupervisor(WriteConfig({AlwaysFailing("bad", flag)}), std::move(o));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());

  EXPECT_STATUS(sup, "bad", kHealthy);
  EXPECT_EQ(hook.calls(), 1);
  EXPECT_EQ(hook.spec_name(), "bad");
  const FailureContext ctx = hook.context();
  EXPECT_EQ(ctx.component, "bad");
  EXPECT_EQ(ctx.attempts, 2u);
  EXPECT_NE(ctx.last_error.find("exited"), std::string::npos) << ctx.last_error;
  EXPECT_NE(ctx.log_path.find("bad.log"), std::string::npos) << ctx.log_path;
  const auto ev = ReadEvents(Base());
  EXPECT_EQ(Count(ev, "launched", "bad"), 3u);
  ASSERT_EQ(Count(ev, "handover", "bad"), 1u);
  EXPECT_EQ(Select(ev, "handover", "bad")[0].status, "retrying");
  EXPECT_FALSE(std::filesystem::exists(Base() + "/quarantine/bad.json"));
  sup->StopAll();
}

TEST_F(BootTest, HandoverGrantingARoundThatFailsAgainEndsInQuarantine) {
  RecordingHook hook(true);
  SupervisorOptions o;
  o.handover = &hook;
  auto sup = NewSupervisor(WriteConfig({AlwaysFailing("bad", Path("never"))}), std::move(o));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());

  EXPECT_STATUS(sup, "bad", kQuarantined);
  EXPECT_EQ(hook.calls(), 1) << "the hook is asked once per boot";
  EXPECT_EQ(Count(ReadEvents(Base()), "launched", "bad"), 4u);
  QuarantineStore store(Paths());
  Result<QuarantineRecord> rec = store.Get("bad");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->attempts, 4u);
  sup->StopAll();
}

TEST_F(BootTest, HandoverDeclinedQuarantinesAtOnce) {
  RecordingHook hook(false);
  SupervisorOptions o;
  o.handover = &hook;
  auto sup = NewSupervisor(WriteConfig({AlwaysFailing("bad", Path("never"))}), std::move(o));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());

  EXPECT_STATUS(sup, "bad", kQuarantined);
  EXPECT_EQ(hook.calls(), 1);
  const auto ev = ReadEvents(Base());
  EXPECT_EQ(Count(ev, "launched", "bad"), 2u);
  ASSERT_EQ(Count(ev, "handover", "bad"), 1u);
  EXPECT_EQ(Select(ev, "handover", "bad")[0].status, "declined");
  EXPECT_TRUE(std::filesystem::exists(Base() + "/quarantine/bad.json"));
  sup->StopAll();
}

// Regression (boot.cc Restart, the give_up branch): once a crash-looping
// component has spent its retry budget after boot, Restart calls
// StartWithRetries, which launches it again before any handover; a
// component that comes up and crashes again is relaunched forever, without
// backoff, and never reaches handover or quarantine.
TEST_F(BootTest, CrashLoopAfterBootGoesToHandoverOnceRetriesAreSpent) {
  json c = Shell("crashy", "sleep 0.2; exit 1");
  c["start_grace_ms"] = 0;  // the old "running is healthy": the loop starts after boot
  c["retries"] = 1;
  c["backoff"] = {{"initial_ms", 50}, {"jitter", false}, {"reset_after_ms", 60000}};
  RecordingHook hook(false);
  SupervisorOptions o;
  o.handover = &hook;
  auto sup = NewSupervisor(WriteConfig({c}), std::move(o));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());
  EXPECT_STATUS(sup, "crashy", kHealthy);  // no probe, no start grace: running is healthy

  std::thread supervise([&] { sup->Supervise(); });
  const bool quarantined =
      WaitUntil([&] { return StatusOf(*sup, "crashy") == ComponentStatus::kQuarantined; }, 3'000);
  sup->RequestStop();
  supervise.join();
  sup->StopAll();

  EXPECT_TRUE(quarantined) << "still not quarantined after 3 s";
  EXPECT_EQ(hook.calls(), 1);
  EXPECT_EQ(Count(ReadEvents(Base()), "launched", "crashy"), 2u)
      << "first start + 1 retry, then handover; got more launches";
}

TEST_F(BootTest, SuperviseRestartsAHealthyComponentThatExits) {
  json c = Shell("once", "if [ ! -f died ]; then touch died; sleep 0.2; exit 1; fi; exec sleep 60");
  c["retries"] = 2;
  c["backoff"] = {{"initial_ms", 50}, {"jitter", false}};
  auto sup = NewSupervisor(WriteConfig({c}));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());
  std::thread supervise([&] { sup->Supervise(); });
  const bool relaunched =
      WaitUntil([&] { return Count(ReadEvents(Base()), "launched", "once") == 2; }, 3'000);
  WaitUntil([&] { return StatusOf(*sup, "once") == ComponentStatus::kHealthy; }, 2'000);
  const pid_t pid = sup->State().Find("once")->pid;
  sup->RequestStop();
  supervise.join();
  EXPECT_TRUE(relaunched);
  EXPECT_STATUS(sup, "once", kHealthy);
  EXPECT_TRUE(Running(pid));
  sup->StopAll();
  EXPECT_FALSE(Running(pid));
  EXPECT_STATUS(sup, "once", kStopped);
}

TEST_F(BootTest, SuperviseRestartsAComponentWhoseProbeFailsThresholdTimes) {
  std::ofstream(Path("alive")) << "";
  json c = Shell("watched", "exec sleep 60");
  c["retries"] = 2;
  c["backoff"] = {{"initial_ms", 50}, {"jitter", false}};
  c["probe"] = {
      {"command", Argv({"test", "-f", "alive"})}, {"period_ms", 50}, {"failure_threshold", 2}};
  auto sup = NewSupervisor(WriteConfig({c}));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());
  const pid_t first = sup->State().Find("watched")->pid;
  std::thread supervise([&] { sup->Supervise(); });
  std::filesystem::remove(Path("alive"));
  const bool failed =
      WaitUntil([&] { return Count(ReadEvents(Base()), "failed", "watched") >= 1; }, 3'000);
  std::ofstream(Path("alive")) << "";
  const bool relaunched = WaitUntil(
      [&] {
        return Count(ReadEvents(Base()), "launched", "watched") == 2 &&
               StatusOf(*sup, "watched") == ComponentStatus::kHealthy;
      },
      3'000);
  sup->RequestStop();
  supervise.join();
  EXPECT_TRUE(failed);
  EXPECT_TRUE(relaunched);
  const auto fails = Select(ReadEvents(Base()), "failed", "watched");
  ASSERT_FALSE(fails.empty());
  EXPECT_NE(fails[0].details.value("detail", "").find("probe failed 2 times"), std::string::npos)
      << fails[0].details.dump();
  EXPECT_FALSE(Running(first)) << "the unhealthy incarnation was not stopped";
  sup->StopAll();
}

TEST_F(BootTest, MissingBinaryIsRetriedThenQuarantinedWithTheLaunchError) {
  json c = {{"name", "ghost"},
            {"command", Argv({"/nonexistent/razar-ghost"})},
            {"retries", 1},
            {"backoff", {{"initial_ms", 50}, {"jitter", false}}}};
  auto sup = NewSupervisor(WriteConfig({c}));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());
  EXPECT_STATUS(sup, "ghost", kQuarantined);
  const std::string err = sup->State().Find("ghost")->last_error;
  EXPECT_NE(err.find("launch"), std::string::npos) << err;
  EXPECT_NE(err.find("razar-ghost"), std::string::npos) << err;
  EXPECT_EQ(sup->State().Find("ghost")->attempts, 2u);
  sup->StopAll();
}

// --- Metrics ----------------------------------------------------------------

// Regression (boot.cc Boot): metrics.h promises razar_boot_stage = stages+1
// once boot is done; Boot() leaves it at the last stage's number.
TEST_F(BootTest, BootStageMetricIsStagesPlusOneWhenBootIsDone) {
  json a = Shell("a", "exec sleep 60");
  a["priority"] = 0;
  json b = Shell("b", "exec sleep 60");
  b["priority"] = 1;
  Metrics metrics;
  SupervisorOptions o;
  o.metrics = &metrics;
  auto sup = NewSupervisor(WriteConfig({a, b}), std::move(o));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());
  const std::string text = metrics.Serialize();
  EXPECT_NE(text.find("\nrazar_boot_stage 3\n"), std::string::npos)
      << "want razar_boot_stage 3 (2 stages + 1) after boot; got:\n"
      << text;
  EXPECT_NE(text.find("razar_component_up{component=\"a\",layer=\"root\"} 1"), std::string::npos);
  sup->StopAll();
}


// --- Regressions of issue 9 ------------------------------------------------

// Regression (boot.cc Probe, kNone): a component without a probe was
// healthy as soon as it ran, so `sh -c 'exit 3'` could be declared healthy
// in the instant before it died, and the boot result never saw the
// failure. Now it must survive start_grace_ms first.
TEST_F(BootTest, ComponentWithoutAProbeThatExitsAtOnceIsNeverHealthy) {
  json c = Shell("quick", "exit 3");
  c["retries"] = 0;
  auto sup = NewSupervisor(WriteConfig({c}));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());
  EXPECT_STATUS(sup, "quick", kQuarantined);
  EXPECT_FALSE(sup->Healthy());
  EXPECT_EQ(Count(ReadEvents(Base()), "healthy", "quick"), 0u) << "declared healthy once";
  sup->StopAll();
}

TEST_F(BootTest, ComponentWithoutAProbeIsHealthyOnlyAfterItsStartGrace) {
  json c = Shell("steady", "exec sleep 60");
  c["start_grace_ms"] = 400;
  auto sup = NewSupervisor(WriteConfig({c}));
  ASSERT_NE(sup, nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(sup->Boot().ok());
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_STATUS(sup, "steady", kHealthy);
  EXPECT_GE(took, std::chrono::milliseconds(400)) << "healthy before its start grace";
  sup->StopAll();
}

// A sink that blocks (a disk that hangs) delays status changes, never the
// readers: /health and /status read the state without waiting for sinks.
class BlockingSink : public StatusSink {
 public:
  void Record(const StatusChange& change) override {
    std::unique_lock<std::mutex> l(mu_);
    if (change.status == ComponentStatus::kHealthy) {
      blocked_ = true;
      cv_.notify_all();
      cv_.wait(l, [&] { return released_; });
    }
  }
  bool WaitBlocked(int64_t ms) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::milliseconds(ms), [&] { return blocked_; });
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool blocked_ = false;
  bool released_ = false;
};

TEST_F(BootTest, ASinkThatBlocksDoesNotBlockHealthOrStatus) {
  BlockingSink sink;
  SupervisorOptions o;
  o.extra_sinks = {&sink};
  json c = Shell("a", "exec sleep 60");
  c["start_grace_ms"] = 0;
  auto sup = NewSupervisor(WriteConfig({c}), std::move(o));
  ASSERT_NE(sup, nullptr);
  std::thread boot([&] { ASSERT_TRUE(sup->Boot().ok()); });
  ASSERT_TRUE(sink.WaitBlocked(10'000)) << "the healthy change never reached the sink";
  // The boot thread is stuck inside the sink now. Readers are not.
  std::atomic<bool> answered{false};
  std::thread reader([&] {
    (void)sup->Healthy();
    (void)sup->StatusJson();
    answered = true;
  });
  const bool in_time = WaitUntil([&] { return answered.load(); }, 2'000);
  EXPECT_TRUE(in_time) << "Healthy()/StatusJson() waited for a blocked sink";
  EXPECT_STATUS(sup, "a", kHealthy) << "the state is decided before the sinks run";
  sink.Release();
  reader.join();
  boot.join();
  sup->StopAll();
}

// Regression (boot.cc AppendSpine): a graceful stop was written to the
// spine as `failed` with detail "stopped", so `razar-replay timeline`
// showed every clean shutdown as a failure.
TEST_F(BootTest, GracefulStopIsRecordedInTheSpineAsStopped) {
  storage::SpineOptions so;
  so.dir = Base() + "/logs/spine";
  so.log.segment_bytes = 4u << 20;
  Result<std::unique_ptr<storage::Spine>> spine = storage::Spine::Open(so);
  ASSERT_TRUE(spine.ok()) << spine.status().ToString();
  SupervisorOptions o;
  o.spine = spine->get();
  json c = Shell("svc", "exec sleep 60");
  c["layer"] = "solar";
  c["start_grace_ms"] = 0;
  auto sup = NewSupervisor(WriteConfig({c}), std::move(o));
  ASSERT_NE(sup, nullptr);
  ASSERT_TRUE(sup->Boot().ok());
  sup->StopAll();
  sup.reset();
  const storage::State state = (*spine)->CopyState();
  const auto& comps = state.layer(storage::Layer::solar).components;
  const auto it = comps.find(ComponentIdOf("svc"));
  ASSERT_NE(it, comps.end());
  EXPECT_STREQ(storage::ComponentStateName(it->second.state), "stopped");
  EXPECT_EQ(it->second.detail, "killed by signal 15 (SIGTERM)");
  ASSERT_TRUE((*spine)->Close().ok());
}

// Regression (boot.cc LaunchOnce): with a relative --base the component got
// NOTIFY_SOCKET=./logs/notify/<name>.sock, which `systemd-notify` refuses
// and which does not resolve from the component's own cwd.
TEST_F(BootTest, NotifySocketIsAbsoluteEvenWithARelativeBase) {
  const std::string seen = Path("notify_socket.txt");
  json c = Shell("n", "echo \"$NOTIFY_SOCKET\" > '" + seen + "'; exec sleep 60");
  c["probe"] = {{"notify", true}, {"timeout_ms", 200}};
  c["start_timeout_ms"] = 1500;
  c["retries"] = 0;
  const std::string config = WriteConfig({c});
  Result<BootConfig> cfg = LoadBootConfig(config);
  ASSERT_TRUE(cfg.ok());
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(dir_.c_str()), 0);
  SupervisorOptions o;
  o.config = *cfg;
  o.paths.base = "base";  // relative to the cwd
  o.startup_probe_interval_ms = 50;
  auto sup = Supervisor::Create(std::move(o));
  ASSERT_TRUE(sup.ok()) << sup.status().ToString();
  ASSERT_TRUE((*sup)->Boot().ok());
  ASSERT_EQ(::chdir(cwd), 0);
  std::string value;
  WaitUntil([&] {
    std::ifstream in(seen);
    return static_cast<bool>(std::getline(in, value)) && !value.empty();
  }, 5'000);
  ASSERT_FALSE(value.empty()) << "the component never recorded its NOTIFY_SOCKET";
  EXPECT_TRUE(value.front() == '/' || value.front() == '@') << value;
  EXPECT_EQ(value, dir_ + "/base/logs/notify/n.sock");
  (*sup)->StopAll();
}

}  // namespace
}  // namespace razar::orchestrator
