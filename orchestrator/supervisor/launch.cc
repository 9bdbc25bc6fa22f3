// Supervisor: one launch of a component, and its probes.
#include <xxhash.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>

#include "orchestrator/supervisor/supervisor.h"
#include "orchestrator/supervisor/unit.h"

namespace razar::orchestrator {
namespace {

// sun_path holds 108 bytes with the terminating NUL.
constexpr size_t kMaxSocketPath = 107;

// NOTIFY_SOCKET must be an absolute path or an abstract name (sd_notify(3)):
// systemd-notify refuses a relative one, and a component whose working
// directory differs from RAZAR's could not reach it. An absolute path too
// long for sun_path becomes an abstract name unique to the runtime
// directory.
std::string NotifySocketAddress(const std::string& notify_dir, const std::string& name) {
  std::error_code ec;
  std::string dir = std::filesystem::absolute(notify_dir, ec).lexically_normal().string();
  if (ec) dir = notify_dir;
  std::string path = dir + "/" + name + ".sock";
  if (path.size() <= kMaxSocketPath && path.front() == '/') return path;
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016" PRIx64, XXH3_64bits(dir.data(), dir.size()));
  return "@razar/" + std::string(hash) + "/" + name;
}

}  // namespace

Status Supervisor::BindNotifySocket(Unit& u, std::string* path) {
  *path = NotifySocketAddress(options_.paths.notify_dir(), u.spec.name);
  // The old socket unlinks its path when destroyed: drop it before binding
  // the new one there (a relaunch must not lose its socket).
  u.notify.reset();
  if (path->front() == '/') {
    std::error_code ec;
    std::filesystem::remove(*path, ec);
  }
  RAZAR_ASSIGN_OR_RETURN(u.notify, NotifySocket::Bind(*path, clock_));
  return Status::Ok();
}

ProbeResult Supervisor::Probe(Unit& u, uint32_t timeout_ms) {
  ProbeSpec spec = u.spec.probe;
  spec.timeout_ms = timeout_ms;
  ProbeResult r;
  if (spec.kind == ProbeKind::kNone) {
    // Without a probe, running is all we can see — but a process that dies
    // right after exec is running for a moment too. It counts as healthy
    // only once it has survived start_grace_ms (supervisord's startsecs).
    const bool alive = u.proc != nullptr && u.proc->IsAlive();
    const int64_t running_ms = (clock_->NowNs() - u.launched_ns) / 1'000'000;
    r.healthy = alive && running_ms >= int64_t{u.spec.start_grace_ms};
    r.detail = !alive     ? "not running"
               : r.healthy ? "running"
                           : "running for " + std::to_string(running_ms) + " ms of its " +
                                 std::to_string(u.spec.start_grace_ms) + " ms start grace";
  } else {
    r = RunProbe(spec, ContextFor(u.spec, u.notify.get()));
  }
  if (options_.metrics != nullptr) {
    options_.metrics->ObserveProbe(u.spec.name, spec.kind, r.seconds, r.healthy);
  }
  return r;
}

// One launch: spawn, then probe every startup_probe_interval_ms until the
// probe passes, the process exits or start_timeout passes.
bool Supervisor::LaunchOnce(Unit& u) {
  {
    std::lock_guard<std::mutex> l(mu_);
    ++u.attempts;
  }
  SpawnOptions so;
  so.log_dir = options_.paths.component_logs_dir();
  if (u.spec.probe.kind == ProbeKind::kNotify) {
    Status bound = BindNotifySocket(u, &so.notify_socket);
    if (!bound.ok()) {
      SetStatus(u, ComponentStatus::kFailed, "notify socket: " + bound.ToString(), "failed");
      return false;
    }
  }
  Result<std::unique_ptr<Process>> p = Process::Spawn(u.spec, so);
  if (!p.ok()) {
    SetStatus(u, ComponentStatus::kFailed, "launch: " + p.status().ToString(), "failed");
    return false;
  }
  u.proc = std::move(*p);
  u.launched_ns = clock_->NowNs();
  SetStatus(u, ComponentStatus::kStarting, "pid " + std::to_string(u.proc->pid()), "launched");
  const int64_t deadline = u.launched_ns + int64_t{u.spec.start_timeout_ms} * 1'000'000;
  std::string last = "no probe yet";
  for (;;) {
    if (Stopping()) {
      // Not a failure of the component: RAZAR stops it on purpose.
      Result<ExitStatus> es = u.proc->Stop(u.spec.stop_timeout_ms);
      SetStatus(u, ComponentStatus::kStopped,
                "stopped during start: " + (es.ok() ? es->ToString() : es.status().ToString()),
                "stopped");
      u.proc.reset();
      return false;
    }
    if (!u.proc->IsAlive()) {
      auto es = u.proc->exit_status();
      last = "exited during start (" + (es ? es->ToString() : std::string("unknown")) + ")";
      break;
    }
    const int64_t left_ms = (deadline - clock_->NowNs()) / 1'000'000;
    if (left_ms <= 0) {
      last =
          "start timeout (" + std::to_string(u.spec.start_timeout_ms) + " ms); last probe: " + last;
      break;
    }
    const ProbeResult r =
        Probe(u, static_cast<uint32_t>(std::min<int64_t>(u.spec.probe.timeout_ms, left_ms)));
    if (r.healthy) {
      u.tracker->Reset();
      u.tracker->Update(r);
      u.next_probe_ns = clock_->NowNs() + int64_t{u.spec.probe.period_ms} * 1'000'000;
      SetStatus(u, ComponentStatus::kHealthy, r.detail, "healthy");
      return true;
    }
    last = r.detail;
    clock_->SleepForMs(
        std::min<int64_t>(options_.startup_probe_interval_ms, std::max<int64_t>(left_ms, 1)),
        stop_);
  }
  u.proc->Stop(u.spec.stop_timeout_ms).status().IgnoreError();
  SetStatus(u, ComponentStatus::kFailed, last, "failed");
  return false;
}

}  // namespace razar::orchestrator
