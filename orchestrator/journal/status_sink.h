// Status sinks: where a component's status change goes. The supervisor
// decides a change; each sink records it in one place (the state file, the
// lifecycle log, the metrics, the spine), so that adding a place is adding a
// sink, not a line in the supervisor.
//
// Delivery contract (StatusFanout): every change reaches every sink exactly
// once, in the order the changes happened, one change at a time. Two kinds:
//  - views (metrics): in memory, never block; updated together with the
//    status itself, under the supervisor's state lock, so that a reader of
//    /health and a reader of /metrics never disagree;
//  - records (state file, lifecycle log, spine): run on the thread that
//    made the change, after it, outside the state lock. A record that waits
//    on the disk delays the next status change, never a reader of the
//    status (/health, /status).
//
// Thread safety: StatusFanout::Publish may be called from any thread; it
// serialises delivery itself. A sink's Record is never called concurrently
// with itself.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "orchestrator/config/spec.h"
#include "orchestrator/journal/component_status.h"
#include "orchestrator/journal/lifecycle_log.h"
#include "orchestrator/journal/runtime_state.h"
#include "storage/spine.h"

namespace razar::orchestrator {

class Metrics;

struct StatusChange {
  std::string component;
  uint32_t component_id = 0;  // ComponentIdOf(component)
  storage::Layer layer = storage::Layer::root;
  ComponentStatus status = ComponentStatus::kPending;
  std::string event;  // the lifecycle log's event: "launched", "healthy", "stopped", ...
  std::string detail;
  uint32_t attempts = 0;
  pid_t pid = 0;       // 0: no process
  RuntimeState state;  // every component's runtime state after this change
};

class StatusSink {
 public:
  virtual ~StatusSink() = default;
  // Records one change. Never throws; a sink reports its own failures (the
  // built-in ones to the lifecycle log) and must not stop the others.
  virtual void Record(const StatusChange& change) = 0;
};

// The list of sinks, delivered in the order added.
class StatusFanout {
 public:
  // `sink` is borrowed and must outlive the fanout.
  // REQUIRES: before the first Publish.
  void AddView(StatusSink* sink);
  void AddRecord(StatusSink* sink);
  // Calls `decide` — which takes the caller's own state lock, applies the
  // change, calls UpdateViews with it before releasing that lock, and
  // returns it — then delivers the result to every record, all under the
  // fanout's order lock: the order in which changes are decided is the
  // order in which every sink sees them. Lock order: the fanout's lock,
  // then the caller's state lock (taken and released inside decide).
  void Publish(const std::function<StatusChange()>& decide);
  // REQUIRES: called inside `decide`, once per change.
  void UpdateViews(const StatusChange& change);
  // Runs `fn` under the order lock, between changes (e.g. to write the
  // state file outside of a change).
  void Between(const std::function<void()>& fn);

 private:
  std::mutex order_mu_;
  std::vector<StatusSink*> views_;
  std::vector<StatusSink*> records_;
};

// logs/razar_state.json, written atomically after every change (adoption
// after a RAZAR restart depends on it naming every live process).
class StateFileSink : public StatusSink {
 public:
  // `errors` is borrowed (may be null) and receives "state_write_failed".
  StateFileSink(RuntimePaths paths, LifecycleLog* errors) : paths_(std::move(paths)), errors_(errors) {}
  void Record(const StatusChange& change) override { Save(change.state); }
  // Writes `state` outside of a change (boot bookkeeping).
  void Save(const RuntimeState& state);

 private:
  const RuntimePaths paths_;
  LifecycleLog* const errors_;
};

// One JSON line per change in logs/razar.log:
//   {"event", "component", "status", "details": {"attempts", "detail"?, "pid"?}}
class LifecycleLogSink : public StatusSink {
 public:
  explicit LifecycleLogSink(LifecycleLog* log) : log_(log) {}  // borrowed
  void Record(const StatusChange& change) override;

 private:
  LifecycleLog* const log_;
};

// razar_component_up and razar_quarantined_components.
class MetricsSink : public StatusSink {
 public:
  explicit MetricsSink(Metrics* metrics) : metrics_(metrics) {}  // borrowed
  void Record(const StatusChange& change) override;

 private:
  Metrics* const metrics_;
};

// A component status record in the memory spine, waited durable (status
// changes are rare and must survive a crash). Pending has no spine state
// and is skipped; blocked is written as `failed` with its reason.
class SpineSink : public StatusSink {
 public:
  // All borrowed; `metrics` and `errors` may be null.
  SpineSink(storage::Spine* spine, Metrics* metrics, LifecycleLog* errors)
      : spine_(spine), metrics_(metrics), errors_(errors) {}
  void Record(const StatusChange& change) override;

 private:
  storage::Spine* const spine_;
  Metrics* const metrics_;
  LifecycleLog* const errors_;
};

// The spine's state for a status; false for kPending (not recorded).
bool SpineStateOf(ComponentStatus status, storage::ComponentState* out);

}  // namespace razar::orchestrator
