#include "orchestrator/health/probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "orchestrator/child_test_util.h"

namespace razar::orchestrator {
namespace {

using testing::ChildProcessTest;

ProbeSpec Command(std::vector<std::string> argv, uint32_t timeout_ms = 5'000) {
  ProbeSpec spec;
  spec.kind = ProbeKind::kCommand;
  spec.command = std::move(argv);
  spec.timeout_ms = timeout_ms;
  return spec;
}

// ---- kCommand ----

class CommandProbeTest : public ChildProcessTest {};

TEST_F(CommandProbeTest, ExitZeroIsHealthy) {
  const ProbeResult r = RunProbe(Command({"/bin/true"}), {});
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.detail, "exit 0");
  EXPECT_GT(r.seconds, 0);
  EXPECT_LT(r.seconds, 5);
}

TEST_F(CommandProbeTest, NonZeroExitIsUnhealthyWithTheOutputTail) {
  ProbeResult r = RunProbe(Command({"false"}), {});  // PATH lookup
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.detail, "exit 1");
  r = RunProbe(Command({"/bin/sh", "-c", "echo starting; echo 'db down' >&2; exit 3"}), {});
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.detail, "exit 3: starting | db down");
  r = RunProbe(Command({"/bin/sh", "-c", "kill -KILL $$"}), {});
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.detail, "killed by SIGKILL");
}

TEST_F(CommandProbeTest, OnlyTheTailOfLongOutputIsKept) {
  const ProbeResult r = RunProbe(Command({"/bin/sh", "-c", "seq 1 100000; exit 1"}), {});
  EXPECT_FALSE(r.healthy);
  EXPECT_LT(r.detail.size(), 1'000u);
  EXPECT_NE(r.detail.find("99999 | 100000"), std::string::npos) << r.detail;
}

TEST_F(CommandProbeTest, TimeoutKillsTheWholeGroup) {
  const std::string pid_file = Path("grandchild.pid");
  const auto start = std::chrono::steady_clock::now();
  const ProbeResult r = RunProbe(
      Command({"/bin/sh", "-c", "sleep 30 & echo $! > " + pid_file + "; echo waiting; wait"}, 300),
      {});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.detail, "timed out after 300 ms (killed): waiting");
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  const pid_t grandchild = std::atoi(testing::ReadFile(pid_file).c_str());
  ASSERT_GT(grandchild, 0);
  // Killed with its group: already gone, or exiting (seen via a pidfd).
  UniqueFd grandchild_fd(static_cast<int>(syscall(SYS_pidfd_open, grandchild, 0)));
  if (grandchild_fd.valid()) {
    EXPECT_TRUE(WaitPidfd(grandchild_fd.get(), 2'000))
        << "grandchild " << grandchild << " survived";
  }
}

TEST_F(CommandProbeTest, MissingBinaryIsUnhealthyWithAClearReason) {
  const ProbeResult r = RunProbe(Command({"/nonexistent/check"}), {});
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.detail.find("spawn"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("No such file or directory"), std::string::npos) << r.detail;
}

TEST_F(CommandProbeTest, RunsInTheComponentsEnvAndCwd) {
  ComponentSpec component;
  component.env["CHECK_MODE"] = "deep";
  component.cwd = dir_;
  component.probe = Command(
      {"/bin/sh", "-c", "test \"$CHECK_MODE\" = deep && test \"$(pwd)\" = \"" + dir_ + "\""});
  const ProbeResult r = RunProbe(component.probe, ContextFor(component, nullptr));
  EXPECT_TRUE(r.healthy) << r.detail;
}

// ---- kHttp ----

class HttpProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("fine", "text/plain");
    });
    server_.Get("/created",
                [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    server_.Get("/fail", [](const httplib::Request&, httplib::Response& res) {
      res.status = 500;
      res.set_content("database unreachable\n", "text/plain");
    });
    server_.Get("/hang", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(10), [this] { return release_; });
      res.set_content("late", "text/plain");
    });
    server_.Get("/same-host", [this](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("http://127.0.0.1:" + std::to_string(port_) + "/ok");
    });
    server_.Get("/relative",
                [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ok"); });
    server_.Get("/loop",
                [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/loop"); });
    server_.Get("/elsewhere", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("http://example.invalid/ok");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    // Bound means listening: connections queue until the accept loop runs.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }

  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      release_ = true;
    }
    cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  ProbeResult Get(const std::string& path, uint32_t timeout_ms = 2'000) {
    ProbeSpec spec;
    spec.kind = ProbeKind::kHttp;
    spec.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    spec.timeout_ms = timeout_ms;
    return RunProbe(spec, {});
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool release_ = false;  // guarded by mu_
};

TEST_F(HttpProbeTest, TwoHundredsAreHealthy) {
  ProbeResult r = Get("/ok");
  EXPECT_TRUE(r.healthy) << r.detail;
  EXPECT_EQ(r.detail, "HTTP 200");
  r = Get("/created");
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.detail, "HTTP 204");
}

TEST_F(HttpProbeTest, ServerErrorIsUnhealthyWithStatusAndBody) {
  const ProbeResult r = Get("/fail");
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.detail, "HTTP 500: database unreachable");
  EXPECT_EQ(Get("/missing").detail.rfind("HTTP 404", 0), 0u);
}

TEST_F(HttpProbeTest, HangingHandlerTimesOut) {
  const ProbeResult r = Get("/hang", 300);
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.detail.find("curl error 28"), std::string::npos) << r.detail;  // OPERATION_TIMEDOUT
  EXPECT_GE(r.seconds, 0.29);
  EXPECT_LT(r.seconds, 2.0);
}

TEST_F(HttpProbeTest, FollowsRedirectsOnlyWithinTheSameHost) {
  EXPECT_TRUE(Get("/same-host").healthy);
  EXPECT_TRUE(Get("/relative").healthy);
  ProbeResult r = Get("/elsewhere");
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.detail.find("redirect to another host"), std::string::npos) << r.detail;
  r = Get("/loop");
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.detail.find("too many redirects"), std::string::npos) << r.detail;
}

