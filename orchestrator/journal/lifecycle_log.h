// The lifecycle log `logs/razar.log`: one JSON object per line per event.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "storage/env.h"
#include "storage/status.h"

namespace razar::orchestrator {

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

}  // namespace razar::orchestrator
