#include "orchestrator/razar_cli.h"

#include <fmt/core.h>
#include <signal.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <thread>

#include "orchestrator/boot.h"
#include "orchestrator/config.h"
#include "orchestrator/http_server.h"
#include "orchestrator/metrics.h"
#include "orchestrator/quarantine.h"
#include "orchestrator/runtime_state.h"
#include "replay/replay.h"
#include "storage/spine.h"

namespace razar::orchestrator {
namespace {

constexpr int kOk = 0;
constexpr int kDegraded = 1;
constexpr int kUsage = 2;

// SIGINT / SIGTERM / SIGHUP are blocked in every thread and taken by one
// that waits for them, so that no handler runs at an arbitrary point and
// children (which reset their mask) still get the default behaviour.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal) : on_signal_(std::move(on_signal)) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this] { Run(); });
  }
  ~SignalWatcher() {
    done_ = true;
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  int received() const { return received_; }

 private:
  void Run() {
    const timespec tick{0, 100'000'000};
    while (!done_) {
      const int sig = sigtimedwait(&set_, nullptr, &tick);
      if (sig > 0) {
        received_ = sig;
        on_signal_(sig);
      }
    }
  }
  std::function<void(int)> on_signal_;
  sigset_t set_, old_;
  std::atomic<bool> done_{false};
  std::atomic<int> received_{0};
  std::thread thread_;
};

int RunCheck(const std::string& config_path, const std::string& format, std::ostream& out,
             std::ostream& err) {
  Result<BootConfig> cfg = LoadBootConfig(config_path);
  if (!cfg.ok()) {
    err << "razar: " << cfg.status().message() << "\n";
    return kUsage;
  }
  Result<BootPlan> plan = ComputeBootPlan(*cfg);
  if (!plan.ok()) {
    err << "razar: " << plan.status().message() << "\n";
    return kUsage;
  }
  if (format == "json") {
    out << PlanToJson(*plan).dump(2) << "\n";
  } else {
    out << FormatPlan(*plan);
  }
  return kOk;
}

int RunStatus(const RuntimePaths& paths, const std::string& format, std::ostream& out,
              std::ostream& err) {
  Result<RuntimeState> st = LoadRuntimeState(paths);
  if (!st.ok()) {
    err << "razar: " << st.status().message()
        << (st.status().IsNotFound() ? " (has `razar boot` run here?)" : "") << "\n";
    return kUsage;
  }
  bool healthy = true;
  for (const auto& c : st->components) {
    healthy &= c.status == ComponentStatus::kHealthy || c.status == ComponentStatus::kQuarantined;
  }
  if (format == "json") {
    nlohmann::json j = RuntimeStateToJson(*st);
    j["healthy"] = healthy;
    out << j.dump(2) << "\n";
  } else {
    out << fmt::format("boot started {} by RAZAR pid {}; last healthy component: {}\n",
                       FormatUtcIso8601(st->boot_started_unix_ms), st->razar_pid,
                       st->last_healthy_component.empty() ? "-" : st->last_healthy_component);
    out << fmt::format("{:<24} {:<12} {:>8} {:>8} {:<24} {}\n", "component", "status", "attempts",
                       "pid", "updated", "last error");
    for (const auto& c : st->components) {
      out << fmt::format(
          "{:<24} {:<12} {:>8} {:>8} {:<24} {}\n", c.name, ComponentStatusName(c.status),
          c.attempts, c.pid ? std::to_string(c.pid) : "-",
          c.updated_unix_ms ? FormatUtcIso8601(c.updated_unix_ms) : "-", c.last_error);
    }
  }
  return healthy ? kOk : kDegraded;
}

int RunResolve(const RuntimePaths& paths, const std::string& component, const std::string& note,
               std::ostream& out, std::ostream& err) {
  QuarantineStore store(paths);
  Status st = store.Resolve(component, note);
  if (!st.ok()) {
    err << "razar: " << st.message() << "\n";
    return kUsage;
  }
  Result<std::unique_ptr<LifecycleLog>> log = LifecycleLog::Open(paths.lifecycle_log());
  if (log.ok()) {
    (*log)->Append("resolved", component, "resolved", {{"note", note}}).IgnoreError();
  }
  out << "razar: " << component << " resolved; the next `razar boot` starts it again\n";
  return kOk;
}

struct BootArgs {
  std::string config;
  int http_port = -1;  // -1: the config's
  bool no_spine = false;
  bool exit_after_boot = false;
};

int RunBoot(const RuntimePaths& paths, const BootArgs& a, std::ostream& out, std::ostream& err) {
  Result<BootConfig> cfg = LoadBootConfig(a.config);
  if (!cfg.ok()) {
    err << "razar: " << cfg.status().message() << "\n";
    return kUsage;
  }
  if (a.http_port >= 0) cfg->http.port = static_cast<uint16_t>(a.http_port);

  std::unique_ptr<Supervisor> sup;
  std::atomic<bool> stop_requested{false};
  SignalWatcher signals([&](int) {
    stop_requested = true;
    if (sup) sup->RequestStop();
  });

  // The memory spine: component status changes are appended to it. A
  // spine that cannot be opened does not keep the node down.
  std::unique_ptr<storage::Spine> spine;
  if (!a.no_spine) {
    storage::SpineOptions so;
    so.dir = paths.spine_dir();
    so.log.durability = storage::Durability::kBatch;
    // Status changes are few and small: small segments and buffers keep
    // open and recovery (which read whole segments) fast.
    so.log.segment_bytes = 4u << 20;
    so.log.buffer_bytes = 1u << 20;
    so.log_replayer = replay::ParallelLogReplayer();
    Result<std::unique_ptr<storage::Spine>> s = storage::Spine::Open(so);
    if (s.ok()) {
      spine = std::move(*s);
      const auto& r = spine->recovery_report();
      out << fmt::format("razar: spine {} recovered in {:.3f} s ({} records replayed)\n", so.dir,
                         r.seconds, r.records_replayed);
    } else {
      err << "razar: spine " << so.dir
          << " unavailable, booting without it: " << s.status().ToString() << "\n";
    }
  }

  Metrics metrics;
  SupervisorOptions o;
  o.config = *cfg;
  o.paths = paths;
  o.spine = spine.get();
  o.metrics = &metrics;
  Result<std::unique_ptr<Supervisor>> created = Supervisor::Create(std::move(o));
  if (!created.ok()) {
    err << "razar: " << created.status().ToString() << "\n";
    return kUsage;
  }
  sup = std::move(*created);
  if (stop_requested) sup->RequestStop();

  std::unique_ptr<HttpServer> http;
  if (cfg->http.port != 0) {
    Supervisor* s = sup.get();
    HttpServer::Callbacks cb;
    cb.healthy = [s] { return s->Healthy(); };
    cb.status = [s] { return s->StatusJson(); };
    cb.metrics = &metrics;
    http = std::make_unique<HttpServer>(cfg->http, cb);
    Status st = http->Start();
    if (!st.ok()) {
      err << "razar: HTTP server not started: " << st.ToString() << "\n";
      http.reset();
    } else {
      out << fmt::format("razar: http://{}:{}/ (health, status, metrics)\n", cfg->http.bind,
                         http->port());
    }
  }
  out.flush();

  Status booted = sup->Boot();
  const bool healthy = sup->Healthy();
  size_t quarantined = 0, up = 0;
  for (const auto& c : sup->State().components) {
    quarantined += c.status == ComponentStatus::kQuarantined;
    up += c.status == ComponentStatus::kHealthy;
  }
  if (!healthy) {
    out << "razar: boot finished degraded (see `razar status`)\n";
  } else if (quarantined > 0) {
    out << fmt::format("razar: boot complete: {} healthy, {} quarantined (see `razar status`)\n",
                       up, quarantined);
  } else {
    out << "razar: boot complete: every component healthy\n";
  }
  out.flush();
  if (!booted.ok()) err << "razar: " << booted.ToString() << "\n";
  if (!a.exit_after_boot) {
    sup->Supervise();
    out << "razar: stopping components in reverse order\n";
    sup->StopAll();
  }
  if (http) http->Stop();
  sup.reset();  // with --exit-after-boot: components keep running, to be adopted
  if (spine) spine->Close().IgnoreError();
  return healthy ? kOk : kDegraded;
}

}  // namespace

