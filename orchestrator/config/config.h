// Boot config loading and validation, and the boot plan `razar check` prints.
//
// Format: JSON, or YAML when the file name ends in .yaml / .yml. The
// original (Python) RAZAR format is accepted unchanged:
//   {"components": [{"name": "x", "command": ["argv"], "health_check": ["argv"]}]}
// (file order = boot order: a component without `priority` gets its index in
// the file). The schema, with defaults in parentheses; every key is optional
// except `name` and `command`, and an unknown key is an error:
//
//   components[]:
//     name            string [A-Za-z0-9_.-]+, not starting with '.' or '-', <= 128 chars
//     command         [argv...], non-empty, argv[0] non-empty; never run through a shell
//     health_check    [argv...]  (original format; same as probe {"command": [...]})
//     probe           {"command": [argv...]} | {"http": "http://host[:port]/path"}
//                     | {"tcp": "host:port"} | {"notify": true}
//                     plus period_ms (10000), timeout_ms (1000), failure_threshold (3)
//     priority        integer; lower boots first; equal priorities boot in parallel
//     layer           root|sacral|solar|heart|throat|third_eye|crown (root)
//     depends_on      [names]: started only once those are healthy; a dependency
//                     must have the same or an earlier (lower) priority
//     retries         local retries after the first try (3)
//     backoff         {initial_ms (100), max_ms (60000), jitter (true), reset_after_ms (10000)}
//     start_timeout_ms (90000), stop_timeout_ms (10000)
//     env             {"NAME": "value"}: added to RAZAR's environment
//     cwd             working directory; relative to the config file's directory
//                     (default: that directory)
//     source_dir      where patches may apply; relative to the config file's directory
//   http:             {bind ("127.0.0.1"), port (8787; 0 disables),
//                      token_file | token_env}   (never the token itself)
//
// Durations are integers in milliseconds and their keys end in `_ms`. In
// YAML, scalars are read as their text, so `retries: 3`, `command: [sleep,
// 5]` and `env: {PORT: 8080}` mean what they say; `jitter` takes true/false.
//
// Every error is Status::InvalidArgument with a message naming the file, the
// component and the key, e.g.
//   boot.json: component "db": key "retries": expected a non-negative integer, got "three"
// Nothing here launches anything or reaches a shell.
//
// Thread safety: free functions on values; safe from any thread. Loading
// reads the environment (token_env) with getenv.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/config/names.h"
#include "orchestrator/config/plan.h"
#include "orchestrator/config/spec.h"
#include "storage/status.h"

namespace razar::orchestrator {

enum class ConfigFormat { kJson, kYaml };
// kYaml for names ending in .yaml / .yml (any case), else kJson.
ConfigFormat ConfigFormatForPath(std::string_view path);

// Reads, parses and validates the file at `path`. NotFound / IoError if it
// cannot be read; InvalidArgument (naming file, component, key) if it is not
// a valid boot config. On success the config has passed ValidateBootConfig,
// `cwd` and `source_dir` are absolute, and http.token holds the token read
// from token_file / token_env (empty when neither is given).
Result<BootConfig> LoadBootConfig(const std::string& path);

// As LoadBootConfig, from text already in memory. `path` is used for
// messages and to resolve relative paths (cwd, source_dir, token_file).
Result<BootConfig> ParseBootConfig(std::string_view text, ConfigFormat format,
                                   const std::string& path);

// The cross-component checks, also usable on a config built in code: valid
// and unique names, non-empty commands, well-formed probes, backoff max >=
// initial, every dependency exists, no dependency cycle (named: a -> b -> a),
// no dependency on a component with a later priority (it would never start
// first: a deadlock). Messages use config.path and the config's key names.
Status ValidateBootConfig(const BootConfig& config);

// The component in the config schema above (round-trips through
// ParseBootConfig). With `redact_env`, env values are replaced by "<redacted>"
// (quarantine records are written to disk; env may hold credentials).
nlohmann::json ComponentSpecToJson(const ComponentSpec& spec, bool redact_env = false);

}  // namespace razar::orchestrator
