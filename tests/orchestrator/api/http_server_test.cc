// HTTP server: real requests over loopback with httplib::Client, hostile
// bytes over a raw socket, and bind failures.

#include "orchestrator/api/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include <thread>
#include <vector>
#include <chrono>
#include <gtest/gtest.h>

#include "orchestrator/httplib_for_tests.h"

namespace razar::orchestrator {
namespace {

HttpSpec EphemeralSpec() {
  HttpSpec spec;
  spec.bind = "127.0.0.1";
  spec.port = 0;
  return spec;
}

// Sends `bytes` on a fresh TCP connection and returns whatever comes back
// before the server closes (or 2 s pass). With `half_close` the sending side
// is shut down after the bytes, so the server sees end-of-input at once
// instead of waiting out its read timeout on a truncated request.
std::string RawExchange(uint16_t port, const std::string& bytes, bool half_close = true) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (half_close) ::shutdown(fd, SHUT_WR);
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) reply.append(buf, n);
  }
  ::close(fd);
  return reply;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpSpec spec = EphemeralSpec()) {
    HttpServer::Callbacks callbacks;
    callbacks.healthy = [this] { return healthy_.load(); };
    callbacks.status = [this] {
      if (status_throws_) throw std::runtime_error("status exploded");
      return nlohmann::json{{"components", {{{"name", "db"}, {"status", "healthy"}}}}};
    };
    callbacks.metrics = &metrics_;
    server_ = std::make_unique<HttpServer>(std::move(spec), std::move(callbacks));
    if (lifetime_ms_ != 0) server_->set_connection_lifetime_ms(lifetime_ms_);
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_NE(server_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_connection_timeout(2, 0);
    client_->set_read_timeout(5, 0);
  }

  void ExpectStillServing() {
    auto res = client_->Get("/status");
    ASSERT_TRUE(res) << "server stopped answering: " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }

  std::atomic<bool> healthy_{false};
  std::atomic<bool> status_throws_{false};
  uint32_t lifetime_ms_ = 0;  // 0: the server's default
  Metrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, HealthFollowsTheCallback) {
  StartServer();
  auto res = client_->Get("/health");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(nlohmann::json::parse(res->body)["status"], "unavailable");
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");

  healthy_ = true;
  res = client_->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["status"], "ok");
}

TEST_F(HttpServerTest, StatusReturnsTheCallbacksJson) {
  StartServer();
  auto res = client_->Get("/status");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << res->body;
  EXPECT_EQ(body["components"][0]["name"], "db");
  EXPECT_EQ(body["components"][0]["status"], "healthy");
}

TEST_F(HttpServerTest, MetricsServesThePrometheusText) {
  StartServer();
  metrics_.SetBootStage(3);
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_NE(res->body.find("\nrazar_boot_stage 3\n"), std::string::npos) << res->body;
  EXPECT_EQ(res->body, metrics_.Serialize());
}

TEST_F(HttpServerTest, UnknownPathIs404Json) {
  StartServer();
  auto res = client_->Get("/nope");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 404);
  nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << res->body;
  EXPECT_EQ(body["error"], "no such endpoint: /nope");
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  StartServer();
  auto res = client_->Post("/health", "x", "text/plain");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  EXPECT_NE(res->body.find("not allowed"), std::string::npos) << res->body;
  res = client_->Delete("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  res = client_->Head("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << "HEAD is answered like GET";
}

TEST_F(HttpServerTest, ThrowingCallbackIs500AndServerSurvives) {
  StartServer();
  status_throws_ = true;
  auto res = client_->Get("/status");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 500);
  EXPECT_NE(res->body.find("status exploded"), std::string::npos);
  status_throws_ = false;
  ExpectStillServing();
}

TEST_F(HttpServerTest, GarbageBytesDoNotKillIt) {
  StartServer();
  static const char kNulInPath[] = "GET /\x00\xff HTTP/1.1\r\n\r\n";
  std::string binary;
  for (int i = 0; i < 2048; ++i) binary.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  const std::string cases[] = {
      binary,
      "GARBAGE\r\n\r\n",
      "GET /health HTTP/9.9\r\n\r\n",
      "GET\r\n\r\n",
      "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "GET /health HTTP/1.1\r\n" + std::string(100'000, 'H') + "\r\n\r\n",
      "POST /health HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nabc",
      "GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      std::string(kNulInPath, sizeof(kNulInPath) - 1),
      "",
  };
  for (const std::string& bytes : cases) {
    std::string reply = RawExchange(server_->port(), bytes);
    if (!reply.empty()) {
      EXPECT_EQ(reply.rfind("HTTP/1.1 ", 0), 0u) << reply.substr(0, 80);
      EXPECT_EQ(reply.find("HTTP/1.1 200"), std::string::npos) << "garbage must not succeed";
    }
    ExpectStillServing();
  }
  // A well-formed raw request still works on the same server.
  std::string reply = RawExchange(server_->port(),
                                  "GET /status HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: close\r\n\r\n",
                                  /*half_close=*/false);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
}

int ConnectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Regression: four clients sending a partial header line every few seconds
// stalled GET /health for as long as they kept sending (httplib bounds each
// read, not the request, and had four workers); four silent connections
// delayed it by seconds. Now /health answers at once beside them, and each
// slow connection is cut at its lifetime.
TEST_F(HttpServerTest, SlowAndSilentClientsDoNotStallHealth) {
  healthy_ = true;
  lifetime_ms_ = 1'500;
  StartServer();
  const uint16_t port = server_->port();
  std::vector<int> slow, silent;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(ConnectTo(port));
    silent.push_back(ConnectTo(port));
    ASSERT_GE(slow.back(), 0);
    ASSERT_GE(silent.back(), 0);
    ::send(slow.back(), "GET /health HTTP/1.1\r\n", 22, MSG_NOSIGNAL);
  }
  std::atomic<bool> trickling{true};
  std::thread trickle([&] {
    for (int round = 0; trickling && round < 60; ++round) {  // bounded: at most 6 s
      for (int fd : slow) ::send(fd, "X-Slow: a\r\n", 11, MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = client_->Get("/health");
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_LT(took, std::chrono::milliseconds(1500)) << "/health waited behind slow clients";
  }
  // The trickling connections are cut at their lifetime (here 1.5 s; plus
  // the watchdog's period and scheduling slack), long before httplib's own
  // limits would end them.
  char buf[256];
  for (int fd : slow) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    }
    EXPECT_EQ(n, 0) << "a slow connection was never closed by the server";
  }
  EXPECT_GE(server_->connections_cut(), 4u);
  EXPECT_EQ(server_->connections_unguarded(), 0u);
  trickling = false;
  trickle.join();
  for (int fd : slow) ::close(fd);
  for (int fd : silent) ::close(fd);
  ExpectStillServing();
}

TEST_F(HttpServerTest, PortInUseIsAClearError) {
  StartServer();
  HttpSpec spec = EphemeralSpec();
  spec.port = server_->port();
  HttpServer second(spec, {});
  Status s = second.Start();
  ASSERT_FALSE(s.ok()) << "two servers bound the same port";
  EXPECT_TRUE(s.IsIoError()) << s.ToString();
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(spec.port)), std::string::npos)
      << s.message();
  EXPECT_EQ(second.port(), 0);
  second.Stop();  // safe after a failed Start
  ExpectStillServing();
}

TEST_F(HttpServerTest, StopIsIdempotentAndRefusesConnectionsAfterwards) {
  StartServer();
  const uint16_t port = server_->port();
  EXPECT_TRUE(server_->running());
  EXPECT_TRUE(server_->Start().IsFailed()) << "second Start while running";
  server_->Stop();
  server_->Stop();
  EXPECT_FALSE(server_->running());
  httplib::Client after("127.0.0.1", port);
  after.set_connection_timeout(1, 0);
  EXPECT_FALSE(after.Get("/health")) << "still answering after Stop";
}

TEST_F(HttpServerTest, NullCallbacksAreSafe) {
  HttpServer bare(EphemeralSpec(), {});
  ASSERT_TRUE(bare.Start().ok());
  httplib::Client client("127.0.0.1", bare.port());
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  auto status = client.Get("/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->body, "{}");
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
}

TEST(HttpTokenTest, ConstantTimeCompareAndNoTokenMeansRefused) {
  EXPECT_TRUE(HttpServer::ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(HttpServer::ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(HttpServer::ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(HttpServer::ConstantTimeEquals("", ""));

  HttpSpec spec;
  HttpServer no_token(spec, {});
  EXPECT_FALSE(no_token.TokenMatches("")) << "no token configured: everything refused";
  spec.token = "s3cret";
  HttpServer with_token(spec, {});
  EXPECT_TRUE(with_token.TokenMatches("s3cret"));
  EXPECT_FALSE(with_token.TokenMatches("s3cre"));
  EXPECT_FALSE(with_token.TokenMatches(""));
}


// A degraded node says why on /health, and the status code follows the
// detail's own "healthy" (one reading: code and lists never disagree).
TEST(HttpServerHealthDetailTest, DegradedNodeAnswers503WithTheLists) {
  std::atomic<bool> healthy{false};
  HttpServer::Callbacks cb;
  cb.healthy = [] { return true; };  // ignored when there is a detail
  cb.health_detail = [&] {
    return nlohmann::json{{"healthy", healthy.load()},
                          {"node", healthy.load() ? "healthy" : "degraded"},
                          {"quarantined", {"db"}}};
  };
  HttpSpec spec;
  spec.port = 0;
  HttpServer server(spec, cb);
  ASSERT_TRUE(server.Start().ok());
  httplib::Client client("127.0.0.1", server.port());
  auto res = client.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  const auto body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["status"], "degraded");
  EXPECT_EQ(body["quarantined"], nlohmann::json({"db"}));
  healthy = true;
  res = client.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["status"], "ok");
  server.Stop();
}

}  // namespace
}  // namespace razar::orchestrator
