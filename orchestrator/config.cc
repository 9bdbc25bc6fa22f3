#include "orchestrator/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "orchestrator/runtime_state.h"  // ReadWholeFile

namespace razar::orchestrator {
namespace {

// Keys keep their file order so the first error reported is the first one
// in the file.
using Json = nlohmann::ordered_json;

constexpr size_t kMaxNameLength = 128;
constexpr size_t kMaxComponents = 10'000;
constexpr int kMaxYamlDepth = 64;
constexpr size_t kMaxYamlNodes = 1'000'000;  // bounds alias ("billion laughs") expansion
constexpr const char* kRedacted = "<redacted>";

const std::vector<std::string_view> kTopKeys = {"components", "http"};
const std::vector<std::string_view> kComponentKeys = {
    "name",  "command",    "health_check",     "probe",          "priority",
    "layer", "depends_on", "retries",          "backoff",        "env",
    "cwd",   "source_dir", "start_timeout_ms", "stop_timeout_ms"};
const std::vector<std::string_view> kProbeKeys = {
    "command", "http", "tcp", "notify", "period_ms", "timeout_ms", "failure_threshold"};
const std::vector<std::string_view> kBackoffKeys = {"initial_ms", "max_ms", "jitter",
                                                    "reset_after_ms"};
const std::vector<std::string_view> kHttpKeys = {"bind", "port", "token_file", "token_env"};

// ---------------------------------------------------------------------------
// Small text helpers.

// JSON string syntax: a name with quotes or control characters cannot
// garble the message around it.
std::string Quote(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The offending value as it would appear in JSON, shortened for messages.
std::string Got(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 60) s.replace(57, std::string::npos, "...");
  return "got " + s;
}

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

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// Empty if `name` is a valid component name, else why not.
std::string NameProblem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxNameLength) {
    return "longer than " + std::to_string(kMaxNameLength) + " characters";
  }
  if (!std::all_of(name.begin(), name.end(), IsNameChar)) {
    return "invalid name " + Quote(name) +
           ": use only letters, digits, '_', '.' and '-' (it becomes a file name)";
  }
  if (name.front() == '.' || name.front() == '-') {
    return "invalid name " + Quote(name) + ": must not start with '.' or '-'";
  }
  return "";
}

bool ParsePort(std::string_view text, uint16_t* port) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0 || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr addr6;
  in_addr addr4;
  return inet_pton(AF_INET, host.c_str(), &addr4) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
}

bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// Splits "host:port" / "[v6]:port". Empty string on success, else the problem.
std::string SplitHostPort(std::string_view text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return "expected \"host:port\"";
  std::string_view h = text.substr(0, colon);
  if (!ParsePort(text.substr(colon + 1), port)) return "port must be an integer in 1..65535";
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    *host = std::string(h.substr(1, h.size() - 2));
    in6_addr addr;
    if (inet_pton(AF_INET6, host->c_str(), &addr) != 1) return "invalid IPv6 address";
    return "";
  }
  *host = std::string(h);
  if (host->find(':') != std::string::npos) return "write an IPv6 host in brackets: \"[::1]:port\"";
  if (!IsIpLiteral(*host) && !IsHostName(*host)) return "invalid host " + Quote(*host);
  return "";
}

// Empty if `url` is an acceptable probe URL, else the problem. Credentials
// in the URL are refused: the config is not a place for secrets.
std::string UrlProblem(std::string_view url) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return "URL must not contain spaces or control characters";
    }
  }
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return "expected an http:// or https:// URL";
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "credentials in the URL are not allowed";
  }
  if (authority.empty()) return "URL has no host";
  std::string host;
  uint16_t port = 0;
  bool has_port = authority.back() != ']' && authority.find(':') != std::string_view::npos;
  if (has_port) {
    std::string problem = SplitHostPort(authority, &host, &port);
    return problem.empty() ? "" : "bad host:port in URL: " + problem;
  }
  if (authority.front() == '[') {
    host = std::string(authority.substr(1, authority.size() - 2));
    in6_addr addr;
    return inet_pton(AF_INET6, host.c_str(), &addr) == 1 ? "" : "invalid IPv6 address in URL";
  }
  return IsIpLiteral(std::string(authority)) || IsHostName(authority) ? "" : "invalid host in URL";
}

