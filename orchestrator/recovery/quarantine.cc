#include "orchestrator/recovery/quarantine.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "orchestrator/base/files.h"
#include "orchestrator/config/config.h"
#include "orchestrator/journal/runtime_state.h"

namespace razar::orchestrator {
namespace {

constexpr std::string_view kLogHeader =
    "| Timestamp (UTC) | Component | Action | Details |\n"
    "|---|---|---|---|\n";
constexpr std::string_view kHeaderLine = "| Timestamp (UTC) | Component | Action | Details |";

storage::Env* OrDefault(storage::Env* env) {
  return env != nullptr ? env : storage::Env::Default();
}

// Closes the fd (and so drops any flock) on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

Result<std::string> PReadAll(int fd, const std::string& path) {
  std::string text;
  char buf[16 * 1024];
  for (off_t offset = 0;;) {
    ssize_t n = ::pread(fd, buf, sizeof(buf), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read " + path, errno);
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
    offset += n;
  }
}

// What must precede a new row so the file is a well-formed table: the
// header when the file has none yet, and a newline if the last line is
// unterminated.
std::string PrefixFor(const std::string& existing) {
  if (existing.empty()) return std::string(kLogHeader);
  std::string prefix = existing.back() == '\n' ? "" : "\n";
  if (existing.find(kHeaderLine) == std::string::npos) {
    prefix += "\n" + std::string(kLogHeader);  // a table needs a blank line before it
  }
  return prefix;
}

Result<QuarantineRecord> ParseRecord(const std::string& text, const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption(path + ": not a JSON object");
  }
  QuarantineRecord r;
  auto str = [&j](const char* key, std::string* out) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string()) *out = it->get<std::string>();
  };
  str("component", &r.component);
  str("reason", &r.reason);
  str("last_error", &r.last_error);
  str("time", &r.time_utc);
  auto attempts = j.find("attempts");
  if (attempts != j.end() && attempts->is_number_unsigned() &&
      attempts->get<uint64_t>() <= UINT32_MAX) {
    r.attempts = attempts->get<uint32_t>();
  }
  auto config = j.find("config");
  if (config != j.end()) r.config = *config;
  if (r.component.empty()) return Status::Corruption(path + ": no \"component\" field");
  return r;
}

}  // namespace

std::string EscapeMarkdownCell(std::string_view text, size_t max_chars) {
  std::string out;
  size_t kept = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (kept == max_chars) {
      out += "...";
      break;
    }
    char c = text[i];
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += "<br>";
    } else if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') continue;  // \r\n is one break
      out += "<br>";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
    ++kept;
  }
  return out;
}

QuarantineStore::QuarantineStore(RuntimePaths paths, storage::Env* env)
    : paths_(std::move(paths)), env_(OrDefault(env)) {}

std::string QuarantineStore::RecordPath(std::string_view name) const {
  return paths_.quarantine_dir() + "/" + std::string(name) + ".json";
}

Status QuarantineStore::Quarantine(const ComponentSpec& component, std::string_view reason,
                                   uint32_t attempts, std::string_view last_error) {
  if (!IsValidComponentName(component.name)) {
    return Status::InvalidArgument("quarantine: invalid component name \"" + component.name + "\"");
  }
  const std::string time = FormatUtcIso8601(NowUnixMs(env_), /*with_millis=*/false);
  nlohmann::json record = {{"component", component.name},
                           {"reason", reason},
                           {"attempts", attempts},
                           {"last_error", last_error},
                           {"time", time},
                           {"config", ComponentSpecToJson(component, /*redact_env=*/true)}};
  std::lock_guard<std::mutex> lock(mu_);
  RAZAR_RETURN_IF_ERROR(env_->CreateDirs(paths_.quarantine_dir()));
  RAZAR_RETURN_IF_ERROR(
      WriteFileAtomically(env_, RecordPath(component.name), DumpJson(record, 2) + "\n"));
  std::string details = std::string(reason) + "; attempts: " + std::to_string(attempts);
  if (!last_error.empty()) details += "; last error: " + std::string(last_error);
  return AppendLogRow(component.name, "quarantined", details);
}

