#include "orchestrator/config/plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "orchestrator/config/config.h"  // ValidateBootConfig
#include "orchestrator/config/reader.h"  // JoinNames

namespace razar::orchestrator {

using config_internal::JoinNames;

size_t BootPlan::ComponentCount() const {
  size_t n = 0;
  for (const BootStage& s : stages) n += s.components.size();
  return n;
}

int BootPlan::StageOf(std::string_view name) const {
  for (size_t i = 0; i < stages.size(); ++i) {
    for (const PlannedComponent& c : stages[i].components) {
      if (c.name == name) return static_cast<int>(i);
    }
  }
  return -1;
}

Result<BootPlan> ComputeBootPlan(const BootConfig& config) {
  RAZAR_RETURN_IF_ERROR(ValidateBootConfig(config));
  std::map<std::string, std::vector<std::string>> dependents;  // file order
  for (const ComponentSpec& c : config.components) {
    for (const std::string& dep : c.depends_on) dependents[dep].push_back(c.name);
  }
  std::map<int64_t, BootStage> by_priority;  // ordered: ascending priority
  for (const ComponentSpec& c : config.components) {
    BootStage& stage = by_priority[c.priority];
    stage.priority = c.priority;
    PlannedComponent planned;
    planned.name = c.name;
    planned.layer = c.layer;
    planned.probe = c.probe.kind;
    planned.depends_on = c.depends_on;
    planned.dependents = std::move(dependents[c.name]);
    stage.components.push_back(std::move(planned));
  }
  BootPlan plan;
  plan.config_path = config.path;
  for (auto& [priority, stage] : by_priority) plan.stages.push_back(std::move(stage));
  return plan;
}

std::string FormatPlan(const BootPlan& plan) {
  std::vector<std::vector<std::string>> rows = {
      {"STAGE", "PRIORITY", "COMPONENT", "LAYER", "PROBE", "DEPENDS ON"}};
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    for (const PlannedComponent& c : plan.stages[i].components) {
      rows.push_back({std::to_string(i + 1), std::to_string(plan.stages[i].priority), c.name,
                      storage::LayerName(c.layer), ProbeKindName(c.probe),
                      c.depends_on.empty() ? "-" : JoinNames(c.depends_on, ", ")});
    }
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t col = 0; col < row.size(); ++col) {
      width[col] = std::max(width[col], row[col].size());
    }
  }
  std::string out = "Boot plan for " + plan.config_path + ": " +
                    std::to_string(plan.ComponentCount()) + " components in " +
                    std::to_string(plan.stages.size()) +
                    " stages (components of one stage start in parallel)\n\n";
  for (const auto& row : rows) {
    std::string line;
    for (size_t col = 0; col < row.size(); ++col) {
      line += row[col];
      if (col + 1 < row.size()) line += std::string(width[col] - row[col].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

nlohmann::json PlanToJson(const BootPlan& plan) {
  nlohmann::json stages = nlohmann::json::array();
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    nlohmann::json comps = nlohmann::json::array();
    for (const PlannedComponent& c : plan.stages[i].components) {
      comps.push_back({{"name", c.name},
                       {"layer", storage::LayerName(c.layer)},
                       {"probe", ProbeKindName(c.probe)},
                       {"depends_on", c.depends_on},
                       {"dependents", c.dependents}});
    }
    stages.push_back({{"stage", i + 1},
                      {"priority", plan.stages[i].priority},
                      {"components", std::move(comps)}});
  }
  return {{"config", plan.config_path}, {"stages", std::move(stages)}};
}

std::vector<std::string> TransitiveDependents(const BootConfig& config, std::string_view name) {
  std::map<std::string_view, std::vector<std::string_view>> dependents;
  for (const ComponentSpec& c : config.components) {
    for (const std::string& dep : c.depends_on) dependents[dep].push_back(c.name);
  }
  std::set<std::string_view> blocked;
  std::vector<std::string_view> queue = {name};
  while (!queue.empty()) {
    std::string_view n = queue.back();
    queue.pop_back();
    for (std::string_view d : dependents[n]) {
      if (blocked.insert(d).second) queue.push_back(d);
    }
  }
  std::vector<std::string> out;  // file order, not discovery order
  for (const ComponentSpec& c : config.components) {
    if (c.name != name && blocked.count(c.name) != 0) out.push_back(c.name);
  }
  return out;
}

}  // namespace razar::orchestrator
