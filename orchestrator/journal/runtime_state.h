// The state file `logs/razar_state.json`: what the boot loop knows about
// every component, so a restarted RAZAR can adopt what is still running and
// resume.
//
// State file format (version 1), pretty-printed JSON:
//   {"version": 1, "razar_pid": 1234, "boot_started": "2024-05-01T12:00:00.000Z",
//    "last_healthy_component": "db",
//    "components": [{"name": "db", "status": "healthy", "attempts": 1, "pid": 4321,
//                    "pid_start_time": 987654, "last_error": "",
//                    "updated": "2024-05-01T12:00:01.250Z"}]}
// Unknown keys are ignored on load (forward compatibility); wrong types,
// unknown statuses and a newer version are Corruption.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/base/files.h"
#include "orchestrator/base/json_text.h"
#include "orchestrator/base/time_format.h"
#include "orchestrator/config/spec.h"
#include "orchestrator/journal/component_status.h"
#include "storage/env.h"
#include "storage/status.h"

namespace razar::orchestrator {

struct ComponentRuntime {
  std::string name;
  ComponentStatus status = ComponentStatus::kPending;
  uint32_t attempts = 0;  // launches so far in this boot (first try included)
  pid_t pid = 0;          // 0: no process
  // Field 22 of /proc/<pid>/stat (clock ticks since system boot) read when
  // the process was launched. A pid whose current start time differs is a
  // reused pid, not our component. 0: unknown.
  uint64_t pid_start_time = 0;
  // Inode of the pipe capturing its output (Process::output_pipe_inode), so
  // an adopting RAZAR reattaches that pipe and no other. 0: unknown / none.
  uint64_t output_pipe_inode = 0;
  std::string last_error;       // empty: none
  int64_t updated_unix_ms = 0;  // when this entry last changed; 0: never
};

struct RuntimeState {
  std::string last_healthy_component;        // empty: none yet
  std::vector<ComponentRuntime> components;  // boot order
  int64_t boot_started_unix_ms = 0;
  pid_t razar_pid = 0;

  // The entry for `name`, or nullptr.
  ComponentRuntime* Find(std::string_view name);
  const ComponentRuntime* Find(std::string_view name) const;
  // The entry for `name`, appended (status pending) if absent.
  ComponentRuntime& Upsert(std::string_view name);
};

nlohmann::json RuntimeStateToJson(const RuntimeState& state);

// Node health, the one rule behind `razar boot`'s and `razar status`'s exit
// status, /health and /status: the node is healthy iff every component is
// healthy. A quarantined or blocked component leaves it degraded until an
// operator resolves it; a failed, starting or pending one (a boot or a
// restart in progress) too, until it is healthy again.
struct NodeHealth {
  bool healthy = true;
  std::vector<std::string> quarantined;
  std::vector<std::string> blocked;
  std::vector<std::string> unhealthy;  // failed, starting, pending, stopped
};
NodeHealth NodeHealthOf(const RuntimeState& state);
// {"healthy": bool, "node": "healthy"|"degraded", "quarantined": [...],
//  "blocked": [...], "unhealthy": [...]}
nlohmann::json NodeHealthJson(const RuntimeState& state);
// Corruption naming `source` and the offending key on any structural error.
Result<RuntimeState> RuntimeStateFromJson(const nlohmann::json& json, std::string_view source);

// Writes paths.state_file() atomically (creating logs/ if needed): temp file
// in the same directory, fdatasync, rename over the old file, fsync of the
// directory. On failure the previous state file is left untouched and the
// temp file is removed (best effort).
// REQUIRES: one saver at a time per RuntimePaths (the boot loop owns it).
// `env` is borrowed; default Env::Default().
Status SaveRuntimeState(const RuntimePaths& paths, const RuntimeState& state,
                        storage::Env* env = nullptr);
// NotFound if the file does not exist; Corruption (with the file name and
// the reason) if it is not valid JSON or not a state file; IoError if it
// cannot be read. Never crashes on any file content.
Result<RuntimeState> LoadRuntimeState(const RuntimePaths& paths, storage::Env* env = nullptr);

}  // namespace razar::orchestrator
