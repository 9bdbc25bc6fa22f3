#include "orchestrator/base/clock.h"

#include <time.h>

#include <chrono>

namespace razar::orchestrator {
namespace {

int64_t ReadClockNs(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);  // cannot fail for these clock ids
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Registers a waker on `interrupt` (if any) for the lifetime of the scope.
class ScopedWaker {
 public:
  template <typename Add, typename Remove>
  ScopedWaker(Interrupt* interrupt, std::function<void()> waker, Add add, Remove remove)
      : interrupt_(interrupt) {
    if (interrupt_ != nullptr) {
      auto handle = add(interrupt_, std::move(waker));
      remove_ = [interrupt = interrupt_, handle, remove] { remove(interrupt, handle); };
    }
  }
  ScopedWaker(const ScopedWaker&) = delete;
  ScopedWaker& operator=(const ScopedWaker&) = delete;
  ~ScopedWaker() {
    if (remove_) remove_();
  }

 private:
  Interrupt* interrupt_;
  std::function<void()> remove_;
};

class RealClock : public Clock {
 public:
  int64_t NowNs() override { return ReadClockNs(CLOCK_MONOTONIC); }
  int64_t UnixNanos() override { return ReadClockNs(CLOCK_REALTIME); }

  bool SleepUntilNs(int64_t deadline_ns, Interrupt* interrupt) override {
    std::mutex mu;
    std::condition_variable cv;
    ScopedWaker waker(
        interrupt,
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          cv.notify_all();
        },
        &Clock::AddWaker, &Clock::RemoveWaker);
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      if (interrupt != nullptr && interrupt->raised()) return true;
      const int64_t now = NowNs();
      if (now >= deadline_ns) return false;
      // steady_clock is CLOCK_MONOTONIC on Linux/libstdc++, so a relative
      // wait measured against NowNs() cannot drift.
      cv.wait_for(lock, std::chrono::nanoseconds(deadline_ns - now));
    }
  }
};

}  // namespace

void Interrupt::Raise() {
  raised_.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& waker : wakers_) waker();
}

Interrupt::WakerHandle Interrupt::AddWaker(Waker waker) {
  std::lock_guard<std::mutex> lock(mu_);
  return wakers_.insert(wakers_.end(), std::move(waker));
}

void Interrupt::RemoveWaker(WakerHandle handle) {
  std::lock_guard<std::mutex> lock(mu_);
  wakers_.erase(handle);
}

bool Clock::SleepForMs(int64_t duration_ms, Interrupt* interrupt) {
  if (duration_ms <= 0) return interrupt != nullptr && interrupt->raised();
  return SleepUntilNs(NowNs() + duration_ms * 1'000'000, interrupt);
}

Clock* Clock::Real() {
  static RealClock* clock = new RealClock();  // never deleted: usable during exit
  return clock;
}

FakeClock::FakeClock(int64_t start_ns, int64_t unix_ns) : now_ns_(start_ns), unix_ns_(unix_ns) {}

int64_t FakeClock::NowNs() {
  std::lock_guard<std::mutex> lock(mu_);
  return now_ns_;
}

int64_t FakeClock::UnixNanos() {
  std::lock_guard<std::mutex> lock(mu_);
  return unix_ns_;
}

bool FakeClock::SleepUntilNs(int64_t deadline_ns, Interrupt* interrupt) {
  // The waker takes mu_, so it cannot fire between our check of raised()
  // and the wait below (we hold mu_ in between): no lost wake-up.
  ScopedWaker waker(
      interrupt,
      [this] {
        std::lock_guard<std::mutex> lock(mu_);
        cv_.notify_all();
      },
      &Clock::AddWaker, &Clock::RemoveWaker);
  std::unique_lock<std::mutex> lock(mu_);
  ++sleepers_;
  cv_.notify_all();  // for WaitForSleepers
  bool interrupted = false;
  while (true) {
    if (interrupt != nullptr && interrupt->raised()) {
      interrupted = true;
      break;
    }
    if (now_ns_ >= deadline_ns) break;
    cv_.wait(lock);
  }
  --sleepers_;
  return interrupted;
}

void FakeClock::AdvanceNs(int64_t delta_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (delta_ns > 0) {
    now_ns_ += delta_ns;
    unix_ns_ += delta_ns;
  }
  cv_.notify_all();
}

void FakeClock::SetUnixNanos(int64_t unix_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  unix_ns_ = unix_ns;
}

int FakeClock::sleepers() {
  std::lock_guard<std::mutex> lock(mu_);
  return sleepers_;
}

bool FakeClock::WaitForSleepers(int count, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return sleepers_ >= count; });
}

uint64_t SeededRandom::UniformInclusive(uint64_t bound) {
  std::uniform_int_distribution<uint64_t> dist(0, bound);
  std::lock_guard<std::mutex> lock(mu_);
  return dist(engine_);
}

Random* Random::Default() {
  static SeededRandom* random = new SeededRandom(std::random_device{}());
  return random;
}

}  // namespace razar::orchestrator
