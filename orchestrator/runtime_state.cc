#include "orchestrator/runtime_state.h"

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

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
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

Result<uint64_t> ReadProcessStartTime(pid_t pid) {
  if (pid <= 0) return Status::InvalidArgument("pid must be positive");
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream in(path);
  if (!in) return Status::NotFound("no process " + std::to_string(pid));
  std::string line;
  std::getline(in, line);
  // "pid (comm) state ppid ...": comm may contain spaces and ')', so fields
  // are counted after the last ')'. Field 3 (state) is the first one there;
  // starttime is field 22.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return Status::Corruption(path + ": no ')' in " + line);
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  for (int n = 3; n <= 22; ++n) {
    if (!(fields >> field)) return Status::Corruption(path + ": fewer than 22 fields");
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(field.c_str(), &end, 10);
  if (errno != 0 || end == field.c_str() || *end != '\0') {
    return Status::Corruption(path + ": bad starttime \"" + field + "\"");
  }
  return static_cast<uint64_t>(v);
}

// ---------------------------------------------------------------------------

Result<std::unique_ptr<LifecycleLog>> LifecycleLog::Open(const std::string& path,
                                                         storage::Env* env) {
  env = OrDefault(env);
  RAZAR_RETURN_IF_ERROR(env->CreateDirs(ParentDir(path)));
  // Not through Env::Open: the one-write-per-line atomicity needs O_APPEND
  // semantics, which Env's positional PWrite does not offer.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  return std::unique_ptr<LifecycleLog>(new LifecycleLog(path, fd, env));
}

LifecycleLog::~LifecycleLog() { ::close(fd_); }

Status LifecycleLog::Append(std::string_view event, std::string_view component,
                            std::string_view status, const nlohmann::json& details) {
  nlohmann::json line = {{"timestamp", FormatUtcIso8601(NowUnixMs(env_))},
                         {"event", event},
                         {"component", component},
                         {"status", status},
                         {"details", details.is_null() ? nlohmann::json("") : details}};
  std::string text = DumpJson(line) + "\n";
  ssize_t n;
  do {
    n = ::write(fd_, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno("write " + path_, errno);
  // A short write on a regular file means the disk is full; do not append
  // the tail separately (it would interleave with other writers).
  if (static_cast<size_t>(n) != text.size()) {
    return Status::IoError("short write to " + path_ + " (disk full?)", ENOSPC);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------

std::string FormatUtcIso8601(int64_t unix_ms, bool with_millis) {
  int64_t secs = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {  // floor division for times before 1970
    ms += 1000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[48];
  if (with_millis) {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
  } else {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}

std::optional<int64_t> ParseUtcIso8601(std::string_view text) {
  // Exactly "YYYY-MM-DDTHH:MM:SSZ" (20 chars) or with ".mmm" (24 chars).
  if (text.size() != 20 && text.size() != 24) return std::nullopt;
  std::string s(text);
  struct tm tm {};
  int ms = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  if (s.size() == 24) {
    if (s[19] != '.' || std::sscanf(s.c_str() + 20, "%3d", &ms) != 1) return std::nullopt;
    for (int i = 20; i < 23; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
    }
  }
  if (s.back() != 'Z') return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t secs = timegm(&tm);
  return static_cast<int64_t>(secs) * 1000 + ms;
}

int64_t NowUnixMs(storage::Env* env) { return OrDefault(env)->NowUnixNanos() / 1'000'000; }

std::string DumpJson(const nlohmann::json& json, int indent) {
  return json.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

Status WriteFileAtomically(storage::Env* env, const std::string& path, std::string_view contents) {
  env = OrDefault(env);
  const std::string tmp = path + ".tmp";
  Status s;
  {
    RAZAR_ASSIGN_OR_RETURN(int fd, env->Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    storage::ScopedFd closer(env, fd);
    s = env->PWrite(fd, contents.data(), contents.size(), 0);
    if (s.ok()) s = env->Fdatasync(fd);
    if (s.ok()) s = env->Close(closer.release());
  }
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) {
    env->Remove(tmp).IgnoreError();  // best effort: the target is untouched either way
    return s.WithContext("atomic write of " + path);
  }
  // After the rename the new contents are visible; the directory fsync makes
  // the rename itself survive a power loss.
  return env->SyncDir(ParentDir(path)).WithContext("atomic write of " + path);
}

Result<std::string> ReadWholeFile(storage::Env* env, const std::string& path, size_t max_bytes) {
  env = OrDefault(env);
  Result<int> fd = env->Open(path, O_RDONLY);
  if (!fd.ok()) {
    if (fd.status().err() == ENOENT) return Status::NotFound(path + ": no such file");
    return fd.status();
  }
  storage::ScopedFd closer(env, *fd);
  std::string text;
  char buf[64 * 1024];
  uint64_t offset = 0;
  for (;;) {
    RAZAR_ASSIGN_OR_RETURN(size_t n, env->PRead(*fd, buf, sizeof(buf), offset));
    if (n == 0) break;
    if (text.size() + n > max_bytes) {
      return Status::Corruption(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    text.append(buf, n);
    offset += n;
  }
  return text;
}

}  // namespace razar::orchestrator
