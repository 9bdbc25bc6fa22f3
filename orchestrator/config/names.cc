#include "orchestrator/config/names.h"

#include <xxhash.h>

#include <algorithm>
#include <cctype>

#include "orchestrator/config/reader.h"  // Quote

namespace razar::orchestrator {
namespace {

using config_internal::Quote;

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// Empty if `name` is a valid component name, else why not.
}  // namespace

std::string ComponentNameProblem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxComponentNameLength) {
    return "longer than " + std::to_string(kMaxComponentNameLength) + " characters";
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

bool IsValidComponentName(std::string_view name) { return ComponentNameProblem(name).empty(); }

uint32_t ComponentIdOf(std::string_view name) {
  const uint32_t h = static_cast<uint32_t>(XXH3_64bits(name.data(), name.size()));
  return h == 0 ? 1 : h;
}

}  // namespace razar::orchestrator