// ---------------------------------------------------------------------------
// Where a message points: "<file>: component "db": key "probe.http": ...".

class Where {
 public:
  Where(std::string file, std::string component)
      : file_(std::move(file)), component_(std::move(component)) {}
  Status Error(std::string_view key, std::string_view what) const {
    std::string msg = file_ + ": ";
    if (!component_.empty()) msg += component_ + ": ";
    msg += "key " + Quote(key) + ": ";
    msg += what;
    return Status::InvalidArgument(msg);
  }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::string component_;  // `component "db"`, `component #3`, or empty (top level)
};

std::string ComponentLabel(const std::string& name) { return "component " + Quote(name); }
std::string ComponentLabel(size_t index) { return "component #" + std::to_string(index + 1); }

// ---------------------------------------------------------------------------
// Typed reads from the parsed tree. In YAML documents every scalar arrives
// as its text (see YamlConverter), so numbers and booleans are also accepted
// as strings there.

class Reader {
 public:
  Reader(const Where& where, bool yaml) : where_(where), yaml_(yaml) {}

  Status Error(std::string_view key, std::string_view what) const {
    return where_.Error(key, what);
  }

  // Unknown keys are errors: a typo must not silently become a default.
  Status CheckKeys(const Json& obj, const std::vector<std::string_view>& known,
                   const std::string& prefix) const {
    for (const auto& [key, value] : obj.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        return Error(prefix + key, "unknown key" + Suggest(key, known));
      }
    }
    return Status::Ok();
  }

  Status Object(const Json& v, std::string_view key) const {
    return v.is_object() ? Status::Ok() : Error(key, "expected an object, " + Got(v));
  }

  Result<std::string> String(const Json& v, std::string_view key) const {
    if (!v.is_string()) return Error(key, "expected a string, " + Got(v));
    std::string s = v.get<std::string>();
    if (s.find('\0') != std::string::npos) return Error(key, "must not contain NUL");
    return s;
  }

  Result<int64_t> Integer(const Json& v, std::string_view key, std::string_view expected) const {
    if (v.is_number_integer()) {
      if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX}) {
        return Error(key, "integer out of range, " + Got(v));
      }
      return v.get<int64_t>();
    }
    if (yaml_ && v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      int64_t out = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      if (!s.empty() && ec == std::errc() && end == s.data() + s.size()) return out;
    }
    return Error(key, "expected " + std::string(expected) + ", " + Got(v));
  }

  // An integer in [min, UINT32_MAX].
  Result<uint32_t> U32(const Json& v, std::string_view key, uint32_t min = 0) const {
    const char* expected = min == 0 ? "a non-negative integer" : "a positive integer";
    RAZAR_ASSIGN_OR_RETURN(int64_t n, Integer(v, key, expected));
    if (n < static_cast<int64_t>(min)) {
      return Error(key, std::string("expected ") + expected + ", " + Got(v));
    }
    if (n > static_cast<int64_t>(UINT32_MAX)) {
      return Error(key, "out of range (at most 4294967295), " + Got(v));
    }
    return static_cast<uint32_t>(n);
  }

  Result<bool> Bool(const Json& v, std::string_view key) const {
    if (v.is_boolean()) return v.get<bool>();
    if (yaml_ && v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    return Error(key, "expected true or false, " + Got(v));
  }

  Result<std::vector<std::string>> StringList(const Json& v, std::string_view key) const {
    if (!v.is_array()) return Error(key, "expected an array of strings, " + Got(v));
    std::vector<std::string> out;
    for (size_t i = 0; i < v.size(); ++i) {
      RAZAR_ASSIGN_OR_RETURN(std::string s,
                             String(v[i], std::string(key) + "[" + std::to_string(i) + "]"));
      out.push_back(std::move(s));
    }
    return out;
  }

  // argv: a non-empty array whose first word is non-empty. A string is
  // refused rather than split: RAZAR never hands a command line to a shell.
  Result<std::vector<std::string>> Argv(const Json& v, std::string_view key) const {
    if (v.is_string()) {
      return Error(
          key, "expected an argv array such as [\"prog\", \"arg\"] (no shell is used), " + Got(v));
    }
    RAZAR_ASSIGN_OR_RETURN(std::vector<std::string> argv, StringList(v, key));
    if (argv.empty()) return Error(key, "empty command: expected at least the program");
    if (argv[0].empty()) return Error(std::string(key) + "[0]", "empty program name");
    return argv;
  }

  Result<std::map<std::string, std::string>> Env(const Json& v, std::string_view key) const {
    RAZAR_RETURN_IF_ERROR(Object(v, key));
    std::map<std::string, std::string> env;
    for (const auto& [name, value] : v.items()) {
      const std::string sub = std::string(key) + "." + name;
      if (name.empty() || name.find('=') != std::string::npos ||
          name.find('\0') != std::string::npos) {
        return Error(sub, "invalid environment variable name");
      }
      RAZAR_ASSIGN_OR_RETURN(env[name], String(value, sub));
    }
    return env;
  }

  // obj[member] into *out when present (key "<prefix>.<member>").
  Status OptionalU32(const Json& obj, const char* member, const std::string& prefix, uint32_t min,
                     uint32_t* out) const {
    auto it = obj.find(member);
    if (it == obj.end()) return Status::Ok();
    RAZAR_ASSIGN_OR_RETURN(*out, U32(*it, prefix + "." + member, min));
    return Status::Ok();
  }

  Result<ProbeSpec> Probe(const Json& v, std::string_view key) const;
  Result<BackoffSpec> Backoff(const Json& v, std::string_view key) const;

 private:
  const Where& where_;
  bool yaml_;
};

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

