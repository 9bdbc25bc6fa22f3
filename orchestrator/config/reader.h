// Internal to config/: the typed reads of a parsed config tree and the
// messages that name file, component and key. Not part of the config API
// (config.h); shared by the files of this folder only.
//
// Thread safety: values and const methods; safe from any thread.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/config/spec.h"
#include "storage/status.h"

namespace razar::orchestrator::config_internal {

// Keys keep their file order so the first error reported is the first one
// in the file.
using Json = nlohmann::ordered_json;

// JSON string syntax: a name with quotes or control characters cannot
// garble the message around it.
std::string Quote(std::string_view s);
// "got <the offending value as JSON>", shortened for messages. Safe on any
// tree, however deep (never recurses into it).
std::string Got(const Json& v);
// " (did you mean "x"?)" when a candidate is close enough to be a typo.
std::string Suggest(std::string_view word, const std::vector<std::string_view>& candidates);
std::string JoinNames(const std::vector<std::string>& names, std::string_view sep);

// Where a message points: "<file>: component "db": key "probe.http": ...".
class Where {
 public:
  Where(std::string file, std::string component)
      : file_(std::move(file)), component_(std::move(component)) {}
  Status Error(std::string_view key, std::string_view what) const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::string component_;  // `component "db"`, `component #3`, or empty (top level)
};

std::string ComponentLabel(const std::string& name);
std::string ComponentLabel(size_t index);

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


}  // namespace razar::orchestrator::config_internal
