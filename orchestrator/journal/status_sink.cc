#include "orchestrator/journal/status_sink.h"

#include <chrono>

#include "orchestrator/metrics/metrics.h"

namespace razar::orchestrator {

void StatusFanout::AddView(StatusSink* sink) { views_.push_back(sink); }
void StatusFanout::AddRecord(StatusSink* sink) { records_.push_back(sink); }

void StatusFanout::UpdateViews(const StatusChange& change) {
  for (StatusSink* sink : views_) sink->Record(change);
}

void StatusFanout::Publish(const std::function<StatusChange()>& decide) {
  std::lock_guard<std::mutex> order(order_mu_);
  const StatusChange change = decide();
  for (StatusSink* sink : records_) sink->Record(change);
}

void StatusFanout::Between(const std::function<void()>& fn) {
  std::lock_guard<std::mutex> order(order_mu_);
  fn();
}

void StateFileSink::Save(const RuntimeState& state) {
  Status st = SaveRuntimeState(paths_, state);
  if (!st.ok() && errors_ != nullptr) {
    errors_->Append("state_write_failed", "", "error", {{"detail", st.ToString()}}).IgnoreError();
  }
}

void LifecycleLogSink::Record(const StatusChange& change) {
  nlohmann::json details = {{"attempts", change.attempts}};
  if (!change.detail.empty()) details["detail"] = change.detail;
  if (change.pid != 0) details["pid"] = change.pid;
  // A failed lifecycle write has nowhere better to go: the other sinks
  // (state file, spine) still record the change.
  log_->Append(change.event, change.component, ComponentStatusName(change.status), details)
      .IgnoreError();
}

void MetricsSink::Record(const StatusChange& change) {
  size_t quarantined = 0;
  for (const ComponentRuntime& c : change.state.components) {
    quarantined += c.status == ComponentStatus::kQuarantined;
  }
  metrics_->SetComponentUp(change.component, change.layer,
                           change.status == ComponentStatus::kHealthy);
  metrics_->SetQuarantinedCount(quarantined);
}

bool SpineStateOf(ComponentStatus status, storage::ComponentState* out) {
  switch (status) {
    case ComponentStatus::kStarting:
      *out = storage::ComponentState::starting;
      return true;
    case ComponentStatus::kHealthy:
      *out = storage::ComponentState::healthy;
      return true;
    case ComponentStatus::kFailed:
    case ComponentStatus::kBlocked:
      *out = storage::ComponentState::failed;
      return true;
    case ComponentStatus::kStopped:
      *out = storage::ComponentState::stopped;
      return true;
    case ComponentStatus::kQuarantined:
      *out = storage::ComponentState::quarantined;
      return true;
    case ComponentStatus::kPending:
      return false;
  }
  return false;
}

void SpineSink::Record(const StatusChange& change) {
  storage::ComponentState state;
  if (!SpineStateOf(change.status, &state)) return;
  Result<storage::Lsn> lsn =
      spine_->ComponentStatus(change.component_id, change.component, change.layer, state, change.detail);
  if (!lsn.ok()) {
    if (errors_ != nullptr) {
      errors_->Append("spine_append_failed", change.component, "error",
                      {{"detail", lsn.status().ToString()}})
          .IgnoreError();
    }
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  Status st = spine_->WaitDurable(*lsn);
  if (metrics_ != nullptr) {
    metrics_->AddSpineAppends(1);
    metrics_->ObserveSpineFsync(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (!st.ok() && errors_ != nullptr) {
    errors_->Append("spine_sync_failed", change.component, "error", {{"detail", st.ToString()}})
        .IgnoreError();
  }
}

}  // namespace razar::orchestrator