bool QuarantineStore::IsQuarantined(std::string_view name) const {
  return IsValidComponentName(name) && env_->Exists(RecordPath(name));
}

Result<QuarantineRecord> QuarantineStore::Get(std::string_view name) const {
  if (!IsValidComponentName(name)) {
    return Status::NotFound("\"" + std::string(name) + "\" is not quarantined");
  }
  const std::string path = RecordPath(name);
  Result<std::string> text = ReadWholeFile(env_, path, 16 << 20);
  if (!text.ok()) {
    if (text.status().IsNotFound()) {
      return Status::NotFound("\"" + std::string(name) + "\" is not quarantined");
    }
    return text.status();
  }
  return ParseRecord(*text, path);
}

Result<std::vector<QuarantineRecord>> QuarantineStore::List() const {
  const std::string dir = paths_.quarantine_dir();
  if (!env_->Exists(dir)) return std::vector<QuarantineRecord>{};
  RAZAR_ASSIGN_OR_RETURN(std::vector<std::string> entries, env_->ListDir(dir));
  std::sort(entries.begin(), entries.end());
  std::vector<QuarantineRecord> records;
  for (const std::string& entry : entries) {
    if (!entry.ends_with(".json")) continue;  // skips "<name>.json.tmp" leftovers
    std::string name = entry.substr(0, entry.size() - 5);
    if (!IsValidComponentName(name)) continue;
    Result<QuarantineRecord> record = Get(name);
    if (record.ok()) {
      records.push_back(std::move(*record));
    } else if (!record.status().IsNotFound()) {  // NotFound: resolved meanwhile
      QuarantineRecord broken;
      broken.component = name;
      broken.load_error = record.status().ToString();
      records.push_back(std::move(broken));
    }
  }
  return records;
}

Status QuarantineStore::Resolve(std::string_view name, std::string_view note) {
  if (!IsValidComponentName(name)) {
    return Status::NotFound("\"" + std::string(name) + "\" is not quarantined");
  }
  std::lock_guard<std::mutex> lock(mu_);
  Status removed = env_->Remove(RecordPath(name));
  if (!removed.ok()) {
    if (removed.err() == ENOENT) {
      return Status::NotFound("\"" + std::string(name) + "\" is not quarantined");
    }
    return removed;
  }
  RAZAR_RETURN_IF_ERROR(env_->SyncDir(paths_.quarantine_dir()));
  return AppendLogRow(name, "resolved", note);
}

Status QuarantineStore::AppendLogRow(std::string_view component, std::string_view action,
                                     std::string_view details) {
  const std::string path = paths_.quarantine_log();
  RAZAR_RETURN_IF_ERROR(env_->CreateDirs(path.substr(0, path.rfind('/'))));
  // Raw fd rather than Env: O_APPEND plus flock make the header check and
  // the append one step even against another RAZAR process.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  FdCloser closer(fd);
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Status::FromErrno("flock " + path, errno);
  RAZAR_ASSIGN_OR_RETURN(std::string existing, PReadAll(fd, path));
  std::string text = PrefixFor(existing) + "| " +
                     FormatUtcIso8601(NowUnixMs(env_), /*with_millis=*/false) + " | " +
                     EscapeMarkdownCell(component, kMaxDetailsChars) + " | " +
                     EscapeMarkdownCell(action, kMaxDetailsChars) + " | " +
                     EscapeMarkdownCell(details, kMaxDetailsChars) + " |\n";
  RAZAR_RETURN_IF_ERROR(AppendWhole(fd, text, path));
  if (::fdatasync(fd) != 0) return Status::FromErrno("fdatasync " + path, errno);
  return Status::Ok();
}

}  // namespace razar::orchestrator