int RazarMain(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "razar: the RAZAR recovery core — boots a node's components in priority order, probes, "
      "retries, quarantines, resumes.\nExit codes: 0 ok, 1 degraded, 2 usage or config error."};
  app.require_subcommand(1);
  RuntimePaths paths;
  std::string format = "table";
  auto add_base = [&](CLI::App* c) {
    c->add_option("--base", paths.base,
                  "directory holding logs/, quarantine/ and docs/ (runtime files)")
        ->capture_default_str();
  };
  auto add_format = [&](CLI::App* c) {
    c->add_option("--format", format, "output format")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
  };

  BootArgs ba;
  CLI::App* boot = app.add_subcommand("boot", "boot the components of CONFIG and supervise them");
  boot->add_option("config", ba.config, "boot config (JSON, or YAML by .yaml/.yml)")->required();
  add_base(boot);
  boot->add_option("--http-port", ba.http_port, "HTTP port on 127.0.0.1 (0: no server)");
  boot->add_flag("--no-spine", ba.no_spine, "do not open the memory spine (logs/spine)");
  boot->add_flag("--exit-after-boot", ba.exit_after_boot,
                 "return once booted, leaving components running (a later boot adopts them)");

  std::string check_config;
  CLI::App* check =
      app.add_subcommand("check", "validate CONFIG and print the boot plan; launches nothing");
  check->add_option("config", check_config, "boot config")->required();
  add_format(check);

  CLI::App* status = app.add_subcommand("status", "print the component table of the last boot");
  add_base(status);
  add_format(status);

  std::string component, note;
  CLI::App* resolve =
      app.add_subcommand("resolve", "take a component out of quarantine (logs a resolved row)");
  resolve->add_option("component", component, "component name")->required();
  resolve->add_option("--note", note, "why it is resolved (goes to docs/quarantine_log.md)");
  add_base(resolve);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kOk;
  } catch (const CLI::ParseError& e) {
    err << "razar: " << e.what() << "\nRun with --help for usage.\n";
    return kUsage;
  }
  if (*boot) return RunBoot(paths, ba, out, err);
  if (*check) return RunCheck(check_config, format, out, err);
  if (*status) return RunStatus(paths, format, out, err);
  if (*resolve) return RunResolve(paths, component, note, out, err);
  return kUsage;
}

}  // namespace razar::orchestrator
