#include "orchestrator/supervisor/supervisor.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "orchestrator/config/names.h"
#include "orchestrator/supervisor/unit.h"

namespace razar::orchestrator {

Supervisor::Supervisor(SupervisorOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      random_(options_.random != nullptr ? options_.random : Random::Default()),
      handover_(options_.handover != nullptr ? options_.handover : &no_handover_),
      quarantine_(options_.paths),
      stop_(options_.stop != nullptr ? options_.stop : &own_stop_) {}

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
  storage::Env* env = storage::Env::Default();
  for (const std::string& d : {options_.paths.logs_dir(), options_.paths.component_logs_dir(),
                               options_.paths.notify_dir()}) {
    RAZAR_RETURN_IF_ERROR(env->CreateDirs(d));
  }
  RAZAR_ASSIGN_OR_RETURN(log_, LifecycleLog::Open(options_.paths.lifecycle_log()));
  // Metrics are a view, updated with the status. Records in delivery
  // order: the state file first (adoption after a crash depends on it
  // naming every live process), then the lifecycle log and the spine.
  if (options_.metrics != nullptr) {
    metrics_sink_ = std::make_unique<MetricsSink>(options_.metrics);
    fanout_.AddView(metrics_sink_.get());
  }
  state_sink_ = std::make_unique<StateFileSink>(options_.paths, log_.get());
  fanout_.AddRecord(state_sink_.get());
  log_sink_ = std::make_unique<LifecycleLogSink>(log_.get());
  fanout_.AddRecord(log_sink_.get());
  if (options_.spine != nullptr) {
    spine_sink_ = std::make_unique<SpineSink>(options_.spine, options_.metrics, log_.get());
    fanout_.AddRecord(spine_sink_.get());
  }
  for (StatusSink* sink : options_.extra_sinks) fanout_.AddRecord(sink);
  RAZAR_RETURN_IF_ERROR(InitUnits());
  LoadPrevious();
  state_.boot_started_unix_ms = clock_->UnixNanos() / 1'000'000;
  state_.razar_pid = getpid();
  return Status::Ok();
}

Status Supervisor::InitUnits() {
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
      u->ladder = std::make_unique<RecoveryLadder>(u->spec, clock_, random_);
      u->tracker = std::make_unique<ProbeTracker>(u->spec.probe.failure_threshold);
      if (options_.metrics != nullptr) options_.metrics->RegisterComponent(u->spec);
      state_.Upsert(u->spec.name);
      units_.push_back(std::move(u));
    }
  }
  return Status::Ok();
}

// What a previous RAZAR left (read before this one writes the file). Until
// adoption has run, the state file keeps naming the previous RAZAR's
// processes: a crash in between must not lose them.
void Supervisor::LoadPrevious() {
  Result<RuntimeState> prev = LoadRuntimeState(options_.paths);
  if (prev.ok()) {
    previous_ = std::move(*prev);
  } else if (!prev.status().IsNotFound()) {
    log_->Append("state_unreadable", "", "ignored", {{"detail", prev.status().ToString()}})
        .IgnoreError();
  }
  if (!previous_) return;
  for (const ComponentRuntime& c : previous_->components) {
    if (ComponentRuntime* r = state_.Find(c.name)) *r = c;
  }
}

Supervisor::Unit* Supervisor::Find(const std::string& name) {
  for (auto& u : units_)
    if (u->spec.name == name) return u.get();
  return nullptr;
}

bool Supervisor::Stopping() const { return stop_->raised(); }

// The change is decided under mu_ and delivered to the sinks outside it
// (StatusFanout): readers of the status never wait for a sink's disk.
void Supervisor::SetStatus(Unit& u, ComponentStatus status, const std::string& detail,
                           const char* event) {
  fanout_.Publish([&] {
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
    StatusChange change;
    change.component = u.spec.name;
    change.component_id = u.id;
    change.layer = u.spec.layer;
    change.status = status;
    change.event = event;
    change.detail = detail;
    change.attempts = u.attempts;
    change.pid = r.pid;
    change.state = state_;
    fanout_.UpdateViews(change);
    return change;
  });
  changed_.notify_all();
}

std::string Supervisor::LastError(const Unit& u) const {
  std::lock_guard<std::mutex> l(mu_);
  return u.last_error;
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
  stop_->Raise();
  changed_.notify_all();
}

bool Supervisor::Healthy() const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& u : units_) {
    if (u->status != ComponentStatus::kHealthy) return false;
  }
  return true;
}

RuntimeState Supervisor::State() const {
  std::lock_guard<std::mutex> l(mu_);
  return state_;
}

nlohmann::json Supervisor::StatusJson() const {
  const RuntimeState state = State();
  nlohmann::json j = RuntimeStateToJson(state);
  j.update(NodeHealthJson(state));
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
