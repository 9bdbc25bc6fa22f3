// Supervisor: boots a node's components stage by stage (priority order,
// parallel within a stage, each waiting for its dependencies to be
// healthy), proves each healthy with its probe, retries with backoff, hands
// persistent failures to a HandoverHook, quarantines what still fails,
// adopts healthy components left running by a previous RAZAR, and after
// boot keeps watching them (docs/operations.md).
//
// Every status change is written to logs/razar_state.json (atomically),
// logged to logs/razar.log, counted in Metrics and — when a spine is given —
// appended to the memory spine as a component status record.
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

#include "orchestrator/backoff.h"
#include "orchestrator/clock.h"
#include "orchestrator/config.h"
#include "orchestrator/metrics.h"
#include "orchestrator/notify.h"
#include "orchestrator/probe.h"
#include "orchestrator/process.h"
#include "orchestrator/quarantine.h"
#include "orchestrator/runtime_state.h"
#include "orchestrator/spec.h"
#include "storage/spine.h"

namespace razar::orchestrator {

// What the handover hook is told about a component whose local retries
// are exhausted.
struct FailureContext {
  std::string component;
  uint32_t attempts = 0;
  std::string last_error;
  std::string log_path;  // its captured output (may be empty)
};

// Where persistent failures go before quarantine (the AI backends of a
// later issue implement it). Handover returns true when the component
// deserves another round of attempts (e.g. a patch was applied), false to
// quarantine it; an error is logged and treated as false.
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

  // Every component not quarantined is healthy and none is blocked.
  bool Healthy() const;
  nlohmann::json StatusJson() const;
  RuntimeState State() const;

 private:
  struct Unit;
  explicit Supervisor(SupervisorOptions options);
  Status Init();
  void AdoptLeftovers();
  void ForgetUnadopted();
  bool HandOverOrQuarantine(Unit& u);
  void BootStage(size_t stage);
  // Start with retries / backoff / handover / quarantine; true if healthy.
  bool StartWithRetries(Unit& u);
  // One launch until healthy or failed; false with u.last_error set.
  bool LaunchOnce(Unit& u);
  bool WaitDependencies(Unit& u);
  void Quarantine(Unit& u, const std::string& reason);
  ProbeResult Probe(Unit& u, uint32_t timeout_ms);
  void SetStatus(Unit& u, ComponentStatus status, const std::string& detail, const char* event);
  void SaveStateLocked();
  void AppendSpine(const Unit& u, ComponentStatus status, const std::string& detail);
  void Restart(Unit& u, const std::string& why);
  void JoinRestarts();
  Unit* Find(const std::string& name);

  SupervisorOptions options_;
  Clock* clock_;
  Random* random_;
  HandoverHook* handover_;
  NoHandover no_handover_;
  BootPlan plan_;
  QuarantineStore quarantine_;
  std::unique_ptr<LifecycleLog> log_;
  Interrupt stop_;

  mutable std::mutex mu_;
  std::condition_variable changed_;           // a unit's status changed
  std::vector<std::unique_ptr<Unit>> units_;  // boot order (stage, then file order)
  RuntimeState state_;                        // guarded by mu_
  std::optional<RuntimeState> previous_;      // the state file a previous RAZAR left
};

// The spine's id of a component: a stable hash of its name (never 0).
uint32_t ComponentIdOf(std::string_view name);

}  // namespace razar::orchestrator
