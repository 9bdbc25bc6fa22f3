#include "orchestrator/node/signal_watcher.h"

#include <time.h>

namespace razar::orchestrator {

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal)
    : on_signal_(std::move(on_signal)) {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
  thread_ = std::thread([this] { Run(); });
}

SignalWatcher::~SignalWatcher() {
  done_ = true;
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

void SignalWatcher::Run() {
  const timespec tick{0, 100'000'000};
  while (!done_) {
    const int sig = sigtimedwait(&set_, nullptr, &tick);
    if (sig > 0) {
      received_ = sig;
      on_signal_(sig);
    }
  }
}

}  // namespace razar::orchestrator
