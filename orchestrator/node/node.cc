#include "orchestrator/node/node.h"

#include <fmt/core.h>

#include <memory>
#include <optional>

#include "orchestrator/api/http_server.h"
#include "orchestrator/journal/runtime_state.h"
#include "orchestrator/metrics/metrics.h"
#include "orchestrator/node/signal_watcher.h"
#include "orchestrator/os/file_lock.h"
#include "orchestrator/supervisor/supervisor.h"
#include "replay/replay.h"
#include "storage/spine.h"

namespace razar::orchestrator {
namespace {

// The memory spine: component status changes are appended to it. A spine
// that cannot be opened does not keep the node down.
std::unique_ptr<storage::Spine> OpenSpine(const RuntimePaths& paths, std::ostream& out,
                                          std::ostream& err) {
  storage::SpineOptions so;
  so.dir = paths.spine_dir();
  so.log.durability = storage::Durability::kBatch;
  // Status changes are few and small: small segments and buffers keep
  // open and recovery (which read whole segments) fast.
  so.log.segment_bytes = 4u << 20;
  so.log.buffer_bytes = 1u << 20;
  so.log_replayer = replay::ParallelLogReplayer();
  Result<std::unique_ptr<storage::Spine>> s = storage::Spine::Open(so);
  if (!s.ok()) {
    err << "razar: spine " << so.dir << " unavailable, booting without it: " << s.status().ToString()
        << "\n";
    return nullptr;
  }
  const auto& r = (*s)->recovery_report();
  out << fmt::format("razar: spine {} recovered in {:.3f} s ({} records replayed)\n", so.dir,
                     r.seconds, r.records_replayed);
  return std::move(*s);
}

std::unique_ptr<HttpServer> StartHttp(const HttpSpec& spec, Supervisor* sup, Metrics* metrics,
                                      std::ostream& out, std::ostream& err) {
  if (spec.port == 0) return nullptr;
  HttpServer::Callbacks cb;
  cb.healthy = [sup] { return sup->Healthy(); };
  cb.health_detail = [sup] { return NodeHealthJson(sup->State()); };
  cb.status = [sup] { return sup->StatusJson(); };
  cb.metrics = metrics;
  auto http = std::make_unique<HttpServer>(spec, cb);
  Status st = http->Start();
  if (!st.ok()) {
    err << "razar: HTTP server not started: " << st.ToString() << "\n";
    return nullptr;
  }
  out << fmt::format("razar: http://{}:{}/ (health, status, metrics)\n", spec.bind, http->port());
  return http;
}

void PrintBootSummary(const RuntimeState& state, std::ostream& out) {
  const NodeHealth h = NodeHealthOf(state);
  if (h.healthy) {
    out << "razar: boot complete: every component healthy\n";
    return;
  }
  out << fmt::format(
      "razar: boot finished degraded: {} of {} components healthy, {} quarantined, {} blocked, "
      "{} not healthy (see `razar status`)\n",
      state.components.size() - h.quarantined.size() - h.blocked.size() - h.unhealthy.size(),
      state.components.size(), h.quarantined.size(), h.blocked.size(), h.unhealthy.size());
}

}  // namespace

int Node::Run() {
  std::ostream& out = *options_.out;
  std::ostream& err = *options_.err;
  std::optional<SignalWatcher> signals;
  if (options_.handle_signals) signals.emplace([this](int) { RequestStop(); });

  Status dirs = storage::Env::Default()->CreateDirs(options_.paths.logs_dir());
  if (!dirs.ok()) {
    err << "razar: " << dirs.ToString() << "\n";
    return kError;
  }
  Result<std::unique_ptr<FileLock>> lock =
      FileLock::Acquire(options_.paths.lock_file(), "base directory " + options_.paths.base);
  if (!lock.ok()) {
    err << "razar: " << lock.status().message() << " (one `razar boot` per --base)\n";
    return kError;
  }
  Phase("locked");

  std::unique_ptr<storage::Spine> spine;
  if (options_.use_spine) spine = OpenSpine(options_.paths, out, err);
  Phase("spine_open");

  Metrics metrics;
  SupervisorOptions so;
  so.config = options_.config;
  so.paths = options_.paths;
  so.spine = spine.get();
  so.metrics = &metrics;
  so.stop = &stop_;
  Result<std::unique_ptr<Supervisor>> created = Supervisor::Create(std::move(so));
  if (!created.ok()) {
    err << "razar: " << created.status().ToString() << "\n";
    return kError;
  }
  std::unique_ptr<Supervisor> sup = std::move(*created);
  Phase("supervisor_created");
  std::unique_ptr<HttpServer> http = StartHttp(options_.config.http, sup.get(), &metrics, out, err);
  out.flush();

  Status booted = sup->Boot();
  const RuntimeState after_boot = sup->State();
  PrintBootSummary(after_boot, out);
  if (!booted.ok()) err << "razar: " << booted.ToString() << "\n";
  out.flush();
  Phase("booted");
  const bool healthy = NodeHealthOf(after_boot).healthy;
  if (!options_.exit_after_boot) {
    sup->Supervise();
    out << "razar: stopping components in reverse order\n";
    sup->StopAll();
  }
  if (http) http->Stop();
  sup.reset();  // with exit_after_boot: components keep running, to be adopted
  Phase("supervisor_destroyed");
  if (spine) spine->Close().IgnoreError();
  return healthy ? kHealthy : kDegraded;
}

}  // namespace razar::orchestrator