// ---------------------------------------------------------------------------
// One component. The name is read first so every later message names it.

Result<std::string> ReadName(const Json& c, size_t index, const std::string& file, bool yaml) {
  Where where(file, ComponentLabel(index));
  Reader r(where, yaml);
  if (!c.is_object()) {
    return Status::InvalidArgument(file + ": " + ComponentLabel(index) + ": expected an object, " +
                                   Got(c));
  }
  auto it = c.find("name");
  if (it == c.end()) return r.Error("name", "missing required key");
  return r.String(*it, "name");
}

Status ReadComponentKey(const Reader& r, const std::string& key, const Json& v,
                        ComponentSpec* spec) {
  if (key == "name") return Status::Ok();  // read first, by ReadName
  if (key == "command") {
    RAZAR_ASSIGN_OR_RETURN(spec->command, r.Argv(v, key));
  } else if (key == "health_check") {
    spec->probe.kind = ProbeKind::kCommand;
    RAZAR_ASSIGN_OR_RETURN(spec->probe.command, r.Argv(v, key));
  } else if (key == "probe") {
    RAZAR_ASSIGN_OR_RETURN(spec->probe, r.Probe(v, key));
  } else if (key == "priority") {
    RAZAR_ASSIGN_OR_RETURN(spec->priority, r.Integer(v, key, "an integer"));
  } else if (key == "layer") {
    RAZAR_ASSIGN_OR_RETURN(std::string name, r.String(v, key));
    std::optional<storage::Layer> layer = storage::ParseLayer(name);
    if (!layer) {
      return r.Error(key, "unknown layer " + Quote(name) +
                              "; expected one of root, sacral, solar, heart, throat, "
                              "third_eye, crown");
    }
    spec->layer = *layer;
  } else if (key == "depends_on") {
    RAZAR_ASSIGN_OR_RETURN(spec->depends_on, r.StringList(v, key));
  } else if (key == "retries") {
    RAZAR_ASSIGN_OR_RETURN(spec->retries, r.U32(v, key));
  } else if (key == "backoff") {
    RAZAR_ASSIGN_OR_RETURN(spec->backoff, r.Backoff(v, key));
  } else if (key == "start_timeout_ms") {
    RAZAR_ASSIGN_OR_RETURN(spec->start_timeout_ms, r.U32(v, key, 1));
  } else if (key == "stop_timeout_ms") {
    RAZAR_ASSIGN_OR_RETURN(spec->stop_timeout_ms, r.U32(v, key, 1));
  } else if (key == "env") {
    RAZAR_ASSIGN_OR_RETURN(spec->env, r.Env(v, key));
  } else if (key == "cwd") {
    RAZAR_ASSIGN_OR_RETURN(spec->cwd, r.String(v, key));
  } else if (key == "source_dir") {
    RAZAR_ASSIGN_OR_RETURN(spec->source_dir, r.String(v, key));
  }
  return Status::Ok();
}

