// The status of a component as RAZAR sees it: what the state file,
// `razar status`, /status and the status sinks spell.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <optional>
#include <string_view>

namespace razar::orchestrator {

enum class ComponentStatus {
  kPending,      // not started yet in this boot
  kStarting,     // launched, waiting for its probe
  kHealthy,      // probe passed
  kFailed,       // exited or failed its probe; retries may follow
  kQuarantined,  // gave up on it: quarantine/<name>.json exists
  kStopped,      // stopped on purpose (shutdown)
  kBlocked,      // not started because a dependency is quarantined or failed
};
// "pending", "starting", "healthy", "failed", "quarantined", "stopped", "blocked".
const char* ComponentStatusName(ComponentStatus status);
// Inverse of ComponentStatusName; nullopt for anything else.
std::optional<ComponentStatus> ParseComponentStatus(std::string_view name);

// A quarantined or blocked component has finished trying for this boot.
bool IsTerminal(ComponentStatus status);

}  // namespace razar::orchestrator
