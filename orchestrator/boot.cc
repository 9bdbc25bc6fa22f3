#include "orchestrator/boot.h"

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

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
  std::unique_ptr<Backoff> backoff;
  std::unique_ptr<ProbeTracker> tracker;
  int64_t next_probe_ns = 0;
  bool handed_over = false;
  std::atomic<bool> restarting{false};
  // The supervise-phase restart of this unit (at most one at a time; a
  // finished one is joined when the next starts, or at StopAll).
  std::thread restart_thread;
};

uint32_t ComponentIdOf(std::string_view name) {
  const uint32_t h = static_cast<uint32_t>(XXH3_64bits(name.data(), name.size()));
  return h == 0 ? 1 : h;
}

namespace {

bool Terminal(ComponentStatus s) {
  return s == ComponentStatus::kQuarantined || s == ComponentStatus::kBlocked;
}

std::optional<storage::ComponentState> SpineStateOf(ComponentStatus s) {
  switch (s) {
    case ComponentStatus::kStarting:
      return storage::ComponentState::starting;
    case ComponentStatus::kHealthy:
      return storage::ComponentState::healthy;
    case ComponentStatus::kFailed:
    case ComponentStatus::kBlocked:
    case ComponentStatus::kStopped:
      return storage::ComponentState::failed;
    case ComponentStatus::kQuarantined:
      return storage::ComponentState::quarantined;
    case ComponentStatus::kPending:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

Supervisor::Supervisor(SupervisorOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      random_(options_.random != nullptr ? options_.random : Random::Default()),
      handover_(options_.handover != nullptr ? options_.handover : &no_handover_),
      quarantine_(options_.paths) {}

Supervisor::~Supervisor() {
  RequestStop();
  JoinRestarts();
  for (auto& u : units_) {
    if (u->proc) u->proc->Release();  // keeps running: a later RAZAR adopts it
  }
}

Result<std::unique_ptr<Supervisor>> Supervisor::Create(SupervisorOptions options) {
  std::unique_ptr<Supervisor> s(new Supervisor(std::move(options)));
  RAZAR_RETURN_IF_ERROR(s->Init());
  return s;
}

Status Supervisor::Init() {
  RAZAR_ASSIGN_OR_RETURN(plan_, ComputeBootPlan(options_.config));
  std::error_code ec;
  for (const std::string& d : {options_.paths.logs_dir(), options_.paths.component_logs_dir(),
                               options_.paths.logs_dir() + "/notify"}) {
    std::filesystem::create_directories(d, ec);
    if (ec) return Status::IoError("create " + d + ": " + ec.message());
  }
  RAZAR_ASSIGN_OR_RETURN(log_, LifecycleLog::Open(options_.paths.lifecycle_log()));
  for (size_t st = 0; st < plan_.stages.size(); ++st) {
    for (const PlannedComponent& pc : plan_.stages[st].components) {
      auto it = std::find_if(options_.config.components.begin(), options_.config.components.end(),
                             [&](const ComponentSpec& c) { return c.name == pc.name; });
      auto u = std::make_unique<Unit>();
      u->spec = *it;
      if (u->spec.cwd.empty()) {
        u->spec.cwd = std::filesystem::path(options_.config.path).parent_path().string();
      }
      u->id = ComponentIdOf(u->spec.name);
      u->stage = st;
      u->backoff = std::make_unique<Backoff>(u->spec.backoff, u->spec.retries, clock_, random_);
      u->tracker = std::make_unique<ProbeTracker>(u->spec.probe.failure_threshold);
      if (options_.metrics != nullptr) options_.metrics->RegisterComponent(u->spec);
      state_.Upsert(u->spec.name);
      units_.push_back(std::move(u));
    }
  }
  // What a previous RAZAR left (read before this one writes the file).
  Result<RuntimeState> prev = LoadRuntimeState(options_.paths);
  if (prev.ok()) {
    previous_ = std::move(*prev);
  } else if (!prev.status().IsNotFound()) {
    log_->Append("state_unreadable", "", "ignored", {{"detail", prev.status().ToString()}})
        .IgnoreError();
  }
  // Until adoption has run, the state file keeps naming the previous
  // RAZAR's processes: a crash in between must not lose them.
  if (previous_) {
    for (const ComponentRuntime& c : previous_->components) {
      if (ComponentRuntime* r = state_.Find(c.name)) *r = c;
    }
  }
  state_.boot_started_unix_ms = clock_->UnixNanos() / 1'000'000;
  state_.razar_pid = getpid();
  return Status::Ok();
}

Supervisor::Unit* Supervisor::Find(const std::string& name) {
  for (auto& u : units_)
    if (u->spec.name == name) return u.get();
  return nullptr;
}

// --- Status changes: state file, lifecycle log, spine, metrics ---

void Supervisor::SetStatus(Unit& u, ComponentStatus status, const std::string& detail,
                           const char* event) {
  {
    std::lock_guard<std::mutex> l(mu_);
    u.status = status;
    if (status == ComponentStatus::kFailed || status == ComponentStatus::kBlocked ||
        status == ComponentStatus::kQuarantined) {
      u.last_error = detail;
    }
    ComponentRuntime& r = state_.Upsert(u.spec.name);
    r.status = status;
    r.attempts = u.attempts;
    r.pid = u.proc ? u.proc->pid() : 0;
    r.pid_start_time = u.proc ? u.proc->start_time() : 0;
    r.output_pipe_inode = u.proc ? u.proc->output_pipe_inode() : 0;
    r.last_error = u.last_error;
    r.updated_unix_ms = clock_->UnixNanos() / 1'000'000;
    if (status == ComponentStatus::kHealthy) state_.last_healthy_component = u.spec.name;
    SaveStateLocked();
    size_t quarantined = 0;
    for (const auto& x : units_) quarantined += x->status == ComponentStatus::kQuarantined;
    if (options_.metrics != nullptr) {
      options_.metrics->SetComponentUp(u.spec.name, u.spec.layer,
                                       status == ComponentStatus::kHealthy);
      options_.metrics->SetQuarantinedCount(quarantined);
    }
  }
  nlohmann::json details = {{"attempts", u.attempts}};
  if (!detail.empty()) details["detail"] = detail;
  if (u.proc) details["pid"] = u.proc->pid();
  log_->Append(event, u.spec.name, ComponentStatusName(status), details).IgnoreError();
  AppendSpine(u, status, detail);
  changed_.notify_all();
}

void Supervisor::SaveStateLocked() {
  Status st = SaveRuntimeState(options_.paths, state_);
  if (!st.ok()) {
    log_->Append("state_write_failed", "", "error", {{"detail", st.ToString()}}).IgnoreError();
  }
}

void Supervisor::AppendSpine(const Unit& u, ComponentStatus status, const std::string& detail) {
  storage::Spine* spine = options_.spine;
  const std::optional<storage::ComponentState> s = SpineStateOf(status);
  if (spine == nullptr || !s) return;
  const std::string d = status == ComponentStatus::kStopped ? "stopped" : detail;
  Result<storage::Lsn> lsn = spine->ComponentStatus(u.id, u.spec.name, u.spec.layer, *s, d);
  if (!lsn.ok()) {
    log_->Append("spine_append_failed", u.spec.name, "error", {{"detail", lsn.status().ToString()}})
        .IgnoreError();
    return;
  }
  // Status changes are rare and must survive a crash: wait for the sync.
  const auto t0 = std::chrono::steady_clock::now();
  Status st = spine->WaitDurable(*lsn);
  if (options_.metrics != nullptr) {
    options_.metrics->AddSpineAppends(1);
    options_.metrics->ObserveSpineFsync(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (!st.ok()) {
    log_->Append("spine_sync_failed", u.spec.name, "error", {{"detail", st.ToString()}})
        .IgnoreError();
  }
}

// --- Boot ---

Status Supervisor::Boot() {
  log_->Append("boot_started", "", "starting",
               {{"config", options_.config.path}, {"stages", plan_.stages.size()}})
      .IgnoreError();
  for (auto& u : units_) {
    if (quarantine_.IsQuarantined(u->spec.name)) {
      SetStatus(*u, ComponentStatus::kQuarantined,
                "quarantined earlier (quarantine/" + u->spec.name +
                    ".json); `razar resolve` "
                    "to retry",
                "skipped");
    }
  }
  if (options_.adopt) AdoptLeftovers();
  ForgetUnadopted();
  size_t st = 0;
  for (; st < plan_.stages.size() && !stop_.raised(); ++st) {
    if (options_.metrics != nullptr)
      options_.metrics->SetBootStage(static_cast<int64_t>(st) + 1);  // 1-based
    BootStage(st);
  }
  // Stages + 1: boot is done (metrics.h).
  if (!stop_.raised() && options_.metrics != nullptr) {
    options_.metrics->SetBootStage(static_cast<int64_t>(plan_.stages.size()) + 1);
  }
  log_->Append("boot_finished", "", Healthy() ? "healthy" : "degraded", StatusJson()).IgnoreError();
  return Status::Ok();
}

// A previous RAZAR's components that still run — the same process, by pid
// and start time — and pass their probe are kept, not relaunched. One that
// runs but fails its probe (e.g. it was still starting when RAZAR died) is
// stopped and launched again in its stage: never left running unwatched.
void Supervisor::AdoptLeftovers() {
  if (!previous_) return;
  const RuntimeState* prev = &*previous_;
  for (auto& up : units_) {
    Unit& u = *up;
    const ComponentRuntime* r = prev->Find(u.spec.name);
    if (r == nullptr || r->pid <= 0 || u.status == ComponentStatus::kQuarantined) continue;
    if (r->status != ComponentStatus::kHealthy && r->status != ComponentStatus::kStarting &&
        r->status != ComponentStatus::kFailed) {
      continue;
    }
    AdoptOptions ao;
    ao.name = u.spec.name;
    ao.log_dir = options_.paths.component_logs_dir();  // resume capturing its output
    ao.output_pipe_inode = r->output_pipe_inode;
    Result<std::unique_ptr<Process>> p = Process::Adopt(r->pid, r->pid_start_time, ao);
    if (!p.ok()) {
      log_->Append("adopt_skipped", u.spec.name, "gone", {{"detail", p.status().ToString()}})
          .IgnoreError();
      continue;
    }
    u.proc = std::move(*p);
    u.attempts = r->attempts;
    // A notify component already said READY=1 to the previous RAZAR: alive
    // is the best this one can know.
    const ProbeResult pr = u.spec.probe.kind == ProbeKind::kNotify
                               ? ProbeResult{u.proc->IsAlive(), "adopted, alive", 0}
                               : Probe(u, u.spec.probe.timeout_ms);
    if (pr.healthy) {
      u.adopted = true;
      SetStatus(u, ComponentStatus::kHealthy, "adopted pid " + std::to_string(u.proc->pid()),
                "adopted");
    } else {
      log_->Append("adopt_unhealthy", u.spec.name, "failed", {{"detail", pr.detail}}).IgnoreError();
      u.proc->Stop(u.spec.stop_timeout_ms).status().IgnoreError();
      u.proc.reset();
    }
  }
}

// After adoption every leftover is either adopted or known gone (stopped,
// or not the same process): the rest start this boot from scratch.
void Supervisor::ForgetUnadopted() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& up : units_) {
    if (up->adopted || up->status == ComponentStatus::kQuarantined) continue;
    ComponentRuntime& r = state_.Upsert(up->spec.name);
    r = ComponentRuntime();
    r.name = up->spec.name;
  }
  SaveStateLocked();
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
    if (s == ComponentStatus::kHealthy || Terminal(s)) continue;
    threads.emplace_back([this, &u] {
      if (WaitDependencies(u)) StartWithRetries(u);
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
      if (Terminal(dep->status)) {
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
    if (stop_.raised()) return false;
    changed_.wait_for(l, std::chrono::milliseconds(100));
  }
}

ProbeResult Supervisor::Probe(Unit& u, uint32_t timeout_ms) {
  ProbeSpec spec = u.spec.probe;
  spec.timeout_ms = timeout_ms;
  ProbeResult r;
  if (spec.kind == ProbeKind::kNone) {
    r.healthy = u.proc != nullptr && u.proc->IsAlive();
    r.detail = r.healthy ? "running" : "not running";
  } else {
    r = RunProbe(spec, ContextFor(u.spec, u.notify.get()));
  }
  if (options_.metrics != nullptr) {
    options_.metrics->ObserveProbe(u.spec.name, spec.kind, r.seconds, r.healthy);
  }
  return r;
}

// One launch: spawn, then probe every startup_probe_interval_ms until the
// probe passes, the process exits or start_timeout passes.
bool Supervisor::LaunchOnce(Unit& u) {
  {
    std::lock_guard<std::mutex> l(mu_);
    ++u.attempts;
  }
  SpawnOptions so;
  so.log_dir = options_.paths.component_logs_dir();
  if (u.spec.probe.kind == ProbeKind::kNotify) {
    const std::string path = options_.paths.logs_dir() + "/notify/" + u.spec.name + ".sock";
    // The old socket unlinks its path when destroyed: drop it before
    // binding the new one there (a relaunch must not lose its socket).
    u.notify.reset();
    std::error_code ec;
    std::filesystem::remove(path, ec);
    Result<std::unique_ptr<NotifySocket>> ns = NotifySocket::Bind(path, clock_);
    if (!ns.ok()) {
      SetStatus(u, ComponentStatus::kFailed, "notify socket: " + ns.status().ToString(), "failed");
      return false;
    }
    u.notify = std::move(*ns);
    so.notify_socket = path;
  }
  Result<std::unique_ptr<Process>> p = Process::Spawn(u.spec, so);
  if (!p.ok()) {
    SetStatus(u, ComponentStatus::kFailed, "launch: " + p.status().ToString(), "failed");
    return false;
  }
  u.proc = std::move(*p);
  SetStatus(u, ComponentStatus::kStarting, "pid " + std::to_string(u.proc->pid()), "launched");
  const int64_t deadline = clock_->NowNs() + int64_t{u.spec.start_timeout_ms} * 1'000'000;
  std::string last = "no probe yet";
  for (;;) {
    if (stop_.raised()) {
      last = "RAZAR is stopping";
      break;
    }
    if (!u.proc->IsAlive()) {
      auto es = u.proc->exit_status();
      last = "exited during start (" + (es ? es->ToString() : std::string("unknown")) + ")";
      break;
    }
    const int64_t left_ms = (deadline - clock_->NowNs()) / 1'000'000;
    if (left_ms <= 0) {
      last =
          "start timeout (" + std::to_string(u.spec.start_timeout_ms) + " ms); last probe: " + last;
      break;
    }
    const ProbeResult r =
        Probe(u, static_cast<uint32_t>(std::min<int64_t>(u.spec.probe.timeout_ms, left_ms)));
    if (r.healthy) {
      u.tracker->Reset();
      u.tracker->Update(r);
      u.next_probe_ns = clock_->NowNs() + int64_t{u.spec.probe.period_ms} * 1'000'000;
      u.backoff->OnHealthy();
      SetStatus(u, ComponentStatus::kHealthy, r.detail, "healthy");
      return true;
    }
    last = r.detail;
    clock_->SleepForMs(
        std::min<int64_t>(options_.startup_probe_interval_ms, std::max<int64_t>(left_ms, 1)),
        &stop_);
  }
  u.proc->Stop(u.spec.stop_timeout_ms).status().IgnoreError();
  SetStatus(u, ComponentStatus::kFailed, last, "failed");
  return false;
}

bool Supervisor::StartWithRetries(Unit& u) {
  for (;;) {
    if (LaunchOnce(u)) return true;
    if (stop_.raised()) return false;
    if (options_.metrics != nullptr) options_.metrics->IncrementRestarts(u.spec.name);
    const RestartDecision d = u.backoff->OnFailure();
    if (!d.give_up) {
      log_->Append("retry_scheduled", u.spec.name, "failed",
                   {{"retry", d.retry}, {"delay_ms", d.delay_ms}})
          .IgnoreError();
      clock_->SleepForMs(static_cast<int64_t>(d.delay_ms), &stop_);
      if (stop_.raised()) return false;
      continue;
    }
    if (!HandOverOrQuarantine(u)) return false;
  }
}

// Local retries are exhausted: the handover hook (once per component),
// then quarantine. True if the hook granted another round of attempts.
bool Supervisor::HandOverOrQuarantine(Unit& u) {
  std::string last_error;
  {
    std::lock_guard<std::mutex> l(mu_);
    last_error = u.last_error;
  }
  if (!u.handed_over) {
    u.handed_over = true;
    FailureContext ctx{u.spec.name, u.attempts, last_error, u.proc ? u.proc->log_path() : ""};
    Result<bool> again = handover_->Handover(u.spec, ctx);
    log_->Append("handover", u.spec.name, again.ok() && *again ? "retrying" : "declined",
                 {{"detail", again.ok() ? std::string() : again.status().ToString()}})
        .IgnoreError();
    if (again.ok() && *again) {
      u.backoff->Reset();
      return true;
    }
  }
  Quarantine(
      u, "local retries exhausted (" + std::to_string(u.attempts) + " attempts): " + last_error);
  return false;
}

void Supervisor::Quarantine(Unit& u, const std::string& reason) {
  std::string last_error;
  {
    std::lock_guard<std::mutex> l(mu_);
    last_error = u.last_error;
  }
  Status st = quarantine_.Quarantine(u.spec, reason, u.attempts, last_error);
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

// --- After boot ---

void Supervisor::Supervise() {
  while (!stop_.raised()) {
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
        if (r.healthy) u.backoff->OnHealthy();
      }
      next_ns = std::min(next_ns, u.next_probe_ns);
    }
    clock_->SleepUntilNs(next_ns, &stop_);
  }
}

// A healthy component failed after boot: stop it, and run the same
// retry / handover / quarantine path on a thread of its own, so the others
// stay watched.
void Supervisor::Restart(Unit& u, const std::string& why) {
  u.restarting = true;
  if (u.proc) u.proc->Stop(u.spec.stop_timeout_ms).status().IgnoreError();
  SetStatus(u, ComponentStatus::kFailed, why, "failed");
  if (u.restart_thread.joinable()) u.restart_thread.join();  // finished: restarting was false
  u.restart_thread = std::thread([this, &u] {
    if (options_.metrics != nullptr) options_.metrics->IncrementRestarts(u.spec.name);
    const RestartDecision d = u.backoff->OnFailure();
    if (!d.give_up) {
      clock_->SleepForMs(static_cast<int64_t>(d.delay_ms), &stop_);
      if (!stop_.raised()) StartWithRetries(u);
    } else if (!stop_.raised() && HandOverOrQuarantine(u)) {
      // The budget was spent by earlier failures; the hook granted a round.
      StartWithRetries(u);
    }
    u.restarting = false;
  });
}

void Supervisor::JoinRestarts() {
  for (auto& u : units_) {
    if (u->restart_thread.joinable()) u->restart_thread.join();
  }
}

void Supervisor::StopAll() {
  RequestStop();
  JoinRestarts();
  for (auto it = units_.rbegin(); it != units_.rend(); ++it) {
    Unit& u = **it;
    if (!u.proc) continue;
    Result<ExitStatus> es = u.proc->Stop(u.spec.stop_timeout_ms);
    SetStatus(u, ComponentStatus::kStopped, es.ok() ? es->ToString() : es.status().ToString(),
              "stopped");
    u.proc.reset();
  }
  log_->Append("razar_stopped", "", "stopped").IgnoreError();
}

void Supervisor::RequestStop() {
  stop_.Raise();
  changed_.notify_all();
}

bool Supervisor::Healthy() const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& u : units_) {
    if (u->status == ComponentStatus::kQuarantined) continue;
    if (u->status != ComponentStatus::kHealthy) return false;
  }
  return true;
}

RuntimeState Supervisor::State() const {
  std::lock_guard<std::mutex> l(mu_);
  return state_;
}

nlohmann::json Supervisor::StatusJson() const {
  nlohmann::json j = RuntimeStateToJson(State());
  j["healthy"] = Healthy();
  nlohmann::json stages = nlohmann::json::array();
  for (size_t i = 0; i < plan_.stages.size(); ++i) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& c : plan_.stages[i].components) names.push_back(c.name);
    stages.push_back({{"priority", plan_.stages[i].priority}, {"components", names}});
  }
  j["stages"] = stages;
  return j;
}

}  // namespace razar::orchestrator
