#include "orchestrator/journal/component_status.h"

namespace razar::orchestrator {

const char* ComponentStatusName(ComponentStatus status) {
  switch (status) {
    case ComponentStatus::kPending:
      return "pending";
    case ComponentStatus::kStarting:
      return "starting";
    case ComponentStatus::kHealthy:
      return "healthy";
    case ComponentStatus::kFailed:
      return "failed";
    case ComponentStatus::kQuarantined:
      return "quarantined";
    case ComponentStatus::kStopped:
      return "stopped";
    case ComponentStatus::kBlocked:
      return "blocked";
  }
  return "unknown";
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
