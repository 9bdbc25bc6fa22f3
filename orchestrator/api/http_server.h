// HttpServer: RAZAR's observability endpoints on cpp-httplib.
//
//   GET /health   200 {"status":"ok"} when Callbacks::healthy() says so,
//                 503 {"status":"unavailable"} otherwise; with
//                 Callbacks::health_detail, its object is merged into the
//                 body and its "node" field ("degraded") is the 503 status
//   GET /status   200, the JSON Callbacks::status() returns
//   GET /metrics  200, Metrics::Serialize(), Content-Type
//                 "text/plain; version=0.0.4"
//   HEAD of the same paths is answered like GET without a body. Another
//   method on these paths is 405 (with an Allow header); any other path is
//   404. Error bodies are JSON: {"error": "..."}.
//
// The server binds HttpSpec::bind (default 127.0.0.1) and HttpSpec::port;
// port 0 binds an ephemeral port (tests), reported by port(). Whether the
// boot loop runs the server at all (spec.h: port 0 in the config disables
// it) is the caller's decision. Requests are served by a pool of 16
// workers with read/write timeouts and a bounded request size; every
// connection has a lifetime of 10 s from accept (ConnectionGuard,
// connection_guard.h), at most 256 are open at once, and one that sends
// nothing is not given a worker for its first 2 s (TCP_DEFER_ACCEPT), so
// slow, silent or hostile clients cannot stall /health. Malformed requests
// get a 400 from httplib.
//
// Mutating endpoints are not part of this server yet. When they come they
// must call TokenMatches() (constant-time) on the bearer token; with no
// token configured they must be refused. The token is never logged.
//
// Thread safety: Start and Stop are called from one owning thread. The
// callbacks run on server threads, concurrently with each other and with
// the rest of RAZAR: they must be thread-safe and must not throw (if they
// do, the request gets a 500 and the server keeps running). Borrowed
// pointers (metrics) must outlive the server; Stop() (or the destructor)
// returns only after every handler has finished.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "orchestrator/api/connection_stats.h"
#include "orchestrator/metrics/metrics.h"
#include "orchestrator/config/spec.h"
#include "storage/status.h"

namespace razar::orchestrator {

class HttpServer {
 public:
  struct Callbacks {
    std::function<bool()> healthy;           // null: always 503
    std::function<nlohmann::json()> health_detail;  // null: none (see /health)
    std::function<nlohmann::json()> status;  // null: {}
    const Metrics* metrics = nullptr;        // borrowed; null: empty /metrics
  };

  HttpServer(HttpSpec spec, Callbacks callbacks);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on a background thread; returns once the server
  // accepts connections. IoError naming the address if it cannot bind (port
  // in use, address not local, permission); Failed if already started.
  Status Start();
  // Stops accepting, waits for in-flight requests and joins the thread.
  // Idempotent; safe if Start failed or was never called.
  void Stop();

  // The bound port (the ephemeral one when spec.port == 0). 0 before Start.
  uint16_t port() const { return port_; }
  bool running() const { return running_; }
  // Connections shut down for outliving their lifetime (or over the limit),
  // and connections served without a lifetime (their socket not found).
  uint64_t connections_cut() const { return guard_stats_.cut.load(); }
  uint64_t connections_unguarded() const { return guard_stats_.unguarded.load(); }
  // Default 10 s. REQUIRES: before Start (tests shorten it).
  void set_connection_lifetime_ms(uint32_t ms) { connection_lifetime_ms_ = ms; }

  // True iff a token is configured and `presented` equals it. Compares in
  // time independent of where the strings differ (no timing oracle).
  bool TokenMatches(std::string_view presented) const;
  // Constant-time equality for secrets (length is not hidden).
  static bool ConstantTimeEquals(std::string_view a, std::string_view b);

 private:
  struct Impl;  // keeps httplib out of this header
  const HttpSpec spec_;
  const Callbacks callbacks_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<uint16_t> port_{0};
  ConnectionGuardStats guard_stats_;
  uint32_t connection_lifetime_ms_ = 10'000;
};

}  // namespace razar::orchestrator
