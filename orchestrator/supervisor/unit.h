// Internal to supervisor/: what the Supervisor keeps per component.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "orchestrator/health/probe.h"
#include "orchestrator/journal/component_status.h"
#include "orchestrator/os/notify.h"
#include "orchestrator/os/process.h"
#include "orchestrator/supervisor/ladder.h"
#include "orchestrator/supervisor/supervisor.h"

namespace razar::orchestrator {

struct Supervisor::Unit {
  ComponentSpec spec;
  uint32_t id = 0;
  size_t stage = 0;
  // Guarded by Supervisor::mu_:
  ComponentStatus status = ComponentStatus::kPending;
  uint32_t attempts = 0;
  std::string last_error;
  bool adopted = false;
  // Owned by the thread working on the unit (boot thread, then the
  // supervise loop or one restart thread at a time):
  std::unique_ptr<Process> proc;
  std::unique_ptr<NotifySocket> notify;
  std::unique_ptr<RecoveryLadder> ladder;
  std::unique_ptr<ProbeTracker> tracker;
  int64_t launched_ns = 0;  // steady time of the launch (start grace)
  int64_t next_probe_ns = 0;
  std::atomic<bool> restarting{false};
  // The supervise-phase restart of this unit (at most one at a time; a
  // finished one is joined when the next starts, or at StopAll).
  std::thread restart_thread;
};

}  // namespace razar::orchestrator
