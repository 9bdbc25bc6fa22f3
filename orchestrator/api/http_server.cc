#include "orchestrator/api/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

#include <httplib.h>

#include "orchestrator/api/connection_guard.h"
#include "orchestrator/base/json_text.h"

namespace razar::orchestrator {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kAllow = "GET, HEAD";
constexpr time_t kIoTimeoutSec = 5;
constexpr size_t kMaxPayloadBytes = 64 * 1024;
// Workers. How long one connection may hold one (from accept to close,
// whatever the client sends) is connection_lifetime_ms_ (default 10 s): a
// request to these endpoints takes milliseconds, so a connection still
// open after that is a slow or hostile client (ConnectionGuard).
constexpr size_t kWorkerThreads = 16;
constexpr size_t kMaxConnections = 256;
// A connection that sends nothing is not handed to a worker at all for
// this long (TCP_DEFER_ACCEPT); the lifetime above bounds it after that.
constexpr int kDeferAcceptSec = 2;

void SetJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(DumpJson(body), kJson);
}

// Runs a handler body; a throwing callback becomes a 500, never a dead server.
template <typename Fn>
httplib::Server::Handler Guarded(Fn fn) {
  return [fn](const httplib::Request& req, httplib::Response& res) {
    try {
      fn(req, res);
    } catch (const std::exception& e) {
      SetJson(res, 500, {{"error", std::string("internal error: ") + e.what()}});
    } catch (...) {
      SetJson(res, 500, {{"error", "internal error"}});
    }
  };
}

// httplib's default sets SO_REUSEPORT, which lets a second server bind a
// port that is already in use and silently share its traffic. SO_REUSEADDR
// alone still allows a quick restart over TIME_WAIT connections.
void SocketOptions(int sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  int defer = kDeferAcceptSec;
  ::setsockopt(sock, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
}

}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  std::atomic<bool> listen_returned{false};
};

HttpServer::HttpServer(HttpSpec spec, Callbacks callbacks)
    : spec_(std::move(spec)), callbacks_(std::move(callbacks)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  if (impl_ != nullptr) return Status::Failed("http server already started");
  auto impl = std::make_unique<Impl>();
  httplib::Server& svr = impl->server;
  svr.set_socket_options(SocketOptions);
  // Called on the listen thread after bind, so port_ is known by then.
  svr.new_task_queue = [this] {
    return new ConnectionGuard(port_, kWorkerThreads, connection_lifetime_ms_, kMaxConnections,
                               &guard_stats_);
  };
  svr.set_read_timeout(kIoTimeoutSec, 0);
  svr.set_write_timeout(kIoTimeoutSec, 0);
  svr.set_keep_alive_timeout(kIoTimeoutSec);
  svr.set_payload_max_length(kMaxPayloadBytes);

  svr.Get("/health", Guarded([this](const httplib::Request&, httplib::Response& res) {
            // One reading: with a detail callback its "healthy" decides, so
            // the status code and the lists never disagree.
            nlohmann::json body = nlohmann::json::object();
            if (callbacks_.health_detail) body = callbacks_.health_detail();
            const bool ok = callbacks_.health_detail
                                ? body.is_object() && body.value("healthy", false)
                                : callbacks_.healthy && callbacks_.healthy();
            const std::string down = body.is_object() ? body.value("node", "unavailable")
                                                      : std::string("unavailable");
            if (!body.is_object()) body = nlohmann::json::object();
            body["status"] = ok ? "ok" : down;
            SetJson(res, ok ? 200 : 503, body);
          }));
  svr.Get("/status", Guarded([this](const httplib::Request&, httplib::Response& res) {
            SetJson(res, 200, callbacks_.status ? callbacks_.status() : nlohmann::json::object());
          }));
  svr.Get("/metrics", Guarded([this](const httplib::Request&, httplib::Response& res) {
            res.status = 200;
            res.set_content(callbacks_.metrics != nullptr ? callbacks_.metrics->Serialize() : "",
                            Metrics::kContentType);
          }));
  auto not_allowed = Guarded([](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Allow", kAllow);
    SetJson(res, 405, {{"error", "method " + req.method + " not allowed; use GET"}});
  });
  for (const char* path : {"/health", "/status", "/metrics"}) {
    svr.Post(path, not_allowed);
    svr.Put(path, not_allowed);
    svr.Patch(path, not_allowed);
    svr.Delete(path, not_allowed);
    svr.Options(path, not_allowed);
  }
  // Called for every status >= 400; keeps bodies the handlers already set.
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string error = res.status == 404 ? "no such endpoint: " + req.path
                                              : "HTTP error " + std::to_string(res.status);
        SetJson(res, res.status, {{"error", error}});
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        SetJson(res, 500, {{"error", "internal error"}});
      });

  errno = 0;
  int port = spec_.port == 0 ? svr.bind_to_any_port(spec_.bind)
                             : (svr.bind_to_port(spec_.bind, spec_.port) ? spec_.port : -1);
  if (port <= 0) {
    int err = errno;
    std::string why = err != 0 ? std::strerror(err) : "address in use or not available";
    return Status::IoError(
        "http: cannot listen on " + spec_.bind + ":" + std::to_string(spec_.port) + ": " + why,
        err);
  }
  impl_ = std::move(impl);
  port_ = static_cast<uint16_t>(port);
  Impl* raw = impl_.get();
  thread_ = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->listen_returned = true;
  });
  // httplib's stop() is a no-op until the listen loop has started, so Start
  // must not return (and allow a Stop) before it has. listen_after_bind sets
  // is_running() first thing, so this waits for thread start-up only.
  while (!raw->server.is_running() && !raw->listen_returned) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!raw->server.is_running()) {  // the listen loop failed at once
    thread_.join();
    impl_.reset();
    port_ = 0;
    return Status::IoError("http: server on " + spec_.bind + " stopped listening at once");
  }
  running_ = true;
  return Status::Ok();
}

void HttpServer::Stop() {
  if (impl_ == nullptr) return;
  impl_->server.stop();  // closes the listening socket; the listen loop drains the pool
  if (thread_.joinable()) thread_.join();
  impl_.reset();
  running_ = false;
}

bool HttpServer::TokenMatches(std::string_view presented) const {
  return !spec_.token.empty() && ConstantTimeEquals(spec_.token, presented);
}

bool HttpServer::ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // volatile: keeps the compiler from turning the loop into an early exit.
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace razar::orchestrator
