#include "orchestrator/journal/component_status.h"

#include <iterator>

namespace razar::orchestrator {

const char* ComponentStatusName(ComponentStatus status) {
  // In enum order.
  static constexpr const char* kNames[] = {"pending",     "starting", "healthy", "failed",
                                           "quarantined", "stopped",  "blocked"};
  const auto i = static_cast<size_t>(status);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

std::optional<ComponentStatus> ParseComponentStatus(std::string_view name) {
  for (ComponentStatus s :
       {ComponentStatus::kPending, ComponentStatus::kStarting, ComponentStatus::kHealthy,
        ComponentStatus::kFailed, ComponentStatus::kQuarantined, ComponentStatus::kStopped,
        ComponentStatus::kBlocked}) {
    if (name == ComponentStatusName(s)) return s;
  }
  return std::nullopt;
}

bool IsTerminal(ComponentStatus status) {
  return status == ComponentStatus::kQuarantined || status == ComponentStatus::kBlocked;
}

}  // namespace razar::orchestrator