Result<ComponentSpec> ReadComponent(const Json& c, size_t index, const std::string& file,
                                    bool yaml) {
  ComponentSpec spec;
  RAZAR_ASSIGN_OR_RETURN(spec.name, ReadName(c, index, file, yaml));
  Where where(file, ComponentLabel(spec.name));
  Reader r(where, yaml);
  RAZAR_RETURN_IF_ERROR(r.CheckKeys(c, kComponentKeys, ""));
  if (!c.contains("command")) return r.Error("command", "missing required key");
  if (c.contains("health_check") && c.contains("probe")) {
    return r.Error("health_check", "give either \"health_check\" or \"probe\", not both");
  }
  spec.priority = static_cast<int64_t>(index);  // file order unless configured
  for (const auto& [key, value] : c.items()) {
    RAZAR_RETURN_IF_ERROR(ReadComponentKey(r, key, value, &spec));
  }
  return spec;
}

// ---------------------------------------------------------------------------
// Top level.

namespace fs = std::filesystem;

// Reads the token from a file or the environment; the token itself never
// appears in a message.
Status ReadToken(const Reader& r, const Json& http, const fs::path& base_dir, HttpSpec* spec) {
  if (http.contains("token_file") && http.contains("token_env")) {
    return r.Error("http.token_file", "give either \"token_file\" or \"token_env\", not both");
  }
  const char* key = http.contains("token_file") ? "http.token_file" : "http.token_env";
  if (http.contains("token_file")) {
    RAZAR_ASSIGN_OR_RETURN(std::string file, r.String(http.at("token_file"), "http.token_file"));
    std::string path = (base_dir / file).lexically_normal().string();
    Result<std::string> text = ReadWholeFile(nullptr, path, 64 << 10);
    if (!text.ok()) {
      return r.Error("http.token_file", "cannot read token: " + text.status().ToString());
    }
    spec->token = *text;
  } else if (http.contains("token_env")) {
    RAZAR_ASSIGN_OR_RETURN(std::string var, r.String(http.at("token_env"), "http.token_env"));
    const char* value = std::getenv(var.c_str());
    spec->token = value != nullptr ? value : "";
    if (spec->token.empty()) {
      return r.Error("http.token_env", "environment variable " + var + " is not set or empty");
    }
  } else {
    return Status::Ok();
  }
  while (!spec->token.empty() && std::isspace(static_cast<unsigned char>(spec->token.back()))) {
    spec->token.pop_back();  // the trailing newline editors add
  }
  if (spec->token.empty()) return r.Error(key, "the token is empty");
  // It travels in an Authorization header: one line of visible characters.
  for (char c : spec->token) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      spec->token.clear();
      return r.Error(key, "the token must be one line without spaces or control characters");
    }
  }
  return Status::Ok();
}

Status ReadHttp(const Json& v, const std::string& file, bool yaml, const fs::path& base_dir,
                HttpSpec* spec) {
  Where where(file, "");
  Reader r(where, yaml);
  RAZAR_RETURN_IF_ERROR(r.Object(v, "http"));
  if (v.contains("token")) {
    return r.Error("http.token",
                   "secrets are not read from the config file; use \"token_file\" or "
                   "\"token_env\"");
  }
  RAZAR_RETURN_IF_ERROR(r.CheckKeys(v, kHttpKeys, "http."));
  if (v.contains("bind")) {
    RAZAR_ASSIGN_OR_RETURN(spec->bind, r.String(v.at("bind"), "http.bind"));
    if (!IsIpLiteral(spec->bind) && spec->bind != "localhost") {
      return r.Error("http.bind",
                     "expected an IP address such as \"127.0.0.1\", got " + Quote(spec->bind));
    }
  }
  if (v.contains("port")) {
    RAZAR_ASSIGN_OR_RETURN(uint32_t port, r.U32(v.at("port"), "http.port"));
    if (port > 65535) return r.Error("http.port", "expected 0..65535, " + Got(v.at("port")));
    spec->port = static_cast<uint16_t>(port);
  }
  return ReadToken(r, v, base_dir, spec);
}

