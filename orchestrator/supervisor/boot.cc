// Supervisor: boot stages, dependency gating, and the driver of the
// recovery ladder (ladder.h).
#include <chrono>
#include <thread>

#include "orchestrator/config/names.h"
#include "orchestrator/supervisor/supervisor.h"
#include "orchestrator/supervisor/unit.h"

namespace razar::orchestrator {

Status Supervisor::Boot() {
  log_->Append("boot_started", "", "starting",
               {{"config", options_.config.path}, {"stages", plan_.stages.size()}})
      .IgnoreError();
  for (auto& u : units_) {
    if (quarantine_.IsQuarantined(u->spec.name)) {
      SetStatus(*u, ComponentStatus::kQuarantined,
                "quarantined earlier (quarantine/" + u->spec.name +
                    ".json); `razar resolve` to retry",
                "skipped");
    }
  }
  if (options_.adopt) AdoptLeftovers();
  ForgetUnadopted();
  size_t st = 0;
  for (; st < plan_.stages.size() && !Stopping(); ++st) {
    if (options_.metrics != nullptr)
      options_.metrics->SetBootStage(static_cast<int64_t>(st) + 1);  // 1-based
    BootStage(st);
  }
  // Stages + 1: boot is done (metrics.h).
  if (!Stopping() && options_.metrics != nullptr) {
    options_.metrics->SetBootStage(static_cast<int64_t>(plan_.stages.size()) + 1);
  }
  log_->Append("boot_finished", "", Healthy() ? "healthy" : "degraded", StatusJson()).IgnoreError();
  return Status::Ok();
}

void Supervisor::BootStage(size_t stage) {
  std::vector<std::thread> threads;
  for (auto& up : units_) {
    Unit& u = *up;
    if (u.stage != stage) continue;
    ComponentStatus s;
    {
      std::lock_guard<std::mutex> l(mu_);
      s = u.status;
    }
    if (s == ComponentStatus::kHealthy || IsTerminal(s)) continue;
    threads.emplace_back([this, &u] {
      if (WaitDependencies(u)) Climb(u, u.ladder->Start());
    });
  }
  for (auto& t : threads) t.join();
}

// Waits until every dependency is healthy; marks the unit blocked (false)
// if one is quarantined or blocked, or has failed for good.
bool Supervisor::WaitDependencies(Unit& u) {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    std::string blocker;
    bool all_healthy = true;
    for (const std::string& d : u.spec.depends_on) {
      Unit* dep = Find(d);
      if (dep == nullptr) continue;  // validated: cannot happen
      if (IsTerminal(dep->status)) {
        blocker = d + " is " + ComponentStatusName(dep->status);
        break;
      }
      if (dep->status != ComponentStatus::kHealthy) all_healthy = false;
      // A dependency in an earlier stage that is not healthy now has
      // finished trying: it will not become healthy during this boot.
      if (dep->status != ComponentStatus::kHealthy && dep->stage < u.stage) {
        blocker = d + " is " + ComponentStatusName(dep->status);
        break;
      }
    }
    if (!blocker.empty()) {
      l.unlock();
      SetStatus(u, ComponentStatus::kBlocked, "dependency " + blocker, "blocked");
      return false;
    }
    if (all_healthy) return true;
    if (Stopping()) return false;
    changed_.wait_for(l, std::chrono::milliseconds(100));
  }
}

bool Supervisor::Climb(Unit& u, RecoveryLadder::Step step) {
  using Rung = RecoveryLadder::Rung;
  for (;;) {
    if (Stopping()) return false;
    switch (step.rung) {
      case Rung::kUp:
        return true;
      case Rung::kLaunch: {
        const bool healthy = LaunchOnce(u);
        if (!healthy && Stopping()) return false;
        if (!healthy && options_.metrics != nullptr) {
          options_.metrics->IncrementRestarts(u.spec.name);
        }
        step = u.ladder->OnLaunch(healthy, u.attempts, LastError(u));
        break;
      }
      case Rung::kBackoff:
        log_->Append("retry_scheduled", u.spec.name, "failed",
                     {{"retry", step.retry}, {"delay_ms", step.delay_ms}})
            .IgnoreError();
        if (clock_->SleepForMs(static_cast<int64_t>(step.delay_ms), stop_) || Stopping()) {
          return false;
        }
        step = u.ladder->OnBackoffDone();
        break;
      case Rung::kHandover:
        step = u.ladder->OnHandover(HandOver(u), u.attempts, LastError(u));
        break;
      case Rung::kQuarantine:
        Quarantine(u, step.reason);
        u.ladder->OnQuarantined();
        return false;
      case Rung::kQuarantined:
        return false;
    }
  }
}

// Asks the hook for another round; true if it granted one.
bool Supervisor::HandOver(Unit& u) {
  FailureContext ctx{u.spec.name, u.attempts, LastError(u), u.proc ? u.proc->log_path() : ""};
  Result<bool> again = handover_->Handover(u.spec, ctx);
  const bool granted = again.ok() && *again;
  log_->Append("handover", u.spec.name, granted ? "retrying" : "declined",
               {{"detail", again.ok() ? std::string() : again.status().ToString()}})
      .IgnoreError();
  return granted;
}

void Supervisor::Quarantine(Unit& u, const std::string& reason) {
  Status st = quarantine_.Quarantine(u.spec, reason, u.attempts, LastError(u));
  if (!st.ok()) {
    log_->Append("quarantine_write_failed", u.spec.name, "error", {{"detail", st.ToString()}})
        .IgnoreError();
  }
  u.proc.reset();
  SetStatus(u, ComponentStatus::kQuarantined, reason, "quarantined");
  // Say which dependents this blocks.
  std::vector<std::string> blocked = TransitiveDependents(options_.config, u.spec.name);
  if (!blocked.empty()) {
    nlohmann::json names = blocked;
    log_->Append("dependents_blocked", u.spec.name, "quarantined", {{"dependents", names}})
        .IgnoreError();
  }
}

}  // namespace razar::orchestrator
