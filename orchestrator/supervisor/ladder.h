// RecoveryLadder: the one definition of what happens to a failing
// component, as an explicit state machine per component.
//
//            ┌──────────── healthy ───────────▶ up ──── failure (exit, probe
//            │                                   ▲      threshold) ──┐
//   start ─▶ launch ── failed ──┐                │                   │
//            ▲                  ▼                │                   │
//            │        retries left? ◀────────────┼───────────────────┘
//            │          │yes      │no            │
//            └─ backoff ┘         ▼              │
//            ▲             handed over before?   │
//            │              │no          │yes    │
//            │              ▼            ▼       │
//            └─ granted ── handover ─▶ quarantine (terminal for this boot)
//                             declined / error
//
// The ladder decides; the supervisor acts (launches, sleeps, calls the
// HandoverHook, writes the quarantine record) and reports each outcome
// back. Boot and the supervise phase both climb the same ladder, so the
// later rungs (patch applied -> probe -> revert, long-task mode,
// resuscitation) are added here once.
//
// Budget: BackoffSpec via Backoff (ComponentSpec::retries local retries,
// reset after reset_after_ms healthy); the hook is asked once per
// component per boot, and a granted round resets the retry budget.
//
// Thread safety: not thread-safe. One ladder per component, used by
// whichever single thread works on the component at the time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "orchestrator/base/clock.h"
#include "orchestrator/config/spec.h"
#include "orchestrator/health/backoff.h"

namespace razar::orchestrator {

class RecoveryLadder {
 public:
  enum class Rung {
    kLaunch,      // start the process and wait until its probe passes
    kBackoff,     // wait Step::delay_ms, then launch again
    kHandover,    // ask the HandoverHook for another round
    kQuarantine,  // give up: write the quarantine record
    kUp,          // healthy; watched by the supervise loop
    kQuarantined, // terminal for this boot
  };

  struct Step {
    Rung rung = Rung::kLaunch;
    uint64_t delay_ms = 0;  // kBackoff
    uint32_t retry = 0;     // kBackoff: 1-based retry since the last reset
    std::string reason;     // kQuarantine: why, for the record
  };

  // `clock` and `random` are borrowed and must outlive the ladder.
  RecoveryLadder(const ComponentSpec& spec, Clock* clock, Random* random);

  // The first step of a boot: kLaunch.
  Step Start();
  // A launch ended. Healthy: kUp. Otherwise the failure path (see OnFailure).
  // `attempts` and `error` name the failure in a quarantine reason.
  // REQUIRES: rung() == kLaunch.
  Step OnLaunch(bool healthy, uint32_t attempts, const std::string& error);
  // A healthy component failed (exited, or its probe crossed the failure
  // threshold). kBackoff while retries are left; then kHandover once per
  // boot; then kQuarantine. REQUIRES: rung() == kUp.
  Step OnFailure(uint32_t attempts, const std::string& error);
  // The back-off wait is over: kLaunch. REQUIRES: rung() == kBackoff.
  Step OnBackoffDone();
  // The hook answered. Granted: a fresh retry budget and kLaunch; declined
  // (or failed): kQuarantine. REQUIRES: rung() == kHandover.
  Step OnHandover(bool granted, uint32_t attempts, const std::string& error);
  // The quarantine record is written: kQuarantined.
  // REQUIRES: rung() == kQuarantine.
  void OnQuarantined();
  // A probe passed while up: keeps the healthy stretch that resets the
  // retry budget going.
  void OnHealthyProbe();

  Rung rung() const { return rung_; }
  bool handed_over() const { return handed_over_; }

 private:
  Step Failed(uint32_t attempts, const std::string& error);
  Step Quarantine(uint32_t attempts, const std::string& error);

  Backoff backoff_;
  Rung rung_ = Rung::kLaunch;
  bool handed_over_ = false;
};

const char* RungName(RecoveryLadder::Rung rung);

}  // namespace razar::orchestrator
