// Node: one running RAZAR — the composition root that wires the memory
// spine, the supervisor, the HTTP server and the signals together, which
// `razar boot` runs (cli/razar_cli.cc parses arguments, Node does the rest).
//
// Run():
//   1. takes the base directory's lock (logs/razar.lock): one RAZAR per
//      base; a second is refused naming the holder's pid;
//   2. opens the spine (logs/spine; unavailable = boot without it, said);
//   3. creates the Supervisor and starts the HTTP server;
//   4. boots, then supervises until a stop is requested (unless
//      exit_after_boot), then stops every component in reverse order.
//
// Stopping: RequestStop() raises one Interrupt that the Node owns for its
// whole life and the Supervisor waits on. Nothing else is touched, so a
// signal at any moment — before the Supervisor exists, while it boots,
// while it is destroyed — is safe.
//
// Thread safety: Run() on one thread, once. RequestStop() from any thread,
// at any time during the Node's life.
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include "orchestrator/base/clock.h"
#include "orchestrator/config/spec.h"

namespace razar::orchestrator {

struct NodeOptions {
  BootConfig config;  // loaded and validated (LoadBootConfig)
  RuntimePaths paths;
  bool use_spine = true;          // false: --no-spine
  bool exit_after_boot = false;   // return once booted, components left running
  bool handle_signals = true;     // SIGINT/SIGTERM/SIGHUP -> RequestStop()
  std::ostream* out = nullptr;    // borrowed; required
  std::ostream* err = nullptr;    // borrowed; required
  // Test hook: called on Run's thread as it passes each phase ("locked",
  // "spine_open", "supervisor_created", "booted", "supervisor_destroyed").
  std::function<void(const char* phase)> on_phase;
};

class Node {
 public:
  // Exit statuses of Run (and of `razar boot`).
  static constexpr int kHealthy = 0;
  static constexpr int kDegraded = 1;
  static constexpr int kError = 2;  // usage, config, lock, or RAZAR's own files

  explicit Node(NodeOptions options) : options_(std::move(options)) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  int Run();
  void RequestStop() { stop_.Raise(); }

 private:
  void Phase(const char* name) {
    if (options_.on_phase) options_.on_phase(name);
  }

  NodeOptions options_;
  Interrupt stop_;  // outlives everything Run creates
};

}  // namespace razar::orchestrator
