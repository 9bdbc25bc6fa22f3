// The parsed form of a boot config: what each component is, how it is
// probed, retried and stopped. Produced by config.h (JSON / YAML), consumed
// by the supervisor, the probes and the boot loop. Plain values; no logic.
//
// Defaults are drawn from the peers (systemd, Kubernetes probes,
// supervisord) and documented in docs/operations.md; every field below says
// its default.
//
// Thread safety: plain data; copy freely.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "storage/record_codec.h"  // storage::Layer

namespace razar::orchestrator {

enum class ProbeKind {
  kNone,     // no probe: healthy once the process has run for start_grace_ms
  kCommand,  // argv run to completion; exit 0 within timeout = healthy
  kHttp,     // GET url; any 2xx within timeout = healthy
  kTcp,      // connect(host:port) within timeout = healthy
  kNotify,   // READY=1 datagram on the component's NOTIFY_SOCKET
};
const char* ProbeKindName(ProbeKind k);

struct ProbeSpec {
  ProbeKind kind = ProbeKind::kNone;
  std::vector<std::string> command;  // kCommand: argv (never through a shell)
  std::string url;                   // kHttp: http://host:port/path
  std::string host;                  // kTcp
  uint16_t port = 0;                 // kTcp
  uint32_t period_ms = 10'000;       // Default 10 s (Kubernetes periodSeconds)
  uint32_t timeout_ms = 1'000;       // Default 1 s (Kubernetes timeoutSeconds)
  uint32_t failure_threshold = 3;    // Default 3 (Kubernetes failureThreshold)
};

struct BackoffSpec {
  uint32_t initial_ms = 100;         // Default 100 ms (systemd RestartSec)
  uint32_t max_ms = 60'000;          // Default 60 s
  bool jitter = true;                // Default true: full jitter, uniform in [0, delay]
  uint32_t reset_after_ms = 10'000;  // Default 10 s healthy resets the attempt count
};

struct ComponentSpec {
  std::string name;                  // unique; [A-Za-z0-9_.-]+, used in file names
  std::vector<std::string> command;  // argv; argv[0] looked up in PATH if it has no '/'
  // Components without `priority` get their index in the file, so the
  // original format boots in file order, one at a time. Lower first; equal
  // priorities start in parallel.
  int64_t priority = 0;
  storage::Layer layer = storage::Layer::root;  // Default root
  std::vector<std::string> depends_on;          // must be healthy before this starts
  ProbeSpec probe;                              // `health_check` argv = a kCommand probe
  uint32_t retries = 3;                         // Default 3 local retries after the first try
  BackoffSpec backoff;
  uint32_t start_timeout_ms = 90'000;      // Default 90 s (systemd TimeoutStartSec)
  // Without a probe: how long the process must keep running after launch to
  // count as healthy (supervisord's startsecs). 0: healthy once running.
  // Ignored when there is a probe (the probe decides). Default 1 s.
  uint32_t start_grace_ms = 1'000;
  uint32_t stop_timeout_ms = 10'000;       // Default 10 s (systemd TimeoutStopSec)
  std::map<std::string, std::string> env;  // added to RAZAR's environment
  std::string cwd;                         // Default: the config file's directory
  std::string source_dir;                  // where patches may apply (later issue)
};

struct HttpSpec {
  std::string bind = "127.0.0.1";  // Default loopback only
  uint16_t port = 8787;            // Default 8787; 0 disables the server
  std::string token;               // for mutating endpoints; empty: they are refused
  // A bind address other than loopback needs a token, unless this is set:
  // the operator's explicit, documented choice to serve /status and
  // /metrics to the network unauthenticated. Default false.
  bool allow_public_without_token = false;
};

struct BootConfig {
  std::string path;                       // the file it was read from (for messages)
  std::vector<ComponentSpec> components;  // in file order
  HttpSpec http;
};

// Where RAZAR keeps its runtime files, relative to a base directory
// (default: the current directory), matching the original RAZAR's paths.
struct RuntimePaths {
  std::string base = ".";
  std::string logs_dir() const { return base + "/logs"; }
  std::string state_file() const { return base + "/logs/razar_state.json"; }
  std::string lifecycle_log() const { return base + "/logs/razar.log"; }
  std::string component_logs_dir() const { return base + "/logs/components"; }
  std::string quarantine_dir() const { return base + "/quarantine"; }
  std::string quarantine_log() const { return base + "/docs/quarantine_log.md"; }
  std::string spine_dir() const { return base + "/logs/spine"; }
  std::string notify_dir() const { return base + "/logs/notify"; }
  // Held (flock) by a running `razar boot` for its whole life: one RAZAR
  // per base directory.
  std::string lock_file() const { return base + "/logs/razar.lock"; }
};

}  // namespace razar::orchestrator
