#include "orchestrator/config/spec.h"

#include <iterator>

namespace razar::orchestrator {

const char* ProbeKindName(ProbeKind k) {
  // In enum order.
  static constexpr const char* kNames[] = {"none", "command", "http", "tcp", "notify"};
  const auto i = static_cast<size_t>(k);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

}  // namespace razar::orchestrator
