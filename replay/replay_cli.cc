#include "replay/replay_cli.h"

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "replay/forensics.h"
#include "replay/replay.h"

namespace razar::replay {
namespace {

using nlohmann::json;
using storage::Layer;

struct Common {
  std::string spine = "logs/spine";
  std::string format = "table";
};

void AddCommon(CLI::App* cmd, Common* c) {
  cmd->add_option("--spine", c->spine, "spine directory (holds SPINE, log/, snapshots/)")
      ->capture_default_str();
  cmd->add_option("--format", c->format, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
}

std::string Mb(uint64_t bytes) { return fmt::format("{:.1f} MiB", bytes / 1048576.0); }
std::string TimeOrDash(int64_t ns) { return ns == 0 ? "-" : FormatTime(ns); }

json DamageJson(const storage::Damage& d) {
  return {{"file", "log/" + d.segment},
          {"offset", d.offset},
          {"bytes", d.bytes},
          {"last_good_lsn", d.last_good_lsn},
          {"next_good_lsn", d.next_good_lsn},
          {"kind", storage::DamageKindName(d.kind)},
          {"detail", d.detail},
          {"synced_data_damaged", d.synced_data_damaged}};
}

void ReportDamages(std::ostream& err, const std::vector<storage::Damage>& ds) {
  for (const auto& d : ds) err << "razar-replay: damage: " << storage::DescribeDamage(d) << "\n";
}

// Prints a query that could not run at all (exit 2).
int Unusable(const Status& s, std::ostream& err) {
  err << "razar-replay: " << s.ToString() << "\n";
  return kExitUsage;
}

// --- info ---

json InfoJson(const SpineInfo& i) {
  json segs = json::array();
  for (const auto& s : i.segments) {
    segs.push_back({{"name", s.summary.name},
                    {"first_lsn", s.summary.first_lsn},
                    {"last_lsn", s.summary.last_lsn},
                    {"records", s.summary.records},
                    {"bytes", s.summary.file_bytes},
                    {"damaged", s.summary.damaged},
                    {"first_time", TimeOrDash(s.first_unix_ns)},
                    {"last_time", TimeOrDash(s.last_unix_ns)}});
  }
  json snaps = json::object();
  for (int li = 0; li < storage::kLayerCount; ++li) {
    json a = json::array();
    for (const auto& m : i.snapshots[li]) {
      a.push_back({{"id", m.snapshot_id},
                   {"created", FormatTime(m.created_unix_ns)},
                   {"min_lsn", m.min_lsn()},
                   {"max_lsn", m.max_lsn()},
                   {"sessions", m.sessions},
                   {"events", m.events},
                   {"components", m.components},
                   {"value_bytes", m.value_bytes}});
    }
    snaps[storage::LayerName(static_cast<Layer>(li))] = a;
  }
  json damages = json::array();
  for (const auto& d : i.damages) damages.push_back(DamageJson(d));
  return {{"spine", i.dir},
          {"live", i.live},
          {"live_pid", i.live_pid},
          {"records", i.records},
          {"first_lsn", i.first_lsn},
          {"last_lsn", i.last_lsn},
          {"first_time", TimeOrDash(i.first_unix_ns)},
          {"last_time", TimeOrDash(i.last_unix_ns)},
          {"log_bytes", i.log_bytes},
          {"snapshot_bytes", i.snapshot_bytes},
          {"segments", segs},
          {"snapshots", snaps},
          {"damages", damages},
          {"problems", i.problems},
          {"notes", i.notes}};
}

void PrintInfoTable(const SpineInfo& i, std::ostream& out) {
  out << fmt::format("spine {}{}\n", i.dir,
                     i.live ? fmt::format(" (live: open by pid {})", i.live_pid) : "");
  out << fmt::format("log: {} records, LSN {}..{}, {} .. {}, {} in {} segments\n", i.records,
                     i.first_lsn, i.last_lsn, TimeOrDash(i.first_unix_ns),
                     TimeOrDash(i.last_unix_ns), Mb(i.log_bytes), i.segments.size());
  constexpr const char* kSegRow = "  {:<28} {:>12} {:>12} {:>10} {:>12}  {:<31} {}\n";
  out << fmt::format(kSegRow, "segment", "first LSN", "last LSN", "records", "size", "last record",
                     "");
  for (const auto& s : i.segments) {
    out << fmt::format(kSegRow, s.summary.name, s.summary.first_lsn, s.summary.last_lsn,
                       s.summary.records, Mb(s.summary.file_bytes), TimeOrDash(s.last_unix_ns),
                       s.summary.damaged ? "DAMAGED" : "");
  }
  out << fmt::format("snapshots: {}\n", Mb(i.snapshot_bytes));
  constexpr const char* kSnapRow = "  {:<10} {:>6} {:<31} {:>12} {:>12} {:>10} {:>10} {:>6}\n";
  out << fmt::format(kSnapRow, "layer", "id", "created", "min LSN", "max LSN", "sessions", "events",
                     "comps");
  for (int li = 0; li < storage::kLayerCount; ++li) {
    const char* name = storage::LayerName(static_cast<Layer>(li));
    if (i.snapshots[li].empty()) out << fmt::format("  {:<10} {:>6}\n", name, "-");
    for (const auto& m : i.snapshots[li]) {
      out << fmt::format(kSnapRow, name, m.snapshot_id, FormatTime(m.created_unix_ns), m.min_lsn(),
                         m.max_lsn(), m.sessions, m.events, m.components);
    }
  }
  for (const auto& p : i.problems) out << "problem: " << p << "\n";
  for (const auto& n : i.notes) out << "note: " << n << "\n";
}

int RunInfo(const Common& c, std::ostream& out, std::ostream& err) {
  Result<SpineInfo> r = Inspect(c.spine, storage::Env::Default());
  if (!r.ok()) return Unusable(r.status(), err);
  if (c.format == "json") {
    out << InfoJson(*r).dump(2) << "\n";
  } else {
    PrintInfoTable(*r, out);
  }
  ReportDamages(err, r->damages);
  return r->damages.empty() && r->problems.empty() ? kExitOk : kExitDamaged;
}

// --- verify ---

int RunVerify(const Common& c, std::ostream& out, std::ostream& err) {
  Result<VerifyReport> r = Verify(c.spine, storage::Env::Default());
  if (!r.ok()) return Unusable(r.status(), err);
  const VerifyReport& v = *r;
  if (c.format == "json") {
    json ds = json::array();
    for (const auto& f : v.damages) {
      ds.push_back({{"file", f.where},
                    {"offset", f.offset},
                    {"lsn", f.lsn},
                    {"kind", f.kind},
                    {"detail", f.detail}});
    }
    out << json{{"clean", v.clean()},   {"live", v.live},           {"segments", v.segments},
                {"records", v.records}, {"snapshots", v.snapshots}, {"damages", ds},
                {"notes", v.notes}}
               .dump(2)
        << "\n";
  } else {
    out << fmt::format("{} segments, {} records, {} snapshots checked: {}\n", v.segments, v.records,
                       v.snapshots,
                       v.clean() ? "clean" : fmt::format("{} damaged", v.damages.size()));
    if (!v.damages.empty()) {
      out << fmt::format("  {:<34} {:>10} {:>12} {:<20} {}\n", "file", "offset", "LSN", "kind",
                         "detail");
    }
    for (const auto& f : v.damages) {
      out << fmt::format("  {:<34} {:>10} {:>12} {:<20} {}\n", f.where, f.offset, f.lsn, f.kind,
                         f.detail);
    }
    for (const auto& n : v.notes) out << "note: " << n << "\n";
  }
  return v.clean() ? kExitOk : kExitDamaged;
}

// --- dump / timeline filters ---

struct FilterArgs {
  std::string layer, session, component, kind, from, to;
};

void AddFilters(CLI::App* cmd, FilterArgs* f) {
  cmd->add_option("--layer", f->layer, "only this layer (root ... crown)");
  cmd->add_option("--session", f->session, "only records of this session id");
  cmd->add_option("--component", f->component, "only this component (id or name)");
  cmd->add_option("--kind", f->kind, "only this record kind (beat, session_open, ...)");
  cmd->add_option("--from", f->from, "first LSN or UTC time (inclusive)");
  cmd->add_option("--to", f->to, "last LSN or UTC time (inclusive)");
}

Result<DumpFilter> MakeFilter(const FilterArgs& a) {
  DumpFilter f;
  if (!a.layer.empty()) {
    auto l = storage::ParseLayer(a.layer);
    if (!l) {
      return Status::InvalidArgument("unknown layer '" + a.layer +
                                     "' (root, sacral, solar, heart, throat, third_eye, crown)");
    }
    f.layer = *l;
  }
  if (!a.session.empty()) {
    uint64_t id = 0;
    auto [p, ec] = std::from_chars(a.session.data(), a.session.data() + a.session.size(), id);
    if (ec != std::errc() || p != a.session.data() + a.session.size()) {
      return Status::InvalidArgument("--session wants a session id (0 .. 2^64-1), got '" +
                                     a.session + "'");
    }
    f.session = id;
  }
  if (!a.component.empty()) {
    // All digits is an id, and must fit one; anything else is a name.
    if (a.component.find_first_not_of("0123456789") == std::string::npos) {
      uint32_t id = 0;
      auto [p, ec] =
          std::from_chars(a.component.data(), a.component.data() + a.component.size(), id);
      if (ec != std::errc() || p != a.component.data() + a.component.size()) {
        return Status::InvalidArgument("--component id out of range (0 .. 4294967295): '" +
                                       a.component + "'");
      }
    }
    f.component = a.component;
  }
  if (!a.kind.empty()) {
    auto k = storage::ParseRecordKind(a.kind);
    if (!k) return Status::InvalidArgument("unknown record kind '" + a.kind + "'");
    f.kind = *k;
  }
  if (!a.from.empty()) {
    RAZAR_ASSIGN_OR_RETURN(Target t, ParseTarget(a.from));
    f.from = t;
  }
  if (!a.to.empty()) {
    RAZAR_ASSIGN_OR_RETURN(Target t, ParseTarget(a.to));
    f.to = t;
  }
  return f;
}

int DumpExit(const DumpStats& s, std::ostream& err) {
  for (const auto& n : s.notes) err << "razar-replay: note: " << n << "\n";
  ReportDamages(err, s.damages);
  if (s.undecodable > 0)
    err << "razar-replay: " << s.undecodable << " undecodable records skipped\n";
  return s.damages.empty() && s.undecodable == 0 ? kExitOk : kExitDamaged;
}

int RunDump(const Common& c, const FilterArgs& fa, uint64_t limit, std::ostream& out,
            std::ostream& err) {
  Result<DumpFilter> f = MakeFilter(fa);
  if (!f.ok()) {
    err << "razar-replay: " << f.status().message() << "\n";
    return kExitUsage;
  }
  uint64_t n = 0;
  const bool js = c.format == "json";
  auto print = [&](const DumpedRecord& r) {
    if (js) {
      out << RecordToJson(r).dump() << "\n";  // JSON lines: one record per line
    } else {
      out << fmt::format("{:>12} {}  {}\n", r.lsn, FormatTime(r.unix_ns),
                         storage::DescribeRecord(r.rec));
    }
    return limit == 0 || ++n < limit;
  };
  Result<DumpStats> s = Dump(c.spine, *f, print, storage::Env::Default());
  if (!s.ok()) {
    err << "razar-replay: " << s.status().ToString() << "\n";
    return kExitUsage;
  }
  if (!js) out << fmt::format("{} of {} records matched\n", s->matched, s->scanned);
  return DumpExit(*s, err);
}

int RunTimeline(const Common& c, const FilterArgs& fa, std::ostream& out, std::ostream& err) {
  Result<DumpFilter> f = MakeFilter(fa);
  if (!f.ok()) {
    err << "razar-replay: " << f.status().message() << "\n";
    return kExitUsage;
  }
  DumpStats stats;
  Result<std::vector<TimelineEvent>> t = Timeline(c.spine, *f, &stats, storage::Env::Default());
  if (!t.ok()) {
    err << "razar-replay: " << t.status().ToString() << "\n";
    return kExitUsage;
  }
  if (c.format == "json") {
    json a = json::array();
    for (const auto& e : *t) {
      a.push_back({{"lsn", e.lsn},
                   {"time", FormatTime(e.unix_ns)},
                   {"layer", storage::LayerName(e.layer)},
                   {"event", e.what},
                   {"component", e.component},
                   {"state", e.state},
                   {"detail", e.detail}});
    }
    out << a.dump(2) << "\n";
  } else {
    out << fmt::format("{:<31} {:>10} {:<10} {:<12} {:<20} {:<12} {}\n", "time", "LSN", "layer",
                       "event", "component", "state", "detail");
    for (const auto& e : *t) {
      out << fmt::format("{:<31} {:>10} {:<10} {:<12} {:<20} {:<12} {}\n", FormatTime(e.unix_ns),
                         e.lsn, storage::LayerName(e.layer), e.what, e.component, e.state,
                         e.detail);
    }
  }
  return DumpExit(stats, err);
}

// --- rebuild ---

class ProgressBar {
 public:
  ProgressBar(std::ostream& err, bool on) : err_(err), on_(on) {}
  void operator()(const Progress& p) {
    if (!on_) return;
    const double frac = p.total_bytes ? static_cast<double>(p.bytes) / p.total_bytes : 0;
    const int width = 30;
    const int fill = static_cast<int>(frac * width + 0.5);
    err_ << fmt::format("\r[{}{}] {:3.0f}%  {} records  {}  {:.0f} MiB/s ", std::string(fill, '#'),
                        std::string(width - fill, '.'), frac * 100, p.records, Mb(p.bytes),
                        p.seconds > 0 ? p.bytes / 1048576.0 / p.seconds : 0.0);
    if (p.done) err_ << "\n";
    err_.flush();
  }

 private:
  std::ostream& err_;
  bool on_;
};

struct RebuildArgs {
  std::string at, mode = "point-in-time", export_path;
  uint32_t threads = 0;
  bool sequential = false;
};

// The RebuildOptions the arguments ask for; InvalidArgument naming the
// option otherwise.
Result<RebuildOptions> MakeRebuildOptions(const Common& c, const RebuildArgs& a) {
  RebuildOptions o;
  o.env = storage::Env::Default();
  o.spine_dir = c.spine;
  o.threads = a.threads;
  o.sequential = a.sequential;
  if (!a.at.empty()) {
    Result<Target> t = ParseTarget(a.at);
    if (!t.ok()) return Status::InvalidArgument("--at: " + t.status().message());
    o.target = *t;
  }
  Result<storage::RecoveryMode> m = storage::ParseRecoveryMode(a.mode);
  if (!m.ok()) return Status::InvalidArgument("--mode: " + m.status().message());
  o.mode = *m;
  return o;
}

struct LayerTotals {
  uint64_t sessions = 0, events = 0;
};
LayerTotals TotalsOf(const storage::LayerState& ls) {
  LayerTotals t;
  for (const auto& sh : ls.shards) {
    t.sessions += sh.sessions.size();
    t.events += sh.events.size();
  }
  return t;
}

json RebuildJson(const Rebuilt& b, const Target& target) {
  const LogReplayStats& l = b.log;
  json layers = json::object();
  for (int li = 0; li < storage::kLayerCount; ++li) {
    const Layer layer = static_cast<Layer>(li);
    const storage::LayerState& ls = b.state.layer(layer);
    const LayerTotals t = TotalsOf(ls);
    layers[storage::LayerName(layer)] = {{"sessions", t.sessions},
                                         {"pending_events", t.events},
                                         {"components", ls.components.size()},
                                         {"snapshot_id", b.snapshots.layers[li].snapshot_id},
                                         {"down", ls.meta.down}};
  }
  return {{"target", target.ToString()},
          {"sessions", b.state.session_count()},
          {"pending_events", b.state.event_count()},
          {"layers", layers},
          {"records_read", l.records_read},
          {"records_applied", l.records_applied},
          {"records_skipped", l.records_skipped},
          {"last_lsn", l.last_applied_lsn},
          {"threads", l.threads},
          {"snapshot_seconds", b.snapshots.seconds},
          {"log_seconds", l.seconds},
          {"total_seconds", b.seconds},
          {"records_per_second", l.seconds > 0 ? l.records_read / l.seconds : 0},
          {"mib_per_second", l.seconds > 0 ? l.bytes_read / 1048576.0 / l.seconds : 0},
          {"problems", b.snapshots.problems},
          {"notes", b.snapshots.notes},
          {"log", l.log.Summary()}};
}

void PrintRebuildTable(const Rebuilt& b, const Target& target, std::ostream& out) {
  const LogReplayStats& l = b.log;
  out << fmt::format("rebuilt to {}: {} sessions, {} pending events (last LSN {})\n",
                     target.ToString(), b.state.session_count(), b.state.event_count(),
                     l.last_applied_lsn);
  constexpr const char* kRow = "  {:<10} {:>10} {:>10} {:>6} {:>9} {}\n";
  out << fmt::format(kRow, "layer", "sessions", "pending", "comps", "snapshot", "status");
  for (int li = 0; li < storage::kLayerCount; ++li) {
    const Layer layer = static_cast<Layer>(li);
    const storage::LayerState& ls = b.state.layer(layer);
    const LayerTotals t = TotalsOf(ls);
    const uint64_t id = b.snapshots.layers[li].snapshot_id;
    out << fmt::format(kRow, storage::LayerName(layer), t.sessions, t.events, ls.components.size(),
                       id ? std::to_string(id) : "-", ls.meta.down ? "DOWN" : "up");
  }
  out << fmt::format(
      "snapshots loaded in {:.3f} s; log: {} records read ({} applied, {} already in "
      "snapshots), {} in {:.3f} s with {} threads = {:.0f} records/s, {:.0f} MiB/s\n",
      b.snapshots.seconds, l.records_read, l.records_applied, l.records_skipped, Mb(l.bytes_read),
      l.seconds, l.threads, l.seconds > 0 ? l.records_read / l.seconds : 0,
      l.seconds > 0 ? l.bytes_read / 1048576.0 / l.seconds : 0);
  out << fmt::format("total {:.3f} s; log: {}\n", b.seconds, l.log.Summary());
  for (const auto& p : b.snapshots.problems) out << "problem: " << p << "\n";
}

int RunRebuild(const Common& c, const RebuildArgs& a, std::ostream& out, std::ostream& err,
               bool tty) {
  Result<RebuildOptions> o = MakeRebuildOptions(c, a);
  if (!o.ok()) {
    err << "razar-replay: " << o.status().message() << "\n";
    return kExitUsage;
  }
  ProgressBar bar(err, tty);
  o->progress = [&bar](const Progress& p) { bar(p); };
  Result<Rebuilt> r = Rebuild(*o);
  if (!r.ok()) {
    err << "razar-replay: rebuild failed: " << r.status().ToString() << "\n";
    return kExitUsage;
  }
  const Rebuilt& b = *r;
  if (!a.export_path.empty()) {
    std::ofstream f(a.export_path, std::ios::trunc);
    f << StateToJson(b.state).dump(1) << "\n";
    f.close();
    if (!f) {
      err << "razar-replay: cannot write " << a.export_path << "\n";
      return kExitUsage;
    }
  }
  if (c.format == "json") {
    out << RebuildJson(b, o->target).dump(2) << "\n";
  } else {
    PrintRebuildTable(b, o->target, out);
  }
  std::vector<std::string> notes = b.snapshots.notes;
  const std::vector<storage::Damage> damages = DamagesOf(c.spine, b.log.log, &notes);
  for (const auto& n : notes) err << "razar-replay: note: " << n << "\n";
  ReportDamages(err, damages);
  return damages.empty() && b.snapshots.problems.empty() ? kExitOk : kExitDamaged;
}

}  // namespace

int ReplayToolMain(int argc, char** argv, std::ostream& out, std::ostream& err, bool err_is_tty) {
  CLI::App app{
      "razar-replay: read-only forensics over a RAZAR spine (heartbeat log + snapshots).\n"
      "Exit codes: 0 clean, 1 damage found (everything readable still used), 2 usage or "
      "I/O error."};
  app.require_subcommand(1);
  Common c;
  FilterArgs fa;

  CLI::App* info = app.add_subcommand("info", "segments, LSN and time ranges, snapshots, sizes");
  AddCommon(info, &c);
  CLI::App* verify = app.add_subcommand(
      "verify", "check every segment and snapshot; report each damage (exit 1 if any)");
  AddCommon(verify, &c);
  CLI::App* dump = app.add_subcommand("dump", "print records matching filters, in LSN order");
  AddCommon(dump, &c);
  AddFilters(dump, &fa);
  uint64_t limit = 0;
  dump->add_option("--limit", limit, "stop after this many records (0: no limit)");
  CLI::App* timeline = app.add_subcommand(
      "timeline", "component status changes, chakra_down/up and failure pulses in time order");
  AddCommon(timeline, &c);
  AddFilters(timeline, &fa);
  CLI::App* rebuild =
      app.add_subcommand("rebuild", "replay snapshots + log; print counts, timings, throughput");
  AddCommon(rebuild, &c);
  RebuildArgs ra;
  rebuild->add_option("--at", ra.at, "rebuild as of this LSN or UTC time (default: the end)");
  rebuild->add_option("--threads", ra.threads, "replay threads (0: hardware threads)")
      ->capture_default_str();
  rebuild->add_flag("--sequential", ra.sequential, "use the sequential reference replayer");
  rebuild
      ->add_option("--mode", ra.mode,
                   "log recovery mode: point-in-time, tolerate-torn-tail, absolute, "
                   "skip-corrupted")
      ->capture_default_str();
  rebuild->add_option("--export", ra.export_path, "write the rebuilt state as JSON to this file");

  // CLI11 would answer an unknown first word with "a subcommand is
  // required"; name the word instead.
  const std::set<std::string> known = {"info", "verify", "dump", "rebuild", "timeline"};
  if (argc > 1 && argv[1][0] != '-' && known.count(argv[1]) == 0) {
    err << "razar-replay: unknown subcommand '" << argv[1]
        << "' (info, verify, dump, rebuild, timeline; --help for usage)\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // Subcommand help arrives as CallForHelp too; anything else is misuse.
    err << "razar-replay: " << e.what() << "\n";
    err << "Run with --help for usage.\n";
    return kExitUsage;
  }
  if (*info) return RunInfo(c, out, err);
  if (*verify) return RunVerify(c, out, err);
  if (*dump) return RunDump(c, fa, limit, out, err);
  if (*timeline) return RunTimeline(c, fa, out, err);
  if (*rebuild) return RunRebuild(c, ra, out, err, err_is_tty);
  return kExitUsage;
}

}  // namespace razar::replay
