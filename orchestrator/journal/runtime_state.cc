#include "orchestrator/journal/runtime_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>

namespace razar::orchestrator {
namespace {

constexpr int kStateVersion = 1;

storage::Env* OrDefault(storage::Env* env) {
  return env != nullptr ? env : storage::Env::Default();
}

// ---- JSON -> RuntimeState, with a message for the first structural error ----

class StateReader {
 public:
  explicit StateReader(std::string_view source) : source_(source) {}

  Status Error(const std::string& key, const std::string& what) const {
    return Status::Corruption(source_ + ": key \"" + key + "\": " + what);
  }

  // Reads an optional string member; absent or null leaves *out unchanged.
  Status String(const nlohmann::json& obj, const char* member, const std::string& key,
                std::string* out) const {
    auto it = obj.find(member);
    if (it == obj.end() || it->is_null()) return Status::Ok();
    if (!it->is_string()) return Error(key, "expected a string, got " + DumpJson(*it));
    *out = it->get<std::string>();
    return Status::Ok();
  }

  template <typename Int>
  Status Integer(const nlohmann::json& obj, const char* member, const std::string& key,
                 Int* out) const {
    auto it = obj.find(member);
    if (it == obj.end() || it->is_null()) return Status::Ok();
    if (it->is_number_unsigned()) {
      uint64_t v = it->get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<Int>::max())) {
        return Error(key, "integer out of range: " + DumpJson(*it));
      }
      *out = static_cast<Int>(v);
      return Status::Ok();
    }
    if (it->is_number_integer()) {
      int64_t v = it->get<int64_t>();
      if (v < static_cast<int64_t>(std::numeric_limits<Int>::min())) {
        return Error(key, "integer out of range: " + DumpJson(*it));
      }
      *out = static_cast<Int>(v);
      return Status::Ok();
    }
    return Error(key, "expected an integer, got " + DumpJson(*it));
  }

  Status Time(const nlohmann::json& obj, const char* member, const std::string& key,
              int64_t* out) const {
    std::string text;
    RAZAR_RETURN_IF_ERROR(String(obj, member, key, &text));
    if (text.empty()) return Status::Ok();
    std::optional<int64_t> ms = ParseUtcIso8601(text);
    if (!ms) return Error(key, "expected an ISO-8601 UTC time, got \"" + text + "\"");
    *out = *ms;
    return Status::Ok();
  }

  Status Component(const nlohmann::json& j, size_t index, ComponentRuntime* c) const {
    const std::string prefix = "components[" + std::to_string(index) + "]";
    if (!j.is_object()) return Error(prefix, "expected an object, got " + DumpJson(j));
    RAZAR_RETURN_IF_ERROR(String(j, "name", prefix + ".name", &c->name));
    if (c->name.empty()) return Error(prefix + ".name", "missing component name");
    std::string status = "pending";
    RAZAR_RETURN_IF_ERROR(String(j, "status", prefix + ".status", &status));
    std::optional<ComponentStatus> parsed = ParseComponentStatus(status);
    if (!parsed) return Error(prefix + ".status", "unknown status \"" + status + "\"");
    c->status = *parsed;
    RAZAR_RETURN_IF_ERROR(Integer(j, "attempts", prefix + ".attempts", &c->attempts));
    RAZAR_RETURN_IF_ERROR(Integer(j, "pid", prefix + ".pid", &c->pid));
    if (c->pid < 0) return Error(prefix + ".pid", "negative pid");
    RAZAR_RETURN_IF_ERROR(
        Integer(j, "pid_start_time", prefix + ".pid_start_time", &c->pid_start_time));
    if (j.contains("output_pipe_inode")) {
      RAZAR_RETURN_IF_ERROR(
          Integer(j, "output_pipe_inode", prefix + ".output_pipe_inode", &c->output_pipe_inode));
    }
    RAZAR_RETURN_IF_ERROR(String(j, "last_error", prefix + ".last_error", &c->last_error));
    return Time(j, "updated", prefix + ".updated", &c->updated_unix_ms);
  }

