#include "orchestrator/cli/razar_cli.h"

#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include "orchestrator/config/config.h"
#include "orchestrator/config/preflight.h"
#include "orchestrator/journal/lifecycle_log.h"
#include "orchestrator/journal/runtime_state.h"
#include "orchestrator/node/node.h"
#include "orchestrator/recovery/quarantine.h"

namespace razar::orchestrator {
namespace {

constexpr int kOk = 0;
constexpr int kDegraded = 1;
constexpr int kWarnings = 1;  // razar check: valid, but the boot would fail here
constexpr int kUsage = 2;

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
  const std::vector<std::string> warnings = PreflightWarnings(*cfg);
  if (format == "json") {
    nlohmann::json j = PlanToJson(*plan);
    j["warnings"] = warnings;
    out << j.dump(2) << "\n";
  } else {
    out << FormatPlan(*plan);
  }
  for (const std::string& w : warnings) err << "razar: warning: " << w << "\n";
  return warnings.empty() ? kOk : kWarnings;
}

int RunStatus(const RuntimePaths& paths, const std::string& format, std::ostream& out,
              std::ostream& err) {
  Result<RuntimeState> st = LoadRuntimeState(paths);
  if (!st.ok()) {
    err << "razar: " << st.status().message()
        << (st.status().IsNotFound() ? " (has `razar boot` run here?)" : "") << "\n";
    return kUsage;
  }
  const bool healthy = NodeHealthOf(*st).healthy;
  if (format == "json") {
    nlohmann::json j = RuntimeStateToJson(*st);
    j.update(NodeHealthJson(*st));
    out << j.dump(2) << "\n";
  } else {
    out << fmt::format("node {}; boot started {} by RAZAR pid {}; last healthy component: {}\n",
                       healthy ? "healthy" : "degraded",
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
  NodeOptions o;
  o.config = std::move(*cfg);
  o.paths = paths;
  o.use_spine = !a.no_spine;
  o.exit_after_boot = a.exit_after_boot;
  o.out = &out;
  o.err = &err;
  Node node(std::move(o));
  return node.Run();
}

}  // namespace

int RazarMain(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "razar: the RAZAR recovery core — boots a node's components in priority order, probes, "
      "retries, quarantines, resumes.\nExit codes: 0 ok, 1 degraded (boot, status) or warnings "
      "(check), 2 usage, config or lock error."};
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
  boot->add_option("--http-port", ba.http_port,
                   "HTTP port (0: no server; default: the config's, else 8787)")
      ->check(CLI::Range(0, 65535));
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
