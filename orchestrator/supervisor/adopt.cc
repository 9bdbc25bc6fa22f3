// Supervisor: adopting what a previous RAZAR left running.
#include "storage/check.h"
#include "orchestrator/supervisor/supervisor.h"
#include "orchestrator/supervisor/unit.h"

namespace razar::orchestrator {

// A previous RAZAR's components that still run — the same process, by pid
// and start time — and pass their probe are kept, not relaunched. One that
// runs but fails its probe (e.g. it was still starting when RAZAR died) is
// stopped and launched again in its stage: never left running unwatched.
void Supervisor::AdoptLeftovers() {
  if (!previous_) return;
  for (auto& up : units_) {
    Unit& u = *up;
    const ComponentRuntime* r = previous_->Find(u.spec.name);
    if (r == nullptr || r->pid <= 0 || u.status == ComponentStatus::kQuarantined) continue;
    if (r->status != ComponentStatus::kHealthy && r->status != ComponentStatus::kStarting &&
        r->status != ComponentStatus::kFailed) {
      continue;
    }
    AdoptOne(u, *r);
  }
}

bool Supervisor::AdoptOne(Unit& u, const ComponentRuntime& r) {
  AdoptOptions ao;
  ao.name = u.spec.name;
  ao.log_dir = options_.paths.component_logs_dir();  // resume capturing its output
  ao.output_pipe_inode = r.output_pipe_inode;
  Result<std::unique_ptr<Process>> p = Process::Adopt(r.pid, r.pid_start_time, ao);
  if (!p.ok()) {
    log_->Append("adopt_skipped", u.spec.name, "gone", {{"detail", p.status().ToString()}})
        .IgnoreError();
    return false;
  }
  u.proc = std::move(*p);
  u.attempts = r.attempts;
  // It has been running since before this RAZAR: its start grace is over.
  u.launched_ns = clock_->NowNs() - int64_t{u.spec.start_grace_ms} * 1'000'000;
  // A notify component already said READY=1 to the previous RAZAR: alive
  // is the best this one can know.
  const ProbeResult pr = u.spec.probe.kind == ProbeKind::kNotify
                             ? ProbeResult{u.proc->IsAlive(), "adopted, alive", 0}
                             : Probe(u, u.spec.probe.timeout_ms);
  if (!pr.healthy) {
    log_->Append("adopt_unhealthy", u.spec.name, "failed", {{"detail", pr.detail}}).IgnoreError();
    u.proc->Stop(u.spec.stop_timeout_ms).status().IgnoreError();
    u.proc.reset();
    return false;
  }
  u.adopted = true;
  RecoveryLadder::Step up = u.ladder->OnLaunch(/*healthy=*/true, u.attempts, "");
  RAZAR_CHECK(up.rung == RecoveryLadder::Rung::kUp);
  SetStatus(u, ComponentStatus::kHealthy, "adopted pid " + std::to_string(u.proc->pid()),
            "adopted");
  return true;
}

// After adoption every leftover is either adopted or known gone (stopped,
// or not the same process): the rest start this boot from scratch.
void Supervisor::ForgetUnadopted() {
  fanout_.Between([&] {
    RuntimeState state;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto& up : units_) {
        if (up->adopted || up->status == ComponentStatus::kQuarantined) continue;
        ComponentRuntime& r = state_.Upsert(up->spec.name);
        r = ComponentRuntime();
        r.name = up->spec.name;
      }
      state = state_;
    }
    state_sink_->Save(state);
  });
}

}  // namespace razar::orchestrator
