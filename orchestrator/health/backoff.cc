#include "orchestrator/health/backoff.h"

#include <algorithm>

namespace razar::orchestrator {

Backoff::Backoff(const BackoffSpec& spec, uint32_t retries, Clock* clock, Random* random)
    : spec_(spec), retries_(retries), clock_(clock), random_(random) {}

uint64_t Backoff::CeilingMs(const BackoffSpec& spec, uint32_t attempt) {
  const uint64_t initial = spec.initial_ms;
  const uint64_t max = spec.max_ms;
  if (initial >= max) return max;
  // initial < max < 2^32, so initial << attempt fits in 64 bits whenever it
  // is still below max; test before shifting instead of after.
  if (attempt >= 32 || initial > (max >> attempt)) return max;
  return std::min(max, initial << attempt);
}

RestartDecision Backoff::OnFailure() {
  MaybeReset();
  healthy_since_ns_.reset();
  RestartDecision decision;
  if (attempts_ >= retries_) {
    decision.give_up = true;
    decision.retry = attempts_;
    return decision;
  }
  const uint64_t ceiling = CeilingMs(spec_, attempts_);
  decision.delay_ms = spec_.jitter ? random_->UniformInclusive(ceiling) : ceiling;
  ++attempts_;
  decision.retry = attempts_;
  return decision;
}

void Backoff::OnHealthy() {
  if (!healthy_since_ns_) healthy_since_ns_ = clock_->NowNs();
  MaybeReset();
}

void Backoff::OnUnhealthy() {
  MaybeReset();
  healthy_since_ns_.reset();
}

uint32_t Backoff::attempts() {
  MaybeReset();
  return attempts_;
}

uint32_t Backoff::retries_left() {
  MaybeReset();
  return retries_ - std::min(retries_, attempts_);
}

void Backoff::Reset() {
  attempts_ = 0;
  healthy_since_ns_.reset();
}

void Backoff::MaybeReset() {
  if (!healthy_since_ns_ || attempts_ == 0) return;
  const int64_t healthy_ns = clock_->NowNs() - *healthy_since_ns_;
  if (healthy_ns >= static_cast<int64_t>(spec_.reset_after_ms) * 1'000'000) attempts_ = 0;
}

}  // namespace razar::orchestrator
