// Supervisor: watching components after boot.
#include "orchestrator/supervisor/supervisor.h"
#include "orchestrator/supervisor/unit.h"

namespace razar::orchestrator {

void Supervisor::Supervise() {
  while (!Stopping()) {
    int64_t next_ns = clock_->NowNs() + 200'000'000;  // at least every 200 ms: exits
    for (auto& up : units_) {
      Unit& u = *up;
      if (u.restarting.load()) continue;
      ComponentStatus s;
      {
        std::lock_guard<std::mutex> l(mu_);
        s = u.status;
      }
      if (s != ComponentStatus::kHealthy || !u.proc) continue;
      if (!u.proc->IsAlive()) {
        auto es = u.proc->exit_status();
        Restart(u, "exited (" + (es ? es->ToString() : std::string("unknown")) + ")");
        continue;
      }
      const int64_t now = clock_->NowNs();
      if (now >= u.next_probe_ns) {
        const ProbeResult r = u.spec.probe.kind == ProbeKind::kNotify
                                  ? ProbeResult{true, "alive", 0}
                                  : Probe(u, u.spec.probe.timeout_ms);
        u.next_probe_ns = clock_->NowNs() + int64_t{u.spec.probe.period_ms} * 1'000'000;
        if (u.tracker->Update(r) == ProbeTracker::Health::kUnhealthy) {
          Restart(u, "probe failed " + std::to_string(u.tracker->consecutive_failures()) +
                         " times: " + r.detail);
          continue;
        }
        if (r.healthy) u.ladder->OnHealthyProbe();
      }
      next_ns = std::min(next_ns, u.next_probe_ns);
    }
    clock_->SleepUntilNs(next_ns, stop_);
  }
}

// A healthy component failed after boot: stop it, and climb its recovery
// ladder from the failure on a thread of its own, so the others stay
// watched.
void Supervisor::Restart(Unit& u, const std::string& why) {
  u.restarting = true;
  if (u.proc) u.proc->Stop(u.spec.stop_timeout_ms).status().IgnoreError();
  SetStatus(u, ComponentStatus::kFailed, why, "failed");
  if (u.restart_thread.joinable()) u.restart_thread.join();  // finished: restarting was false
  u.restart_thread = std::thread([this, &u] {
    if (options_.metrics != nullptr) options_.metrics->IncrementRestarts(u.spec.name);
    Climb(u, u.ladder->OnFailure(u.attempts, LastError(u)));
    u.restarting = false;
  });
}

}  // namespace razar::orchestrator