  Status State(const nlohmann::json& j, RuntimeState* state) const {
    if (!j.is_object()) return Status::Corruption(source_ + ": not a JSON object");
    int version = kStateVersion;
    RAZAR_RETURN_IF_ERROR(Integer(j, "version", "version", &version));
    if (version != kStateVersion) {
      return Error("version", "unsupported state file version " + std::to_string(version) +
                                  " (this RAZAR reads version " + std::to_string(kStateVersion) +
                                  ")");
    }
    RAZAR_RETURN_IF_ERROR(Integer(j, "razar_pid", "razar_pid", &state->razar_pid));
    RAZAR_RETURN_IF_ERROR(Time(j, "boot_started", "boot_started", &state->boot_started_unix_ms));
    RAZAR_RETURN_IF_ERROR(String(j, "last_healthy_component", "last_healthy_component",
                                 &state->last_healthy_component));
    auto comps = j.find("components");
    if (comps == j.end() || comps->is_null()) return Status::Ok();
    if (!comps->is_array()) {
      return Error("components", "expected an array, got " + DumpJson(*comps));
    }
    for (size_t i = 0; i < comps->size(); ++i) {
      ComponentRuntime c;
      RAZAR_RETURN_IF_ERROR(Component((*comps)[i], i, &c));
      if (state->Find(c.name) != nullptr) {
        return Error("components[" + std::to_string(i) + "].name",
                     "duplicate component \"" + c.name + "\"");
      }
      state->components.push_back(std::move(c));
    }
    return Status::Ok();
  }

 private:
  std::string source_;
};

std::string TimeOrEmpty(int64_t unix_ms) {
  return unix_ms == 0 ? std::string() : FormatUtcIso8601(unix_ms);
}

}  // namespace

// ---------------------------------------------------------------------------

ComponentRuntime* RuntimeState::Find(std::string_view name) {
  for (ComponentRuntime& c : components) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const ComponentRuntime* RuntimeState::Find(std::string_view name) const {
  return const_cast<RuntimeState*>(this)->Find(name);
}

ComponentRuntime& RuntimeState::Upsert(std::string_view name) {
  if (ComponentRuntime* c = Find(name)) return *c;
  ComponentRuntime& c = components.emplace_back();
  c.name = std::string(name);
  return c;
}

nlohmann::json RuntimeStateToJson(const RuntimeState& state) {
  nlohmann::json comps = nlohmann::json::array();
  for (const ComponentRuntime& c : state.components) {
    comps.push_back({{"name", c.name},
                     {"status", ComponentStatusName(c.status)},
                     {"attempts", c.attempts},
                     {"pid", c.pid},
                     {"pid_start_time", c.pid_start_time},
                     {"output_pipe_inode", c.output_pipe_inode},
                     {"last_error", c.last_error},
                     {"updated", TimeOrEmpty(c.updated_unix_ms)}});
  }
  // nlohmann's default object keeps keys sorted; fine for a machine file.
  return {{"version", kStateVersion},
          {"razar_pid", state.razar_pid},
          {"boot_started", TimeOrEmpty(state.boot_started_unix_ms)},
          {"last_healthy_component", state.last_healthy_component},
          {"components", std::move(comps)}};
}

NodeHealth NodeHealthOf(const RuntimeState& state) {
  NodeHealth h;
  for (const ComponentRuntime& c : state.components) {
    if (c.status == ComponentStatus::kHealthy) continue;
    h.healthy = false;
    if (c.status == ComponentStatus::kQuarantined) {
      h.quarantined.push_back(c.name);
    } else if (c.status == ComponentStatus::kBlocked) {
      h.blocked.push_back(c.name);
    } else {
      h.unhealthy.push_back(c.name);
    }
  }
  return h;
}

nlohmann::json NodeHealthJson(const RuntimeState& state) {
  const NodeHealth h = NodeHealthOf(state);
  return {{"healthy", h.healthy},
          {"node", h.healthy ? "healthy" : "degraded"},
          {"quarantined", h.quarantined},
          {"blocked", h.blocked},
          {"unhealthy", h.unhealthy}};
}

Result<RuntimeState> RuntimeStateFromJson(const nlohmann::json& json, std::string_view source) {
  RuntimeState state;
  RAZAR_RETURN_IF_ERROR(StateReader(source).State(json, &state));
  return state;
}

Status SaveRuntimeState(const RuntimePaths& paths, const RuntimeState& state, storage::Env* env) {
  env = OrDefault(env);
  RAZAR_RETURN_IF_ERROR(env->CreateDirs(paths.logs_dir()));
  const std::string text = DumpJson(RuntimeStateToJson(state), 2) + "\n";
  return WriteFileAtomically(env, paths.state_file(), text);
}

Result<RuntimeState> LoadRuntimeState(const RuntimePaths& paths, storage::Env* env) {
  const std::string path = paths.state_file();
  RAZAR_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(OrDefault(env), path));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Status::Corruption(path + ": not valid JSON (" + std::to_string(text.size()) +
                              " bytes); delete it to boot from scratch");
  }
  return RuntimeStateFromJson(json, path);
}

// ---------------------------------------------------------------------------

}  // namespace razar::orchestrator
