// Health probes: one check of one component, bounded by its timeout.
//
//   kNone     healthy at once ("no probe").
//   kCommand  argv run without a shell, in its own process group, stdin
//             /dev/null, stdout+stderr kept (last 512 bytes) for the
//             message; healthy on exit 0. On timeout the group is SIGKILLed
//             and reaped; after a normal exit leftovers of the group are
//             killed too, so a probe never leaves processes behind.
//   kHttp     GET through libcurl, no proxy (http_proxy is ignored),
//             http/https only, CURLOPT_NOSIGNAL; healthy on 2xx. A 3xx is
//             followed only to the same scheme, host and port (at most 5
//             hops, within the same timeout); a redirect elsewhere is
//             unhealthy.
//   kTcp      getaddrinfo, then a non-blocking connect to each address in
//             turn; healthy on the first connection.
//   kNotify   healthy once READY=1 has arrived on the component's
//             NotifySocket (sticky until NotifySocket::ResetState); waits
//             up to the timeout for it.
//
// The timeout covers the whole probe, name resolution included (a hung
// resolver is abandoned on a detached thread, which finishes on its own).
// A command probe may overrun it by the time needed to kill and reap.
//
// Thread safety: the functions are safe to call concurrently; ProbeTracker
// is not (one per component).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/os/notify.h"
#include "orchestrator/config/spec.h"

namespace razar::orchestrator {

struct ProbeResult {
  bool healthy = false;
  // What was seen: "exit 0", "HTTP 204", "connected to 127.0.0.1:8080",
  // "READY=1 from pid 42", or why it failed ("HTTP 500: <body start>",
  // "exit 1: <output tail>", "timed out after 1000 ms", curl's error, ...).
  std::string detail;
  double seconds = 0;  // how long the probe took
};

// What a probe needs besides its ProbeSpec.
struct ProbeContext {
  std::map<std::string, std::string> env;  // kCommand: added to RAZAR's environment
  std::string cwd;                         // kCommand: working directory; empty: RAZAR's
  NotifySocket* notify = nullptr;          // kNotify: borrowed, must outlive the call
};

// The context a component's own probe runs in: its env, cwd and socket.
ProbeContext ContextFor(const ComponentSpec& component, NotifySocket* notify);

// Runs one probe of `spec.kind`, bounded by spec.timeout_ms.
ProbeResult RunProbe(const ProbeSpec& spec, const ProbeContext& context);

ProbeResult RunCommandProbe(const std::vector<std::string>& argv, uint32_t timeout_ms,
                            const std::map<std::string, std::string>& env = {},
                            const std::string& cwd = "");
ProbeResult RunHttpProbe(const std::string& url, uint32_t timeout_ms);
ProbeResult RunTcpProbe(const std::string& host, uint16_t port, uint32_t timeout_ms);
// Unhealthy ("no notify socket") when `notify` is null.
ProbeResult RunNotifyProbe(NotifySocket* notify, uint32_t timeout_ms);

// Folds probe results into a health verdict with ProbeSpec's
// failure_threshold (Kubernetes semantics): one success makes the
// component healthy; `failure_threshold` consecutive failures make it
// unhealthy. Before the first success, and while failures stay below the
// threshold, the verdict does not change.
class ProbeTracker {
 public:
  enum class Health { kUnknown, kHealthy, kUnhealthy };

  // A threshold of 0 is treated as 1.
  explicit ProbeTracker(uint32_t failure_threshold);

  // Returns the verdict after `result`.
  Health Update(const ProbeResult& result);
  Health health() const { return health_; }
  uint32_t consecutive_failures() const { return consecutive_failures_; }
  // Back to kUnknown (e.g. after a restart).
  void Reset();

 private:
  uint32_t failure_threshold_;
  uint32_t consecutive_failures_ = 0;
  Health health_ = Health::kUnknown;
};

const char* HealthName(ProbeTracker::Health health);

}  // namespace razar::orchestrator
