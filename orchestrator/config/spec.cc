#include "orchestrator/config/spec.h"

namespace razar::orchestrator {

const char* ProbeKindName(ProbeKind k) {
  switch (k) {
    case ProbeKind::kNone:
      return "none";
    case ProbeKind::kCommand:
      return "command";
    case ProbeKind::kHttp:
      return "http";
    case ProbeKind::kTcp:
      return "tcp";
    case ProbeKind::kNotify:
      return "notify";
  }
  return "unknown";
}

}  // namespace razar::orchestrator
