#include "orchestrator/config/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "orchestrator/base/files.h"
#include "orchestrator/config/address.h"
#include "orchestrator/config/document.h"
#include "orchestrator/config/reader.h"

namespace razar::orchestrator {
namespace {

using namespace config_internal;  // NOLINT: this folder's own helpers

constexpr size_t kMaxComponents = 10'000;
constexpr const char* kRedacted = "<redacted>";

const std::vector<std::string_view> kTopKeys = {"components", "http"};
const std::vector<std::string_view> kComponentKeys = {
    "name",  "command",    "health_check",     "probe",          "priority",
    "layer", "depends_on", "retries",          "backoff",        "env",
    "cwd",   "source_dir", "start_timeout_ms", "stop_timeout_ms", "start_grace_ms"};
const std::vector<std::string_view> kHttpKeys = {"bind", "port", "token_file", "token_env",
                                                 "allow_public_without_token"};

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
  } else if (key == "start_grace_ms") {
    RAZAR_ASSIGN_OR_RETURN(spec->start_grace_ms, r.U32(v, key));
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
  if (v.contains("allow_public_without_token")) {
    RAZAR_ASSIGN_OR_RETURN(spec->allow_public_without_token,
                           r.Bool(v.at("allow_public_without_token"),
                                  "http.allow_public_without_token"));
  }
  RAZAR_RETURN_IF_ERROR(ReadToken(r, v, base_dir, spec));
  // Loopback is the default for a reason: beyond it, anyone on the network
  // reads the node's status. That takes a token, or the operator saying so.
  if (spec->port != 0 && !IsLoopbackAddress(spec->bind) && spec->token.empty() &&
      !spec->allow_public_without_token) {
    return r.Error("http.bind",
                   Quote(spec->bind) +
                       " is reachable beyond this machine: give a token (\"token_file\" or "
                       "\"token_env\"), or set \"allow_public_without_token\": true to serve "
                       "/health, /status and /metrics to the network unauthenticated");
  }
  return Status::Ok();
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
  // A FIFO or a device would block the read (or never end): only a regular
  // file is a config.
  std::error_code ec;
  const auto type = std::filesystem::status(path, ec).type();
  if (!ec && type != std::filesystem::file_type::regular &&
      type != std::filesystem::file_type::not_found) {
    return Status::InvalidArgument(path + ": not a regular file (boot config)");
  }
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
                      {"start_grace_ms", spec.start_grace_ms},
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

}  // namespace razar::orchestrator
