#include "orchestrator/supervisor/ladder.h"

#include <iterator>

#include "storage/check.h"

namespace razar::orchestrator {

RecoveryLadder::RecoveryLadder(const ComponentSpec& spec, Clock* clock, Random* random)
    : backoff_(spec.backoff, spec.retries, clock, random) {}

RecoveryLadder::Step RecoveryLadder::Start() {
  rung_ = Rung::kLaunch;
  return Step{Rung::kLaunch};
}

RecoveryLadder::Step RecoveryLadder::OnLaunch(bool healthy, uint32_t attempts,
                                              const std::string& error) {
  RAZAR_CHECK(rung_ == Rung::kLaunch);
  if (!healthy) return Failed(attempts, error);
  backoff_.OnHealthy();
  rung_ = Rung::kUp;
  return Step{Rung::kUp};
}

RecoveryLadder::Step RecoveryLadder::OnFailure(uint32_t attempts, const std::string& error) {
  RAZAR_CHECK(rung_ == Rung::kUp);
  return Failed(attempts, error);
}

RecoveryLadder::Step RecoveryLadder::OnBackoffDone() {
  RAZAR_CHECK(rung_ == Rung::kBackoff);
  rung_ = Rung::kLaunch;
  return Step{Rung::kLaunch};
}

RecoveryLadder::Step RecoveryLadder::OnHandover(bool granted, uint32_t attempts,
                                                const std::string& error) {
  RAZAR_CHECK(rung_ == Rung::kHandover);
  if (!granted) return Quarantine(attempts, error);
  backoff_.Reset();
  rung_ = Rung::kLaunch;
  return Step{Rung::kLaunch};
}

void RecoveryLadder::OnQuarantined() {
  RAZAR_CHECK(rung_ == Rung::kQuarantine);
  rung_ = Rung::kQuarantined;
}

void RecoveryLadder::OnHealthyProbe() {
  if (rung_ == Rung::kUp) backoff_.OnHealthy();
}

RecoveryLadder::Step RecoveryLadder::Failed(uint32_t attempts, const std::string& error) {
  const RestartDecision d = backoff_.OnFailure();
  if (!d.give_up) {
    rung_ = Rung::kBackoff;
    return Step{Rung::kBackoff, d.delay_ms, d.retry, ""};
  }
  if (!handed_over_) {
    handed_over_ = true;
    rung_ = Rung::kHandover;
    return Step{Rung::kHandover};
  }
  return Quarantine(attempts, error);
}

RecoveryLadder::Step RecoveryLadder::Quarantine(uint32_t attempts, const std::string& error) {
  rung_ = Rung::kQuarantine;
  return Step{Rung::kQuarantine, 0, 0,
              "local retries exhausted (" + std::to_string(attempts) + " attempts): " + error};
}

const char* RungName(RecoveryLadder::Rung rung) {
  // In enum order.
  static constexpr const char* kNames[] = {"launch",     "backoff", "handover",
                                           "quarantine", "up",      "quarantined"};
  const auto i = static_cast<size_t>(rung);
  return i < std::size(kNames) ? kNames[i] : "?";
}

}  // namespace razar::orchestrator