// cwd and source_dir are relative to the config file, so a config means the
// same thing whatever directory RAZAR is started from.
void ResolvePaths(const fs::path& base_dir, BootConfig* config) {
  for (ComponentSpec& c : config->components) {
    c.cwd = c.cwd.empty() ? base_dir.string() : (base_dir / c.cwd).lexically_normal().string();
    if (!c.source_dir.empty()) c.source_dir = (base_dir / c.source_dir).lexically_normal().string();
  }
}

fs::path BaseDir(const std::string& path) {
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(path), ec);
  if (ec) abs = fs::path(path);
  return abs.parent_path().lexically_normal();
}

Status ReadDocument(const Json& doc, const std::string& file, bool yaml, BootConfig* config) {
  Where top(file, "");
  Reader r(top, yaml);
  if (!doc.is_object()) {
    return Status::InvalidArgument(file + ": expected an object with a \"components\" array, " +
                                   Got(doc));
  }
  RAZAR_RETURN_IF_ERROR(r.CheckKeys(doc, kTopKeys, ""));
  auto comps = doc.find("components");
  if (comps == doc.end()) return r.Error("components", "missing required key");
  if (!comps->is_array()) return r.Error("components", "expected an array, " + Got(*comps));
  if (comps->empty()) return r.Error("components", "no components to boot");
  if (comps->size() > kMaxComponents) {
    return r.Error("components", "more than " + std::to_string(kMaxComponents) + " components");
  }
  for (size_t i = 0; i < comps->size(); ++i) {
    RAZAR_ASSIGN_OR_RETURN(ComponentSpec spec, ReadComponent((*comps)[i], i, file, yaml));
    config->components.push_back(std::move(spec));
  }
  fs::path base_dir = BaseDir(file);
  ResolvePaths(base_dir, config);
  RAZAR_RETURN_IF_ERROR(ValidateBootConfig(*config));
  auto http = doc.find("http");
  if (http != doc.end()) {
    RAZAR_RETURN_IF_ERROR(ReadHttp(*http, file, yaml, base_dir, &config->http));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Parsing with duplicate-key detection. Both parsers would otherwise keep
// one of two values silently; a duplicated key is almost always a mistake.

struct PathSeg {
  std::string key;   // object member
  size_t index = 0;  // array element
  bool is_index = false;
};

// The message for a problem at `path` in `doc`, naming the component when
// the path is inside components[i].
Status PathError(const Json& doc, const std::vector<PathSeg>& path, const std::string& file,
                 std::string_view what) {
  size_t first = 0;
  std::string component;
  if (path.size() >= 2 && !path[0].is_index && path[0].key == "components" && path[1].is_index) {
    first = 2;
    const Json* c = nullptr;
    auto comps = doc.find("components");
    if (comps != doc.end() && comps->is_array() && path[1].index < comps->size()) {
      c = &(*comps)[path[1].index];
    }
    if (c != nullptr && c->is_object() && c->contains("name") && c->at("name").is_string()) {
      component = ComponentLabel(c->at("name").get<std::string>());
    } else {
      component = ComponentLabel(path[1].index);
    }
  }
  std::string key;
  for (size_t i = first; i < path.size(); ++i) {
    if (path[i].is_index) {
      key += "[" + std::to_string(path[i].index) + "]";
    } else {
      key += (key.empty() ? "" : ".") + path[i].key;
    }
  }
  return Where(file, component).Error(key, what);
}

struct DuplicateKey {
  bool found = false;
  std::vector<PathSeg> path;
};

Result<Json> ParseJson(std::string_view text, const std::string& file, DuplicateKey* dup) {
  // Frames mirror the parser's open containers so a duplicate can be named
  // by its full path.
  struct Frame {
    bool is_array = false;
    size_t index = 0;
    std::string last_key;
    std::set<std::string> keys;
  };
  std::vector<Frame> frames;
  auto element_done = [&frames] {
    if (!frames.empty() && frames.back().is_array) frames.back().index++;
  };
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        frames.push_back(Frame{event == Json::parse_event_t::array_start, 0, "", {}});
        break;
      case Json::parse_event_t::key: {
        Frame& f = frames.back();
        f.last_key = parsed.get<std::string>();
        if (!f.keys.insert(f.last_key).second && !dup->found) {
          dup->found = true;
          for (const Frame& fr : frames) {
            dup->path.push_back(fr.is_array ? PathSeg{"", fr.index, true}
                                            : PathSeg{fr.last_key, 0, false});
          }
        }
        break;
      }
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        frames.pop_back();
        element_done();
        break;
      case Json::parse_event_t::value:
        element_done();
        break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
    std::string what = e.what();
    size_t at = what.find("at line");
    return Status::InvalidArgument(file + ": invalid JSON " +
                                   (at == std::string::npos ? what : what.substr(at)));
  }
}

// YAML -> the same tree JSON gives, except that every scalar stays a string
// (its text); the typed reads accept those strings for numbers and booleans.
class YamlConverter {
 public:
  explicit YamlConverter(const std::string& file) : file_(file) {}

  Status Convert(const YAML::Node& node, int depth, Json* out) {
    if (depth > kMaxYamlDepth) return Problem(node, "nested too deeply");
    if (++nodes_ > kMaxYamlNodes) return Problem(node, "document too large (alias expansion?)");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        *out = nullptr;
        return Status::Ok();
      case YAML::NodeType::Scalar:
        *out = node.Scalar();
        return Status::Ok();
      case YAML::NodeType::Sequence:
        *out = Json::array();
        for (size_t i = 0; i < node.size(); ++i) {
          path_.push_back(PathSeg{"", i, true});
          Json item;
          RAZAR_RETURN_IF_ERROR(Convert(node[i], depth + 1, &item));
          out->push_back(std::move(item));      // kept even when partial: the
          if (duplicate_) return Status::Ok();  // message reads the name from it
          path_.pop_back();
        }
        return Status::Ok();
      case YAML::NodeType::Map:
        return ConvertMap(node, depth, out);
    }
    return Problem(node, "unsupported YAML node");
  }

  const std::vector<PathSeg>& path() const { return path_; }
  bool duplicate() const { return duplicate_; }

 private:
  Status ConvertMap(const YAML::Node& node, int depth, Json* out) {
    *out = Json::object();
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) return Problem(it->first, "mapping keys must be plain strings");
      const std::string& key = it->first.Scalar();
      path_.push_back(PathSeg{key, 0, false});
      if (out->contains(key)) {
        duplicate_ = true;
        return Status::Ok();  // path_ names it; the caller builds the message
      }
      Json value;
      RAZAR_RETURN_IF_ERROR(Convert(it->second, depth + 1, &value));
      (*out)[key] = std::move(value);
      if (duplicate_) return Status::Ok();  // path_ stays at the duplicate
      path_.pop_back();
    }
    return Status::Ok();
  }

  Status Problem(const YAML::Node& node, std::string_view what) const {
    YAML::Mark mark = node.Mark();
    std::string where = mark.is_null() ? "" : "line " + std::to_string(mark.line + 1) + ": ";
    return Status::InvalidArgument(file_ + ": " + where + std::string(what));
  }

  const std::string& file_;
  std::vector<PathSeg> path_;
  size_t nodes_ = 0;
  bool duplicate_ = false;
};

