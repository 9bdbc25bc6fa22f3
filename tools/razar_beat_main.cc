// razar-beat: heartbeat-log utilities. `razar-beat roundtrip` is the main
// job until the orchestrator exists (see README.md).
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "storage/testing/log_roundtrip.h"

namespace {

using razar::storage::RoundTripReport;
using razar::storage::RoundTripSide;

void PrintSide(const char* name, const RoundTripSide& s) {
  const double mb = static_cast<double>(s.bytes) / (1 << 20);
  fmt::print(
      "{:<10} {:>10} records  LSN {}..{}  {:8.1f} MiB  {:7.3f} s  {:>12.0f} rec/s  {:8.1f} MiB/s\n",
      name, s.records, s.first_lsn, s.last_lsn, mb, s.seconds,
      s.seconds > 0 ? s.records / s.seconds : 0.0, s.seconds > 0 ? mb / s.seconds : 0.0);
}

int RunRoundTripCommand(razar::storage::RoundTripOptions o, const std::string& durability) {
  auto d = razar::storage::ParseDurability(durability);
  if (!d.ok()) {
    fmt::print(stderr, "razar-beat: {}\n", d.status().message());
    return 2;
  }
  o.durability = *d;
  fmt::print("heartbeat round trip: {} producers, {} records, durability {}, dir {}\n", o.producers,
             o.records, durability, o.dir);
  auto r = razar::storage::RunRoundTrip(o);
  if (!r.ok()) {
    fmt::print(stderr, "razar-beat: round trip failed: {}\n", r.status().ToString());
    return 1;
  }
  const RoundTripReport& rep = *r;
  PrintSide("written", rep.written);
  PrintSide("recovered", rep.recovered);
  fmt::print(
      "writer: {} group commits ({:.1f} records each), {} fdatasyncs, {} segments\n",
      rep.writer_stats.commits,
      rep.writer_stats.commits ? double(rep.writer_stats.appends) / rep.writer_stats.commits : 0.0,
      rep.writer_stats.syncs, rep.writer_stats.segments_created);
  fmt::print("records by kind:");
  for (int k = 0; k < razar::storage::kRecordKindCount; ++k) {
    fmt::print(" {}={}", razar::storage::RecordKindName(static_cast<razar::storage::RecordKind>(k)),
               rep.recovered.per_kind[k]);
  }
  fmt::print("\nreader: {}\n", rep.read_report.Summary());
  fmt::print("round trip {}\n", rep.match ? "OK: every written record recovered intact"
                                          : "MISMATCH: recovered records differ from written");
  return rep.match ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"razar-beat: heartbeat-log utilities"};
  app.require_subcommand(1);

  razar::storage::RoundTripOptions o;
  o.dir = "logs/roundtrip";
  std::string durability = "batch";
  uint64_t segment_mib = 64;
  auto* rt = app.add_subcommand("roundtrip",
                                "write a realistic record stream with several producers, reopen, "
                                "recover, compare and time both sides");
  rt->add_option("--dir", o.dir, "log directory")->capture_default_str();
  rt->add_flag("--fresh", o.fresh, "delete existing segments in --dir first");
  rt->add_option("--producers", o.producers, "producer threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  rt->add_option("--records", o.records, "total records")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  rt->add_option("--durability", durability, "none | batch | interval")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "batch", "interval"}));
  rt->add_option("--window", o.window, "appends between durability waits per producer")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  rt->add_option("--segment-mib", segment_mib, "segment size in MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  rt->add_option("--seed", o.seed, "seed of the record mix")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (*rt) {
    o.segment_bytes = segment_mib << 20;
    return RunRoundTripCommand(o, durability);
  }
  return 2;
}
