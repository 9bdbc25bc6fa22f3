// Restart backoff for one component: how long to wait before the next
// start, and whether the local retry budget is spent.
//
//   ceiling(n) = min(max_ms, initial_ms * 2^n)       n = 0 for the first retry
//   delay(n)   = uniform in [0, ceiling(n)]          with jitter ("full jitter",
//                                                     AWS Architecture Blog 2015)
//              = ceiling(n)                          without jitter
//
// Budget: ComponentSpec::retries restarts after the first start. The
// attempt count (which is both the exponent n and the budget used) returns
// to 0 once the component has been continuously healthy for
// BackoffSpec::reset_after_ms, like systemd's StartLimitIntervalSec window.
//
// Pure logic: time comes from the injected Clock and randomness from the
// injected Random; Backoff never sleeps. The caller sleeps with
// Clock::SleepForMs(decision.delay_ms, &shutdown) and then starts the
// component again.
//
// Thread safety: not thread-safe; one Backoff per component, used by the
// thread that supervises it.
#pragma once

#include <cstdint>
#include <optional>

#include "orchestrator/base/clock.h"
#include "orchestrator/config/spec.h"

namespace razar::orchestrator {

struct RestartDecision {
  bool give_up = false;   // true: the retry budget is spent, do not restart
  uint64_t delay_ms = 0;  // wait this long before restarting (0 when give_up)
  uint32_t retry = 0;     // 1-based number of this retry since the last reset
};

class Backoff {
 public:
  // `clock` and `random` are borrowed and must outlive the Backoff.
  // `retries` is ComponentSpec::retries.
  Backoff(const BackoffSpec& spec, uint32_t retries, Clock* clock, Random* random);

  // The un-jittered delay for the retry with exponent `attempt` (0-based):
  // min(max_ms, initial_ms * 2^attempt), without overflow for any attempt.
  static uint64_t CeilingMs(const BackoffSpec& spec, uint32_t attempt);

  // The component failed (exited, or its probe crossed failure_threshold).
  // Ends any healthy stretch, applies a pending reset first, then either
  // spends one retry and returns its delay, or returns give_up.
  RestartDecision OnFailure();

  // The component is healthy now. The first call after a failure (or after
  // construction) starts the healthy stretch; later calls keep it going.
  void OnHealthy();
  // The component is not healthy (but has not failed for good): ends the
  // healthy stretch without spending a retry. E.g. a probe failure below
  // failure_threshold, or a restart in progress.
  void OnUnhealthy();

  // Retries spent since the last reset (applies a due reset first).
  uint32_t attempts();
  // Retries left in the budget (applies a due reset first).
  uint32_t retries_left();
  // Forgets all history (e.g. an operator's manual restart).
  void Reset();

 private:
  // Resets the attempt count if the healthy stretch has lasted reset_after_ms.
  void MaybeReset();

  BackoffSpec spec_;
  uint32_t retries_;
  Clock* clock_;
  Random* random_;
  uint32_t attempts_ = 0;
  std::optional<int64_t> healthy_since_ns_;  // steady time the stretch began
};

}  // namespace razar::orchestrator