TEST_F(HttpProbeTest, ProxyEnvironmentIsIgnored) {
  setenv("http_proxy", "http://127.0.0.1:1", 1);
  setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
  const ProbeResult r = Get("/ok");
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  EXPECT_TRUE(r.healthy) << r.detail;
}

TEST(HttpProbeErrorsTest, ClosedPortAndBadUrl) {
  ProbeSpec spec;
  spec.kind = ProbeKind::kHttp;
  spec.url = "http://127.0.0.1:1/health";
  spec.timeout_ms = 2'000;
  ProbeResult r = RunProbe(spec, {});
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.detail.find("curl error 7"), std::string::npos) << r.detail;  // COULDNT_CONNECT
  spec.url = "ftp://127.0.0.1/";
  r = RunProbe(spec, {});
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.detail.find("curl error 1"), std::string::npos) << r.detail;  // UNSUPPORTED_PROTOCOL
}

// ---- kTcp ----

// A listening socket on 127.0.0.1 with a kernel-chosen port.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  void Listen() { listen(fd_, 16); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
};

ProbeResult Tcp(const std::string& host, uint16_t port, uint32_t timeout_ms = 1'000) {
  ProbeSpec spec;
  spec.kind = ProbeKind::kTcp;
  spec.host = host;
  spec.port = port;
  spec.timeout_ms = timeout_ms;
  return RunProbe(spec, {});
}

TEST(TcpProbeTest, ListeningPortIsHealthy) {
  Listener listener;
  listener.Listen();
  const ProbeResult r = Tcp("127.0.0.1", listener.port());
  EXPECT_TRUE(r.healthy) << r.detail;
  EXPECT_EQ(r.detail, "connected to 127.0.0.1:" + std::to_string(listener.port()));
  // By name: "localhost" may resolve to ::1 first; the IPv4 address follows.
  EXPECT_TRUE(Tcp("localhost", listener.port()).healthy);
}

TEST(TcpProbeTest, ClosedPortIsUnhealthy) {
  Listener bound_not_listening;  // holds the port so nobody else takes it
  const ProbeResult r = Tcp("127.0.0.1", bound_not_listening.port());
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.detail.find("Connection refused"), std::string::npos) << r.detail;
}

