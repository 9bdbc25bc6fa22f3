// Supervisor: boots a node's components stage by stage (priority order,
// parallel within a stage, each waiting for its dependencies to be
// healthy), proves each healthy with its probe, retries with backoff, hands
// persistent failures to a HandoverHook, quarantines what still fails,
// adopts healthy components left running by a previous RAZAR, and after
// boot keeps watching them (docs/operations.md).
//
// What happens to a failing component is the RecoveryLadder's decision
// (ladder.h); the supervisor carries it out. Every status change goes to
// the status sinks (journal/status_sink.h): logs/razar_state.json, the
// lifecycle log logs/razar.log, Metrics and — when a spine is given — the
// memory spine. Sinks run outside the state lock, so Healthy(), StatusJson()
// and State() never wait on a disk.
//
// Files: supervisor.cc (creation, status, stop), boot.cc (stages,
// dependencies, the ladder's driver), launch.cc (one launch, probes),
// adopt.cc (leftovers of a previous RAZAR), watch.cc (after boot).
//
// Thread safety: Boot(), Supervise() and StopAll() are called from one
// thread, in that order; RequestStop(), Healthy(), StatusJson() and
// State() from any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/clock.h"
#include "orchestrator/config/config.h"
#include "orchestrator/config/spec.h"
#include "orchestrator/health/probe.h"
#include "orchestrator/journal/lifecycle_log.h"
#include "orchestrator/journal/runtime_state.h"
#include "orchestrator/journal/status_sink.h"
#include "orchestrator/metrics/metrics.h"
#include "orchestrator/recovery/handover.h"
#include "orchestrator/recovery/quarantine.h"
#include "orchestrator/supervisor/ladder.h"
#include "storage/spine.h"

namespace razar::orchestrator {

struct SupervisorOptions {
  BootConfig config;  // validated (LoadBootConfig)
  RuntimePaths paths;
  Clock* clock = nullptr;            // borrowed; default Clock::Real()
  Random* random = nullptr;          // borrowed; default Random::Default()
  HandoverHook* handover = nullptr;  // borrowed; default NoHandover
  storage::Spine* spine = nullptr;   // borrowed; null: no spine records
  Metrics* metrics = nullptr;        // borrowed; null: no metrics
  // How often a starting component is probed until healthy or its
  // start_timeout passes. Default 100 ms.
  uint32_t startup_probe_interval_ms = 100;
  // Adopt healthy components a previous RAZAR left running. Default true.
  bool adopt = true;
  // The stop flag: raised by RequestStop() or by whoever owns the node (a
  // signal thread may raise it at any time, even while the Supervisor is
  // being created or destroyed: it never touches the Supervisor itself).
  // Borrowed, may be null (the Supervisor has its own); must outlive it.
  Interrupt* stop = nullptr;
  // More record sinks, after the built-in ones (state file, lifecycle log,
  // spine). Borrowed; must outlive the Supervisor.
  std::vector<StatusSink*> extra_sinks;
};

class Supervisor {
 public:
  // Fails (InvalidArgument) if the config's plan is invalid, IoError if the
  // runtime directories cannot be created.
  static Result<std::unique_ptr<Supervisor>> Create(SupervisorOptions options);
  // Releases (does not stop) components still running: StopAll() first to
  // stop them.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Boots every stage in order; returns once every component is healthy,
  // quarantined or blocked (or RequestStop()). Errors only for RAZAR's own
  // files (state file, lifecycle log).
  Status Boot();
  // Watches healthy components until RequestStop(): exits (pidfd) and
  // probes (every probe.period_ms; failure_threshold consecutive failures)
  // trigger a restart with backoff, then handover, then quarantine.
  void Supervise();
  // Stops every running component, in reverse boot order.
  void StopAll();
  // Interrupts Boot() / Supervise() (and their sleeps). Thread-safe.
  void RequestStop();

  // The node is healthy iff every component is healthy. A quarantined,
  // blocked, failed or still starting component makes it degraded
  // (docs/operations.md, "Node health").
  bool Healthy() const;
  nlohmann::json StatusJson() const;
  RuntimeState State() const;

 private:
  struct Unit;
  explicit Supervisor(SupervisorOptions options);
  Status Init();
  Status InitUnits();
  void LoadPrevious();
  void AdoptLeftovers();
  bool AdoptOne(Unit& u, const ComponentRuntime& r);
  void ForgetUnadopted();
  void BootStage(size_t stage);
  // Carries out the ladder's steps for `u`, starting with `step`, until the
  // component is up (true), quarantined or RAZAR stops (false).
  bool Climb(Unit& u, RecoveryLadder::Step step);
  // One launch until healthy or failed; false with u.last_error set.
  bool LaunchOnce(Unit& u);
  Status BindNotifySocket(Unit& u, std::string* path);
  bool HandOver(Unit& u);
  bool WaitDependencies(Unit& u);
  void Quarantine(Unit& u, const std::string& reason);
  ProbeResult Probe(Unit& u, uint32_t timeout_ms);
  void SetStatus(Unit& u, ComponentStatus status, const std::string& detail, const char* event);
  std::string LastError(const Unit& u) const;
  void Restart(Unit& u, const std::string& why);
  void JoinRestarts();
  bool Stopping() const;
  Unit* Find(const std::string& name);

  SupervisorOptions options_;
  Clock* clock_;
  Random* random_;
  HandoverHook* handover_;
  NoHandover no_handover_;
  BootPlan plan_;
  QuarantineStore quarantine_;
  std::unique_ptr<LifecycleLog> log_;
  Interrupt own_stop_;
  Interrupt* const stop_;  // options_.stop, or own_stop_ when none was given

  // Status sinks, in delivery order.
  StatusFanout fanout_;
  std::unique_ptr<StateFileSink> state_sink_;
  std::unique_ptr<MetricsSink> metrics_sink_;
  std::unique_ptr<LifecycleLogSink> log_sink_;
  std::unique_ptr<SpineSink> spine_sink_;

  mutable std::mutex mu_;
  std::condition_variable changed_;           // a unit's status changed
  std::vector<std::unique_ptr<Unit>> units_;  // boot order (stage, then file order)
  RuntimeState state_;                        // guarded by mu_
  std::optional<RuntimeState> previous_;      // the state file a previous RAZAR left
};

}  // namespace razar::orchestrator
