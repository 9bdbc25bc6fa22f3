// Quarantine: where RAZAR puts a component it has given up on, so that boot
// skips it until an operator runs `razar resolve <component>`.
//
// On disk (paths from RuntimePaths, matching the original RAZAR):
//   quarantine/<name>.json   one record per quarantined component, written
//                            atomically:
//     {"component": "db", "reason": "...", "attempts": 4, "last_error": "...",
//      "time": "2024-05-01T12:00:00Z", "config": {<ComponentSpecToJson, env redacted>}}
//   docs/quarantine_log.md   an append-only markdown table, created with
//     | Timestamp (UTC) | Component | Action | Details |
//     |---|---|---|---|
//   and one row per action ("quarantined", "resolved"). Details have '|'
//   escaped and newlines turned into <br>, and are cut to kMaxDetailsChars;
//   the full last error stays in the JSON record.
//
// Thread safety: all methods may be called from any thread (one internal
// mutex). Across processes (`razar resolve` while `razar boot` runs) the
// log row append is one O_APPEND write under flock(2), and record files are
// replaced by rename, so readers never see a torn record.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/config/spec.h"
#include "storage/env.h"
#include "storage/status.h"

namespace razar::orchestrator {

struct QuarantineRecord {
  std::string component;
  std::string reason;
  uint32_t attempts = 0;
  std::string last_error;
  std::string time_utc;   // ISO-8601, e.g. "2024-05-01T12:00:00Z"
  nlohmann::json config;  // the component's config (env values redacted)
  // Non-empty when the record file exists but could not be parsed: the
  // component still counts as quarantined; this says why the rest is missing.
  std::string load_error;
};

class QuarantineStore {
 public:
  static constexpr size_t kMaxDetailsChars = 500;

  // `env` is borrowed and must outlive the store; default Env::Default().
  // Directories are created on first write.
  explicit QuarantineStore(RuntimePaths paths, storage::Env* env = nullptr);
  QuarantineStore(const QuarantineStore&) = delete;
  QuarantineStore& operator=(const QuarantineStore&) = delete;

  // Writes quarantine/<name>.json (replacing an earlier record) and appends
  // a "quarantined" row. InvalidArgument for a name that is not a valid
  // component name (it would escape the directory); IoError if either write
  // fails (the record is written first, so a failure to log still leaves the
  // component quarantined).
  Status Quarantine(const ComponentSpec& component, std::string_view reason, uint32_t attempts,
                    std::string_view last_error);

  // True if quarantine/<name>.json exists. False for invalid names.
  bool IsQuarantined(std::string_view name) const;

  // The record for `name`: NotFound if not quarantined, Corruption if the
  // file is unreadable as a record.
  Result<QuarantineRecord> Get(std::string_view name) const;

  // Every quarantined component, sorted by name. An unparsable record is
  // listed with load_error set rather than failing the whole listing. An
  // absent quarantine directory is an empty list.
  Result<std::vector<QuarantineRecord>> List() const;

  // Removes quarantine/<name>.json and appends a "resolved" row whose
  // details are `note` (may be empty). NotFound if `name` is not quarantined.
  // If only the log append fails, the component is already released and
  // that IoError is returned.
  Status Resolve(std::string_view name, std::string_view note);

  const RuntimePaths& paths() const { return paths_; }

 private:
  std::string RecordPath(std::string_view name) const;
  // Appends one table row, writing the header first if the file lacks it.
  Status AppendLogRow(std::string_view component, std::string_view action,
                      std::string_view details);

  const RuntimePaths paths_;
  storage::Env* const env_;
  mutable std::mutex mu_;  // serializes writers within this process
};

// The text of a markdown table cell: '|' escaped, newlines as <br>, other
// control characters as spaces, cut to `max_chars` (with "..." appended).
std::string EscapeMarkdownCell(std::string_view text, size_t max_chars);

}  // namespace razar::orchestrator