TEST(TcpProbeTest, UnresolvableHostAndBadTarget) {
  ProbeResult r = Tcp("no-such-host.invalid", 80);
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.detail.find("resolv"), std::string::npos) << r.detail;
  EXPECT_FALSE(Tcp("", 80).healthy);
  EXPECT_FALSE(Tcp("127.0.0.1", 0).healthy);
}

TEST(TcpProbeTest, UnreachableAddressIsBoundedByTheTimeout) {
  // TEST-NET-1 (RFC 5737) is never routed: the connect either hangs until
  // the timeout or fails at once with "unreachable", depending on the host.
  const ProbeResult r = Tcp("192.0.2.1", 9, 300);
  EXPECT_FALSE(r.healthy);
  EXPECT_LT(r.seconds, 2.0);
}

// ---- kNotify ----

class NotifyProbeTest : public ChildProcessTest {};

TEST_F(NotifyProbeTest, HealthyOnceReadyArrives) {
  auto socket = NotifySocket::Bind(Path("n.sock"));
  ASSERT_TRUE(socket.ok());
  ProbeSpec spec;
  spec.kind = ProbeKind::kNotify;
  spec.timeout_ms = 50;
  ProbeContext context;
  context.notify = socket->get();
  ProbeResult r = RunProbe(spec, context);
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.detail.find("no READY=1"), std::string::npos) << r.detail;

  // A raw sd_notify datagram (notify_test.cc covers systemd-notify).
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, Path("n.sock").c_str());
  const char kReady[] = "READY=1\nSTATUS=serving";
  ASSERT_EQ(
      sendto(fd, kReady, sizeof kReady - 1, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr),
      static_cast<ssize_t>(sizeof kReady - 1));
  close(fd);
  spec.timeout_ms = 2'000;
  r = RunProbe(spec, context);
  EXPECT_TRUE(r.healthy) << r.detail;
  EXPECT_EQ(r.detail, "READY=1 from pid " + std::to_string(getpid()) + " (STATUS=serving)");
  // Sticky: the next probe is healthy at once.
  spec.timeout_ms = 0;
  EXPECT_TRUE(RunProbe(spec, context).healthy);
}

TEST(NotifyProbeNoSocketTest, UnhealthyWithoutASocket) {
  ProbeSpec spec;
  spec.kind = ProbeKind::kNotify;
  EXPECT_EQ(RunProbe(spec, {}).detail, "no notify socket");
}

TEST(NoProbeTest, IsHealthyAtOnce) {
  const ProbeResult r = RunProbe(ProbeSpec{}, {});
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.detail, "no probe");
}

// ---- ProbeTracker ----

TEST(ProbeTrackerTest, ThresholdOfConsecutiveFailures) {
  using Health = ProbeTracker::Health;
  ProbeTracker tracker(3);
  const ProbeResult ok{true, "", 0}, bad{false, "", 0};
  EXPECT_EQ(tracker.Update(bad), Health::kUnknown);  // still starting
  EXPECT_EQ(tracker.Update(bad), Health::kUnknown);
  EXPECT_EQ(tracker.Update(ok), Health::kHealthy);
  EXPECT_EQ(tracker.Update(bad), Health::kHealthy);
  EXPECT_EQ(tracker.Update(bad), Health::kHealthy);
  EXPECT_EQ(tracker.consecutive_failures(), 2u);
  EXPECT_EQ(tracker.Update(ok), Health::kHealthy);  // a success restarts the count
  EXPECT_EQ(tracker.Update(bad), Health::kHealthy);
  EXPECT_EQ(tracker.Update(bad), Health::kHealthy);
  EXPECT_EQ(tracker.Update(bad), Health::kUnhealthy);
  EXPECT_STREQ(HealthName(tracker.health()), "unhealthy");
  EXPECT_EQ(tracker.Update(ok), Health::kHealthy);
  tracker.Reset();
  EXPECT_EQ(tracker.health(), Health::kUnknown);
  ProbeTracker zero(0);  // treated as 1
  EXPECT_EQ(zero.Update(bad), Health::kUnhealthy);
}

}  // namespace
}  // namespace razar::orchestrator
