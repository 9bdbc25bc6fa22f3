// ValidateBootConfig: the cross-component checks (config.h).
#include <algorithm>
#include <map>
#include <set>

#include "orchestrator/config/address.h"
#include "orchestrator/config/config.h"
#include "orchestrator/config/names.h"
#include "orchestrator/config/reader.h"

namespace razar::orchestrator {
namespace {

using namespace config_internal;  // NOLINT: this folder's own helpers

// ---------------------------------------------------------------------------
// Cross-component validation.

Status ValidateComponent(const ComponentSpec& c, const std::string& file) {
  Where where(file, ComponentLabel(c.name));
  std::string problem = ComponentNameProblem(c.name);
  if (!problem.empty()) return where.Error("name", problem);
  if (c.command.empty()) {
    return where.Error("command", "empty command: expected at least the program");
  }
  if (c.command[0].empty()) return where.Error("command[0]", "empty program name");
  const ProbeSpec& p = c.probe;
  if (p.kind == ProbeKind::kCommand && (p.command.empty() || p.command[0].empty())) {
    return where.Error("probe.command", "empty command: expected at least the program");
  }
  if (p.kind == ProbeKind::kHttp) {
    problem = UrlProblem(p.url);
    if (!problem.empty()) return where.Error("probe.http", problem + ", got " + Quote(p.url));
  }
  if (p.kind == ProbeKind::kTcp && (p.host.empty() || p.port == 0)) {
    return where.Error("probe.tcp", "expected \"host:port\" with a port in 1..65535");
  }
  if (p.period_ms == 0 || p.timeout_ms == 0 || p.failure_threshold == 0) {
    return where.Error("probe", "period_ms, timeout_ms and failure_threshold must be positive");
  }
  if (c.backoff.initial_ms == 0) return where.Error("backoff.initial_ms", "must be positive");
  if (c.backoff.max_ms < c.backoff.initial_ms) {
    return where.Error("backoff.max_ms", "must be at least backoff.initial_ms (" +
                                             std::to_string(c.backoff.initial_ms) + ")");
  }
  if (c.start_timeout_ms == 0) return where.Error("start_timeout_ms", "must be positive");
  if (c.stop_timeout_ms == 0) return where.Error("stop_timeout_ms", "must be positive");
  std::set<std::string> seen;
  for (const std::string& dep : c.depends_on) {
    if (!seen.insert(dep).second) {
      return where.Error("depends_on", "lists " + Quote(dep) + " twice");
    }
  }
  return Status::Ok();
}

std::vector<std::string_view> Names(const BootConfig& config) {
  std::vector<std::string_view> names;
  for (const ComponentSpec& c : config.components) names.push_back(c.name);
  return names;
}

// The first dependency cycle in file order, as a -> b -> a; empty if none.
// Iterative DFS: a long dependency chain must not exhaust the stack.
std::vector<std::string> FindCycle(const BootConfig& config,
                                   const std::map<std::string, size_t>& index) {
  enum Color { kWhite, kGrey, kBlack };
  const auto& comps = config.components;
  std::vector<Color> color(comps.size(), kWhite);
  for (size_t root = 0; root < comps.size(); ++root) {
    if (color[root] != kWhite) continue;
    std::vector<std::pair<size_t, size_t>> stack = {{root, 0}};  // (node, next dep)
    color[root] = kGrey;
    while (!stack.empty()) {
      auto& [u, next] = stack.back();
      if (next == comps[u].depends_on.size()) {
        color[u] = kBlack;
        stack.pop_back();
        continue;
      }
      size_t v = index.at(comps[u].depends_on[next++]);
      if (color[v] == kGrey) {
        std::vector<std::string> cycle;
        auto from = std::find_if(stack.begin(), stack.end(), [v](auto& e) { return e.first == v; });
        for (auto it = from; it != stack.end(); ++it) cycle.push_back(comps[it->first].name);
        cycle.push_back(comps[v].name);
        return cycle;
      }
      if (color[v] == kWhite) {
        color[v] = kGrey;
        stack.push_back({v, 0});
      }
    }
  }
  return {};
}

}  // namespace

Status ValidateBootConfig(const BootConfig& config) {
  const std::string& file = config.path;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < config.components.size(); ++i) {
    const ComponentSpec& c = config.components[i];
    RAZAR_RETURN_IF_ERROR(ValidateComponent(c, file));
    auto [it, inserted] = index.emplace(c.name, i);
    if (!inserted) {
      return Where(file, ComponentLabel(c.name))
          .Error("name", "duplicate component name " + Quote(c.name) + " (components #" +
                             std::to_string(it->second + 1) + " and #" + std::to_string(i + 1) +
                             ")");
    }
  }
  const std::vector<std::string_view> names = Names(config);
  for (const ComponentSpec& c : config.components) {
    for (const std::string& dep : c.depends_on) {
      if (index.count(dep) == 0) {
        return Where(file, ComponentLabel(c.name))
            .Error("depends_on", "unknown component " + Quote(dep) + Suggest(dep, names));
      }
    }
  }
  std::vector<std::string> cycle = FindCycle(config, index);
  if (!cycle.empty()) {
    return Where(file, ComponentLabel(cycle[0]))
        .Error("depends_on", "dependency cycle " + JoinNames(cycle, " -> "));
  }
  for (const ComponentSpec& c : config.components) {
    for (const std::string& dep : c.depends_on) {
      const ComponentSpec& d = config.components[index.at(dep)];
      if (d.priority > c.priority) {
        return Where(file, ComponentLabel(c.name))
            .Error("depends_on", Quote(dep) + " has priority " + std::to_string(d.priority) +
                                     ", later than this component's " + std::to_string(c.priority) +
                                     "; it would never be started first (deadlock). Give " +
                                     Quote(dep) + " the same or a lower priority");
      }
    }
  }
  return Status::Ok();
}

}  // namespace razar::orchestrator
