#include "orchestrator/config/reader.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "orchestrator/config/address.h"

namespace razar::orchestrator::config_internal {
namespace {

const std::vector<std::string_view> kProbeKeys = {
    "command", "http", "tcp", "notify", "period_ms", "timeout_ms", "failure_threshold"};
const std::vector<std::string_view> kBackoffKeys = {"initial_ms", "max_ms", "jitter",
                                                    "reset_after_ms"};

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean "x"?)" when a candidate is close enough to be a typo.
}  // namespace

std::string Quote(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The offending value as it would appear in JSON, shortened for messages.
std::string Got(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 60) s.replace(57, std::string::npos, "...");
  return "got " + s;
}

std::string Suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (std::string_view c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  size_t limit = std::max<size_t>(2, (word.size() + 1) / 2);
  bool prefix = !word.empty() && (best.starts_with(word) || word.starts_with(best));
  if (best.empty() || (best_distance > limit && !prefix)) return "";
  return " (did you mean " + Quote(best) + "?)";
}

std::string JoinNames(const std::vector<std::string>& names, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += sep;
    out += names[i];
  }
  return out;
}

Status Where::Error(std::string_view key, std::string_view what) const {
  std::string msg = file_ + ": ";
  if (!component_.empty()) msg += component_ + ": ";
  msg += "key " + Quote(key) + ": ";
  msg += what;
  return Status::InvalidArgument(msg);
}

std::string ComponentLabel(const std::string& name) { return "component " + Quote(name); }
std::string ComponentLabel(size_t index) { return "component #" + std::to_string(index + 1); }

Result<ProbeSpec> Reader::Probe(const Json& v, std::string_view key) const {
  const std::string k(key);
  RAZAR_RETURN_IF_ERROR(Object(v, key));
  RAZAR_RETURN_IF_ERROR(CheckKeys(v, kProbeKeys, k + "."));
  ProbeSpec probe;
  std::vector<std::string> kinds;
  for (const char* kind : {"command", "http", "tcp", "notify"}) {
    if (v.contains(kind)) kinds.push_back(kind);
  }
  if (kinds.size() != 1) {
    return Error(key, kinds.empty()
                          ? "expected one of \"command\", \"http\", \"tcp\", \"notify\""
                          : "expected exactly one probe kind, got " + JoinNames(kinds, " and "));
  }
  const std::string& kind = kinds[0];
  const Json& value = v.at(kind);
  const std::string sub = k + "." + kind;
  if (kind == "command") {
    probe.kind = ProbeKind::kCommand;
    RAZAR_ASSIGN_OR_RETURN(probe.command, Argv(value, sub));
  } else if (kind == "http") {
    probe.kind = ProbeKind::kHttp;
    RAZAR_ASSIGN_OR_RETURN(probe.url, String(value, sub));
    std::string problem = UrlProblem(probe.url);
    if (!problem.empty()) return Error(sub, problem + ", got " + Quote(probe.url));
  } else if (kind == "tcp") {
    probe.kind = ProbeKind::kTcp;
    RAZAR_ASSIGN_OR_RETURN(std::string hostport, String(value, sub));
    std::string problem = SplitHostPort(hostport, &probe.host, &probe.port);
    if (!problem.empty()) return Error(sub, problem + ", got " + Quote(hostport));
  } else {
    probe.kind = ProbeKind::kNotify;
    RAZAR_ASSIGN_OR_RETURN(bool on, Bool(value, sub));
    if (!on) return Error(sub, "expected true (omit \"probe\" for no probe)");
  }
  RAZAR_RETURN_IF_ERROR(OptionalU32(v, "period_ms", k, 1, &probe.period_ms));
  RAZAR_RETURN_IF_ERROR(OptionalU32(v, "timeout_ms", k, 1, &probe.timeout_ms));
  RAZAR_RETURN_IF_ERROR(OptionalU32(v, "failure_threshold", k, 1, &probe.failure_threshold));
  return probe;
}

Result<BackoffSpec> Reader::Backoff(const Json& v, std::string_view key) const {
  const std::string k(key);
  RAZAR_RETURN_IF_ERROR(Object(v, key));
  RAZAR_RETURN_IF_ERROR(CheckKeys(v, kBackoffKeys, k + "."));
  BackoffSpec b;
  RAZAR_RETURN_IF_ERROR(OptionalU32(v, "initial_ms", k, 1, &b.initial_ms));
  RAZAR_RETURN_IF_ERROR(OptionalU32(v, "max_ms", k, 1, &b.max_ms));
  RAZAR_RETURN_IF_ERROR(OptionalU32(v, "reset_after_ms", k, 0, &b.reset_after_ms));
  if (v.contains("jitter")) {
    RAZAR_ASSIGN_OR_RETURN(b.jitter, Bool(v.at("jitter"), k + ".jitter"));
  }
  return b;
}

}  // namespace razar::orchestrator::config_internal