Result<Json> ParseYaml(std::string_view text, const std::string& file, DuplicateKey* dup) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ": invalid YAML at line " +
                                   std::to_string(e.mark.line + 1) + ", column " +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  YamlConverter converter(file);
  Json doc;
  RAZAR_RETURN_IF_ERROR(converter.Convert(root, 0, &doc));
  if (converter.duplicate()) {
    dup->found = true;
    dup->path = converter.path();
  }
  return doc;
}

Result<BootConfig> ParseChecked(std::string_view text, ConfigFormat format,
                                const std::string& path) {
  const bool yaml = format == ConfigFormat::kYaml;
  DuplicateKey dup;
  RAZAR_ASSIGN_OR_RETURN(Json doc,
                         yaml ? ParseYaml(text, path, &dup) : ParseJson(text, path, &dup));
  if (dup.found) return PathError(doc, dup.path, path, "duplicate key");
  BootConfig config;
  config.path = path;
  RAZAR_RETURN_IF_ERROR(ReadDocument(doc, path, yaml, &config));
  return config;
}

// ---------------------------------------------------------------------------
// Cross-component validation.

Status ValidateComponent(const ComponentSpec& c, const std::string& file) {
  Where where(file, ComponentLabel(c.name));
  std::string problem = NameProblem(c.name);
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

// ---------------------------------------------------------------------------

ConfigFormat ConfigFormatForPath(std::string_view path) {
  std::string lower(path);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return lower.ends_with(".yaml") || lower.ends_with(".yml") ? ConfigFormat::kYaml
                                                             : ConfigFormat::kJson;
}

Result<BootConfig> LoadBootConfig(const std::string& path) {
  Result<std::string> text = ReadWholeFile(nullptr, path, 16 << 20);
  if (!text.ok()) return text.status().WithContext("boot config");
  return ParseBootConfig(*text, ConfigFormatForPath(path), path);
}

Result<BootConfig> ParseBootConfig(std::string_view text, ConfigFormat format,
                                   const std::string& path) {
  // Both parsers throw on some inputs; nothing may escape this module.
  try {
    return ParseChecked(text, format, path);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + ": cannot parse: " + e.what());
  }
}

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

