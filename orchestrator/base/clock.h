// Clock and Random: the time and randomness seams of the orchestrator.
//
// Everything that decides *when* (restart backoff, probe periods, heartbeat
// freshness) reads time through a Clock so that tests can drive it with a
// FakeClock instead of sleeping. Waits are interruptible through an
// Interrupt, so a shutdown never has to wait out a 60 s backoff.
//
// Steady time (NowNs / NowMs) is monotonic from an arbitrary origin and is
// what durations and deadlines use. Wall time (UnixNanos) is only for
// timestamps written to files; it may jump.
//
// What does NOT go through a Clock: kernel waits on file descriptors
// (pidfd, pipes, sockets) in process.h / probe.h / notify.h use poll(2)
// timeouts, because a fake clock cannot make the kernel wait less.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <random>

namespace razar::orchestrator {

// A one-shot, level-triggered "stop waiting" flag. Raise() wakes every
// current and future Clock wait that names it.
//
// Thread safety: all methods are safe from any thread. An Interrupt must
// outlive every wait that uses it.
class Interrupt {
 public:
  Interrupt() = default;
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  // Sets the flag and wakes the waiters. Idempotent.
  void Raise();
  bool raised() const { return raised_.load(std::memory_order_acquire); }

 private:
  friend class Clock;
  using Waker = std::function<void()>;
  using WakerHandle = std::list<Waker>::iterator;
  // Waits register a waker for the duration of the wait; Raise() calls
  // each one with mu_ held, so a waker is never called after removal.
  WakerHandle AddWaker(Waker waker);
  void RemoveWaker(WakerHandle handle);

  std::atomic<bool> raised_{false};
  std::mutex mu_;
  std::list<Waker> wakers_;  // guarded by mu_
};

// Time source. Thread safety: implementations are safe from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // Steady (monotonic) time in nanoseconds from an arbitrary origin.
  virtual int64_t NowNs() = 0;
  int64_t NowMs() { return NowNs() / 1'000'000; }
  // Wall-clock time, nanoseconds since the Unix epoch. May go backwards.
  virtual int64_t UnixNanos() = 0;

  // Blocks until steady time >= deadline_ns or `interrupt` (may be null) is
  // raised. Returns true if it returned because of the interrupt (also when
  // it was already raised on entry), false when the deadline passed.
  virtual bool SleepUntilNs(int64_t deadline_ns, Interrupt* interrupt) = 0;
  // SleepUntilNs(NowNs() + duration_ms * 1e6, interrupt). A duration <= 0
  // returns at once (true only if the interrupt is raised).
  bool SleepForMs(int64_t duration_ms, Interrupt* interrupt = nullptr);

  // The process-wide real clock (CLOCK_MONOTONIC / CLOCK_REALTIME). Never
  // deleted.
  static Clock* Real();

 protected:
  // For implementations: forwards to the private Interrupt registration.
  static Interrupt::WakerHandle AddWaker(Interrupt* interrupt, Interrupt::Waker waker) {
    return interrupt->AddWaker(std::move(waker));
  }
  static void RemoveWaker(Interrupt* interrupt, Interrupt::WakerHandle handle) {
    interrupt->RemoveWaker(handle);
  }
};

// A clock that moves only when told to. Sleepers wake when Advance / SetNow
// reaches their deadline or when their Interrupt is raised.
//
// Thread safety: all methods are safe from any thread. Typical test shape:
// a worker thread sleeps on the clock, the test calls WaitForSleepers(1)
// (a real wait, no polling) and then Advance().
class FakeClock : public Clock {
 public:
  // Starts at steady time `start_ns` and wall time `unix_ns`.
  explicit FakeClock(int64_t start_ns = 1'000'000'000, int64_t unix_ns = 1'700'000'000'000'000'000);

  int64_t NowNs() override;
  int64_t UnixNanos() override;
  bool SleepUntilNs(int64_t deadline_ns, Interrupt* interrupt) override;

  // Moves steady and wall time forward by delta (>= 0) and wakes sleepers
  // whose deadline has come.
  void AdvanceNs(int64_t delta_ns);
  void AdvanceMs(int64_t delta_ms) { AdvanceNs(delta_ms * 1'000'000); }
  // Sets the wall time only (steady time never goes backwards).
  void SetUnixNanos(int64_t unix_ns);

  // Number of threads currently blocked in SleepUntilNs.
  int sleepers();
  // Blocks (really) until at least `count` threads sleep on this clock or
  // `timeout_ms` of real time passes; returns whether the count was reached.
  bool WaitForSleepers(int count, int64_t timeout_ms = 5'000);

 private:
  std::mutex mu_;
  std::condition_variable cv_;  // time advanced, an interrupt, or a sleeper came
  int64_t now_ns_;              // guarded by mu_
  int64_t unix_ns_;             // guarded by mu_
  int sleepers_ = 0;            // guarded by mu_
};

// A source of uniform random integers, injectable so that jitter is
// reproducible in tests. Thread safety: implementations are safe from any
// thread.
class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, bound], both ends included.
  virtual uint64_t UniformInclusive(uint64_t bound) = 0;

  // A process-wide source seeded from std::random_device. Never deleted.
  static Random* Default();
};

// Random from a fixed seed (std::mt19937_64): the same seed gives the same
// sequence. Thread safety: safe from any thread (internally locked).
class SeededRandom : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  uint64_t UniformInclusive(uint64_t bound) override;

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;  // guarded by mu_
};

}  // namespace razar::orchestrator
