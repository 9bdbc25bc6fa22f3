// SignalWatcher: SIGINT / SIGTERM / SIGHUP taken by one thread.
//
// The signals are blocked in the constructing thread (and so in every
// thread it starts afterwards) and waited for by a thread of the watcher's
// own, so that no handler runs at an arbitrary point and children (which
// reset their mask) still get the default behaviour.
//
// Thread safety: construct and destroy on one thread. `on_signal` runs on
// the watcher's thread; it must be thread-safe and must only touch objects
// that outlive the watcher (e.g. raise an Interrupt).
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace razar::orchestrator {

class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal);
  // Joins the thread, then restores the previous signal mask.
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // The last signal received, 0 if none.
  int received() const { return received_; }

 private:
  void Run();

  std::function<void(int)> on_signal_;
  sigset_t set_, old_;
  std::atomic<bool> done_{false};
  std::atomic<int> received_{0};
  std::thread thread_;
};

}  // namespace razar::orchestrator
