// JSON text that never throws.
//
// Thread safety: free functions, safe from any thread.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace razar::orchestrator {

// json.dump() that replaces invalid UTF-8 instead of throwing (strings from
// child processes and files are not guaranteed to be UTF-8). indent < 0:
// one line.
std::string DumpJson(const nlohmann::json& json, int indent = -1);

}  // namespace razar::orchestrator
