// Handover: where a component goes when its local retries are exhausted,
// before quarantine. The AI backends (a later issue) implement HandoverHook;
// the supervisor's recovery ladder (supervisor/ladder.h) decides when to
// call it.
//
// Thread safety: a hook may be called from several supervisor threads at
// once (one per failing component); implementations must be thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "orchestrator/config/spec.h"
#include "storage/status.h"

namespace razar::orchestrator {

// What the handover hook is told about a component whose local retries
// are exhausted.
struct FailureContext {
  std::string component;
  uint32_t attempts = 0;
  std::string last_error;
  std::string log_path;  // its captured output (may be empty)
};

// Handover returns true when the component deserves another round of
// attempts (e.g. a patch was applied), false to quarantine it; an error is
// logged and treated as false.
class HandoverHook {
 public:
  virtual ~HandoverHook() = default;
  virtual Result<bool> Handover(const ComponentSpec& spec, const FailureContext& context) = 0;
};

// The default: nobody to hand over to.
class NoHandover : public HandoverHook {
 public:
  Result<bool> Handover(const ComponentSpec&, const FailureContext&) override { return false; }
};

}  // namespace razar::orchestrator
