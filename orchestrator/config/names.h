// Component names and ids: the one rule for what a component may be called
// (names become file names: logs/components/<name>.log, quarantine/<name>.json,
// logs/notify/<name>.sock) and the spine's id of a component.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace razar::orchestrator {

constexpr size_t kMaxComponentNameLength = 128;

// Empty if `name` is a valid component name ([A-Za-z0-9_.-]+, not starting
// with '.' or '-', at most kMaxComponentNameLength characters), else why
// not, in words that can follow "name ...".
std::string ComponentNameProblem(std::string_view name);
bool IsValidComponentName(std::string_view name);

// The spine's id of a component: a stable hash of its name (never 0).
uint32_t ComponentIdOf(std::string_view name);

}  // namespace razar::orchestrator
