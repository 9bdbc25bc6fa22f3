// RAZAR's runtime files: the state file `logs/razar_state.json` (what the
// boot loop knows about every component, so a restarted RAZAR can adopt
// what is still running and resume) and the lifecycle log `logs/razar.log`
// (one JSON object per line per state change). Also the small file helpers
// the other runtime-file writers (quarantine.h) share: atomic replace, UTC
// timestamps and a JSON dump that never throws.
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

#include "orchestrator/spec.h"
#include "storage/env.h"
#include "storage/status.h"

namespace razar::orchestrator {

// ---------------------------------------------------------------------------
// Component status as the state file, `razar status` and /status spell it.
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

// Field 22 (starttime) of /proc/<pid>/stat. NotFound if there is no such
// process; Corruption if the file cannot be parsed.
Result<uint64_t> ReadProcessStartTime(pid_t pid);

// ---------------------------------------------------------------------------
// LifecycleLog: appends {"timestamp","event","component","status","details"}
// as one JSON line per call to logs/razar.log.
//
// Thread safety: Append may be called from any thread. The file is opened
// O_APPEND and each line is one write(2), so lines from concurrent threads
// (or processes, e.g. `razar resolve` while `razar boot` runs) never
// interleave. The timestamp is UTC with milliseconds from `env`'s clock.
class LifecycleLog {
 public:
  // Opens (creating it and its directory if needed) the log at `path`.
  // `env` is borrowed, must outlive the log; default Env::Default().
  static Result<std::unique_ptr<LifecycleLog>> Open(const std::string& path,
                                                    storage::Env* env = nullptr);
  ~LifecycleLog();
  LifecycleLog(const LifecycleLog&) = delete;
  LifecycleLog& operator=(const LifecycleLog&) = delete;

  // `details` is any JSON value (a string or an object); null is written as
  // "". Must never contain secrets: it goes to disk verbatim. Invalid UTF-8
  // is replaced, not rejected. IoError if the write fails.
  Status Append(std::string_view event, std::string_view component, std::string_view status,
                const nlohmann::json& details = nullptr);

  const std::string& path() const { return path_; }

 private:
  LifecycleLog(std::string path, int fd, storage::Env* env)
      : path_(std::move(path)), fd_(fd), env_(env) {}
  const std::string path_;
  const int fd_;
  storage::Env* const env_;
};

// ---------------------------------------------------------------------------
// Helpers shared by the runtime-file writers.

// "2024-05-01T12:00:00.123Z" (with_millis) or "2024-05-01T12:00:00Z".
std::string FormatUtcIso8601(int64_t unix_ms, bool with_millis = true);
// Accepts both forms above; nullopt for anything else.
std::optional<int64_t> ParseUtcIso8601(std::string_view text);
// Current wall-clock time of `env` (default Env::Default()) in ms.
int64_t NowUnixMs(storage::Env* env = nullptr);

// json.dump() that replaces invalid UTF-8 instead of throwing (strings from
// child processes and files are not guaranteed to be UTF-8). indent < 0:
// one line.
std::string DumpJson(const nlohmann::json& json, int indent = -1);

// Replaces `path` with `contents` atomically: `<path>.tmp` in the same
// directory, fdatasync (covers the data and the file size), rename, fsync of
// the directory. The directory must exist. On failure `path` is unchanged.
// REQUIRES: no concurrent writer of the same path (the temp name is fixed so
// a crash leaves at most one stale temp file, overwritten next time).
Status WriteFileAtomically(storage::Env* env, const std::string& path, std::string_view contents);
// The whole file. NotFound if it does not exist; Corruption if it is larger
// than `max_bytes` (runtime files are small; this bounds a runaway file).
Result<std::string> ReadWholeFile(storage::Env* env, const std::string& path,
                                  size_t max_bytes = 64 << 20);

}  // namespace razar::orchestrator
