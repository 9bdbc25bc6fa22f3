// The boot plan: stages in ascending priority. All components of a stage are
// launched together; within a stage a component still waits for its
// dependencies (which may be in the same stage) to be healthy. `razar check`
// prints it.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/config/spec.h"
#include "storage/status.h"

namespace razar::orchestrator {


struct PlannedComponent {
  std::string name;
  storage::Layer layer = storage::Layer::root;
  ProbeKind probe = ProbeKind::kNone;
  std::vector<std::string> depends_on;  // as configured
  std::vector<std::string> dependents;  // direct dependents, in file order
};

struct BootStage {
  int64_t priority = 0;
  std::vector<PlannedComponent> components;  // file order
};

struct BootPlan {
  std::string config_path;
  std::vector<BootStage> stages;  // ascending priority
  size_t ComponentCount() const;
  // 0-based index of the stage holding `name`; -1 if none does.
  int StageOf(std::string_view name) const;
};

// InvalidArgument if the config does not pass ValidateBootConfig.
Result<BootPlan> ComputeBootPlan(const BootConfig& config);

// A human table, one row per component:
//   STAGE  PRIORITY  COMPONENT  LAYER  PROBE  DEPENDS ON
std::string FormatPlan(const BootPlan& plan);
// {"config": path, "stages": [{"stage": 1, "priority": 0, "components":
//   [{"name", "layer", "probe", "depends_on": [...], "dependents": [...]}]}]}
nlohmann::json PlanToJson(const BootPlan& plan);

// Every component that directly or transitively depends on `name`, in file
// order (what is blocked when `name` is quarantined).
std::vector<std::string> TransitiveDependents(const BootConfig& config, std::string_view name);

}  // namespace razar::orchestrator