bool IsValidComponentName(std::string_view name) { return NameProblem(name).empty(); }

nlohmann::json ComponentSpecToJson(const ComponentSpec& spec, bool redact_env) {
  nlohmann::json j = {{"name", spec.name},
                      {"command", spec.command},
                      {"priority", spec.priority},
                      {"layer", storage::LayerName(spec.layer)},
                      {"depends_on", spec.depends_on},
                      {"retries", spec.retries},
                      {"backoff",
                       {{"initial_ms", spec.backoff.initial_ms},
                        {"max_ms", spec.backoff.max_ms},
                        {"jitter", spec.backoff.jitter},
                        {"reset_after_ms", spec.backoff.reset_after_ms}}},
                      {"start_timeout_ms", spec.start_timeout_ms},
                      {"stop_timeout_ms", spec.stop_timeout_ms},
                      {"env", nlohmann::json::object()},
                      {"cwd", spec.cwd},
                      {"source_dir", spec.source_dir}};
  for (const auto& [name, value] : spec.env) j["env"][name] = redact_env ? kRedacted : value;
  const ProbeSpec& p = spec.probe;
  if (p.kind != ProbeKind::kNone) {
    nlohmann::json probe = {{"period_ms", p.period_ms},
                            {"timeout_ms", p.timeout_ms},
                            {"failure_threshold", p.failure_threshold}};
    switch (p.kind) {
      case ProbeKind::kCommand:
        probe["command"] = p.command;
        break;
      case ProbeKind::kHttp:
        probe["http"] = p.url;
        break;
      case ProbeKind::kTcp: {
        bool v6 = p.host.find(':') != std::string::npos;
        probe["tcp"] = (v6 ? "[" + p.host + "]" : p.host) + ":" + std::to_string(p.port);
        break;
      }
      case ProbeKind::kNotify:
        probe["notify"] = true;
        break;
      case ProbeKind::kNone:
        break;
    }
    j["probe"] = std::move(probe);
  }
  return j;
}

// ---------------------------------------------------------------------------

size_t BootPlan::ComponentCount() const {
  size_t n = 0;
  for (const BootStage& s : stages) n += s.components.size();
  return n;
}

