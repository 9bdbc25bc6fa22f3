// Internal to config/: config text -> a JSON tree, for JSON and YAML alike,
// with duplicate keys detected (both parsers would otherwise keep one of two
// values silently) and nesting bounded (a config nested tens of thousands of
// levels deep must be a one-line error, not a stack overflow).
//
// Thread safety: free functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/config/reader.h"
#include "storage/status.h"

namespace razar::orchestrator::config_internal {

// Deeper nesting is refused before any parser sees it. A boot config needs
// about six levels; 64 leaves room and keeps every recursive walk (the
// parsers', dump()'s, destruction's) far from the stack's end.
constexpr int kMaxConfigDepth = 64;

struct PathSeg {
  std::string key;   // object member
  size_t index = 0;  // array element
  bool is_index = false;
};

struct DuplicateKey {
  bool found = false;
  std::vector<PathSeg> path;
};

// The message for a problem at `path` in `doc`, naming the component when
// the path is inside components[i].
Status PathError(const Json& doc, const std::vector<PathSeg>& path, const std::string& file,
                 std::string_view what);

// InvalidArgument naming the file and the position for a syntax error or
// nesting deeper than kMaxConfigDepth. A duplicate key is not an error here:
// *dup names its path and the caller builds the message.
Result<Json> ParseJson(std::string_view text, const std::string& file, DuplicateKey* dup);
// As ParseJson. Every scalar stays a string (its text); the typed reads of
// Reader accept those strings for numbers and booleans.
Result<Json> ParseYaml(std::string_view text, const std::string& file, DuplicateKey* dup);

}  // namespace razar::orchestrator::config_internal
