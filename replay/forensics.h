// Forensic queries over a spine directory, for razar-replay (docs/replay.md):
// what is there (Inspect), what is damaged (Verify), which records match a
// filter (Dump), what happened to components and layers (Timeline), and the
// JSON forms of records and rebuilt states.
//
// Everything here is read-only: log segments are opened O_RDONLY, the
// snapshot store as a RocksDB secondary with its own files in a private
// temporary directory (replay/spine_dir.h). Safe while a live RAZAR writes
// the spine.
//
// Every query takes the Env through which it reads the spine's SPINE file
// and log (borrowed for the call; nullptr means Env::Default()). RocksDB
// reads the snapshot store through its own environment.
//
// Thread safety: free functions; no shared state.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "replay/replay.h"
#include "storage/log_reader.h"
#include "storage/record_codec.h"
#include "storage/snapshot_store.h"
#include "storage/state.h"

namespace razar::replay {

// The damages of a read report, without the torn tail of a live spine's
// newest segment (a group commit in flight), which goes to *notes instead.
std::vector<storage::Damage> DamagesOf(const std::string& spine_dir,
                                       const storage::ReadReport& report,
                                       std::vector<std::string>* notes);

struct SegmentInfo {
  storage::SegmentSummary summary;
  int64_t first_unix_ns = 0, last_unix_ns = 0;  // stamps of its first / last record (0: none)
};

struct SnapshotInfo {
  storage::SnapshotManifest manifest;
};

struct SpineInfo {
  std::string dir;
  bool live = false;
  int live_pid = 0;
  std::vector<SegmentInfo> segments;
  uint64_t records = 0;
  Lsn first_lsn = 0, last_lsn = 0;
  int64_t first_unix_ns = 0, last_unix_ns = 0;
  uint64_t log_bytes = 0;       // bytes of segment files
  uint64_t snapshot_bytes = 0;  // bytes under snapshots/
  std::array<std::vector<storage::SnapshotManifest>, storage::kLayerCount> snapshots;
  std::vector<std::string> problems;     // unreadable snapshot store, damaged manifest entries
  std::vector<storage::Damage> damages;  // log damage met while scanning
  std::vector<std::string> notes;        // e.g. a live spine's tail still in flight
};

// Scans the whole log (skipping damage) and lists every snapshot.
// Errors: NotFound / InvalidArgument for a missing or non-spine directory.
Result<SpineInfo> Inspect(const std::string& spine_dir, storage::Env* env = nullptr);

struct Finding {
  std::string where;  // file (segment name or "snapshots/<layer> #id")
  uint64_t offset = 0;
  Lsn lsn = 0;       // last good LSN before a log damage, or the snapshot's max LSN
  std::string kind;  // DamageKindName, "undecodable-record", "snapshot", "snapshot-manifest"
  std::string detail;
};

struct VerifyReport {
  bool live = false;
  uint64_t segments = 0, records = 0, snapshots = 0;
  std::vector<Finding> damages;
  std::vector<std::string> notes;  // e.g. a live spine's tail still in flight
  bool clean() const { return damages.empty(); }
};

// Reads every record of every segment (checksums, LSN sequence, FlatBuffers
// verification) and loads every published snapshot (value checksums,
// Verifier, counts). On a live spine, damage at the very end of the newest
// segment is a commit in flight: a note, not a damage.
Result<VerifyReport> Verify(const std::string& spine_dir, storage::Env* env = nullptr);

struct DumpFilter {
  std::optional<storage::Layer> layer;
  std::optional<uint64_t> session;  // session records and events of that session
  // A component id (digits) or name; a name matches records that carry it
  // and beats of the ids seen with it earlier in the log.
  std::optional<std::string> component;
  std::optional<storage::RecordKind> kind;
  std::optional<Target> from, to;  // inclusive; LSN or time
};

struct DumpedRecord {
  Lsn lsn = 0;
  int64_t unix_ns = 0;
  storage::DecodedRecord rec;  // points into the reader's buffer: valid during the callback
};

struct DumpStats {
  uint64_t scanned = 0, matched = 0;
  std::vector<storage::Damage> damages;  // without a live spine's tail (see DamagesOf)
  std::vector<std::string> notes;
  uint64_t undecodable = 0;
};

// Calls `fn` for every readable record matching the filter, in LSN order;
// damage is skipped over and reported in the stats. `fn` returns false to
// stop early.
Result<DumpStats> Dump(const std::string& spine_dir, const DumpFilter& filter,
                       const std::function<bool(const DumpedRecord&)>& fn,
                       storage::Env* env = nullptr);

struct TimelineEvent {
  Lsn lsn = 0;
  int64_t unix_ns = 0;
  storage::Layer layer = storage::Layer::root;
  std::string what;       // "component", "chakra_down", "chakra_up", "pulse"
  std::string component;  // component name (component and pulse events)
  std::string state;      // component state name, or the pulse kind
  std::string detail;     // status detail, chakra_down reason, pulse duration
};

// Component status changes, chakra_down / chakra_up and failure pulses, in
// time order (ties in LSN order).
Result<std::vector<TimelineEvent>> Timeline(const std::string& spine_dir, const DumpFilter& filter,
                                            DumpStats* stats, storage::Env* env = nullptr);

// JSON renderings. Byte strings are lowercase hex.
nlohmann::json RecordToJson(const DumpedRecord& r);
nlohmann::json StateToJson(const storage::State& state);
std::string Hex(const std::vector<uint8_t>& bytes);

}  // namespace razar::replay