int BootPlan::StageOf(std::string_view name) const {
  for (size_t i = 0; i < stages.size(); ++i) {
    for (const PlannedComponent& c : stages[i].components) {
      if (c.name == name) return static_cast<int>(i);
    }
  }
  return -1;
}

Result<BootPlan> ComputeBootPlan(const BootConfig& config) {
  RAZAR_RETURN_IF_ERROR(ValidateBootConfig(config));
  std::map<std::string, std::vector<std::string>> dependents;  // file order
  for (const ComponentSpec& c : config.components) {
    for (const std::string& dep : c.depends_on) dependents[dep].push_back(c.name);
  }
  std::map<int64_t, BootStage> by_priority;  // ordered: ascending priority
  for (const ComponentSpec& c : config.components) {
    BootStage& stage = by_priority[c.priority];
    stage.priority = c.priority;
    PlannedComponent planned;
    planned.name = c.name;
    planned.layer = c.layer;
    planned.probe = c.probe.kind;
    planned.depends_on = c.depends_on;
    planned.dependents = std::move(dependents[c.name]);
    stage.components.push_back(std::move(planned));
  }
  BootPlan plan;
  plan.config_path = config.path;
  for (auto& [priority, stage] : by_priority) plan.stages.push_back(std::move(stage));
  return plan;
}

std::string FormatPlan(const BootPlan& plan) {
  std::vector<std::vector<std::string>> rows = {
      {"STAGE", "PRIORITY", "COMPONENT", "LAYER", "PROBE", "DEPENDS ON"}};
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    for (const PlannedComponent& c : plan.stages[i].components) {
      rows.push_back({std::to_string(i + 1), std::to_string(plan.stages[i].priority), c.name,
                      storage::LayerName(c.layer), ProbeKindName(c.probe),
                      c.depends_on.empty() ? "-" : JoinNames(c.depends_on, ", ")});
    }
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t col = 0; col < row.size(); ++col) {
      width[col] = std::max(width[col], row[col].size());
    }
  }
  std::string out = "Boot plan for " + plan.config_path + ": " +
                    std::to_string(plan.ComponentCount()) + " components in " +
                    std::to_string(plan.stages.size()) +
                    " stages (components of one stage start in parallel)\n\n";
  for (const auto& row : rows) {
    std::string line;
    for (size_t col = 0; col < row.size(); ++col) {
      line += row[col];
      if (col + 1 < row.size()) line += std::string(width[col] - row[col].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

nlohmann::json PlanToJson(const BootPlan& plan) {
  nlohmann::json stages = nlohmann::json::array();
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    nlohmann::json comps = nlohmann::json::array();
    for (const PlannedComponent& c : plan.stages[i].components) {
      comps.push_back({{"name", c.name},
                       {"layer", storage::LayerName(c.layer)},
                       {"probe", ProbeKindName(c.probe)},
                       {"depends_on", c.depends_on},
                       {"dependents", c.dependents}});
    }
    stages.push_back({{"stage", i + 1},
                      {"priority", plan.stages[i].priority},
                      {"components", std::move(comps)}});
  }
  return {{"config", plan.config_path}, {"stages", std::move(stages)}};
}

std::vector<std::string> TransitiveDependents(const BootConfig& config, std::string_view name) {
  std::map<std::string_view, std::vector<std::string_view>> dependents;
  for (const ComponentSpec& c : config.components) {
    for (const std::string& dep : c.depends_on) dependents[dep].push_back(c.name);
  }
  std::set<std::string_view> blocked;
  std::vector<std::string_view> queue = {name};
  while (!queue.empty()) {
    std::string_view n = queue.back();
    queue.pop_back();
    for (std::string_view d : dependents[n]) {
      if (blocked.insert(d).second) queue.push_back(d);
    }
  }
  std::vector<std::string> out;  // file order, not discovery order
  for (const ComponentSpec& c : config.components) {
    if (c.name != name && blocked.count(c.name) != 0) out.push_back(c.name);
  }
  return out;
}

}  // namespace razar::orchestrator
