#include "orchestrator/journal/lifecycle_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "orchestrator/base/files.h"
#include "orchestrator/base/json_text.h"
#include "orchestrator/base/time_format.h"

namespace razar::orchestrator {
namespace {

storage::Env* OrDefault(storage::Env* env) {
  return env != nullptr ? env : storage::Env::Default();
}

}  // namespace

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
  return AppendWhole(fd_, DumpJson(line) + "\n", path_);
}


}  // namespace razar::orchestrator
