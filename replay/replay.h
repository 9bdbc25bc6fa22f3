// Replay: rebuilds the State of a spine — the newest usable snapshot of
// every layer, then the heartbeat log after it — exactly as it was at the
// point of failure, or at an earlier point in time (docs/replay.md).
//
// Two log replayers with one contract:
//  - ReplayLogSequential, the reference: one thread, one record at a time,
//    State::Apply.
//  - ReplayLogParallel: the log is read and checksum-verified in batches;
//    batches are decoded (FlatBuffers Verifier, routing) by every thread in
//    parallel; each thread then applies, in LSN order, the records of the
//    (layer, shard) slots it owns with State::ApplyRouted — the body of the
//    same Apply. Slots are disjoint, so no two threads touch one slot.
// Both read the log through one storage::LogReader, so they see the same
// records, stop at the same damage and return the same errors; the
// property test (tests/replay/replay_property_test.cc) holds them equal.
//
// Thread safety: free functions; each call owns its threads and joins them
// before returning. The State passed in must not be used by anyone else
// during the call.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/env.h"
#include "storage/log_reader.h"
#include "storage/log_replay.h"
#include "storage/snapshot_store.h"
#include "storage/spine.h"
#include "storage/state.h"
#include "storage/status.h"

namespace razar::replay {

using storage::Lsn;

// How far to replay. kEnd: everything readable. kLsn: the prefix up to and
// including `lsn`. kTime: the prefix that ends before the first record
// stamped later than `unix_ns` (a prefix is always a consistent state, even
// where producers' clocks interleave by microseconds).
struct Target {
  enum class Kind { kEnd, kLsn, kTime };
  Kind kind = Kind::kEnd;
  Lsn lsn = 0;
  int64_t unix_ns = 0;

  static Target End() { return {}; }
  static Target AtLsn(Lsn l) { return {Kind::kLsn, l, 0}; }
  static Target AtTime(int64_t ns) { return {Kind::kTime, 0, ns}; }
  // True if a record with this LSN and stamp lies beyond the target.
  bool Beyond(Lsn l, int64_t ts) const {
    return (kind == Kind::kLsn && l > lsn) || (kind == Kind::kTime && ts > unix_ns);
  }
  // The same limit as a storage::ReplayBound.
  storage::ReplayBound Bound() const;
  std::string ToString() const;
};

// Parses "--at" values: digits = an LSN ("lsn:N" also), otherwise a UTC
// time "YYYY-MM-DDTHH:MM:SS[.fraction][Z]". InvalidArgument otherwise.
Result<Target> ParseTarget(std::string_view text);
// "2026-11-28T20:41:07.123456789Z".
std::string FormatTime(int64_t unix_ns);
Result<int64_t> ParseTime(std::string_view text);

struct Progress {
  uint64_t records = 0;      // records read from the log so far
  uint64_t bytes = 0;        // framed bytes read so far
  uint64_t total_bytes = 0;  // bytes of all segment files (an upper bound)
  double seconds = 0;        // since the log replay began
  bool done = false;         // the last call of a replay
};
using ProgressFn = std::function<void(const Progress&)>;

// Per layer and shard slot, the LSN up to which a snapshot already holds
// the records (0: nothing; replay everything).
using Cuts = storage::Cuts;

struct LogReplayOptions {
  storage::Env* env = nullptr;  // borrowed; default Env::Default()
  std::string log_dir;          // required
  // Default: point-in-time (stop before the first damage), as the spine.
  storage::RecoveryMode mode = storage::RecoveryMode::kPointInTimeRecovery;
  Target target;
  // Threads of the parallel replayer. 0: std::thread::hardware_concurrency.
  uint32_t threads = 0;
  // Records per batch of the parallel replayer. Default 8192.
  uint32_t batch_records = 8192;
  ProgressFn progress;                  // called from one thread at a time
  uint32_t progress_interval_ms = 100;  // Default 100 ms; and once at the end
  // A reader opened beforehand (borrowed; not yet read from), used instead
  // of opening log_dir. Rebuild opens it before loading the snapshots: the
  // segments it holds open then cover every snapshot loaded after it, even
  // while a live writer's retention deletes old segments. Default null.
  storage::LogReader* reader = nullptr;
  // For each layer, the snapshot id the cuts come from (0: none), only to
  // name it in the error when the log does not reach back far enough.
  storage::SnapshotIds snapshot_ids{};
};

struct LogReplayStats {
  uint64_t records_read = 0;       // verified records taken from the log
  uint64_t records_applied = 0;    // applied to the State
  uint64_t records_skipped = 0;    // already held by a snapshot
  uint64_t bytes_read = 0;         // framed bytes of those records
  Lsn last_applied_lsn = 0;        // highest LSN read within the target (0: none)
  bool stopped_at_target = false;  // a record beyond the target was seen
  // The error was that the log no longer reaches back to a layer's cut (on
  // a live spine: retention deleted segments after the snapshots were read).
  bool coverage_gap = false;
  storage::ReadReport log;  // the reader's report (damages, segments)
  uint32_t threads = 1;
  double seconds = 0;
};

// Both replayers: apply to *state every log record within options.target
// whose LSN is above its slot's cut. Errors: those of the reader in its
// mode, a record that fails decoding (Corruption / NotSupported), or
// Corruption when the log begins after a layer's cut + 1 (naming the layer).
// On error *state holds a prefix of the replay and must be discarded.
Status ReplayLogSequential(const LogReplayOptions& options, const Cuts& cuts, storage::State* state,
                           LogReplayStats* stats);
Status ReplayLogParallel(const LogReplayOptions& options, const Cuts& cuts, storage::State* state,
                         LogReplayStats* stats);

struct SnapshotChoice {
  uint64_t snapshot_id = 0;  // 0: none; the layer is rebuilt from the log alone
  storage::SnapshotManifest manifest;
};

struct SnapshotLoad {
  std::array<SnapshotChoice, storage::kLayerCount> layers;
  Cuts cuts{};
  std::vector<std::string> problems;  // damaged snapshots skipped, and why
  // Live spine only: snapshots that still failed to load after catching up
  // with the writer (deleted or rewritten under the reader), and the older
  // one used instead. Not damage: the rebuilt state is still exact.
  std::vector<std::string> notes;
  double seconds = 0;
};

// Loads, for every layer in parallel (up to `threads`), the newest snapshot
// that verifies and does not reach beyond `target` (kLsn: every shard LSN
// <= target; kTime: created no later than the target), falling back to
// older ones on damage; *state's layers are replaced.
// `live`: the spine has a writer (see SnapshotLoad::notes).
Result<SnapshotLoad> LoadSnapshots(storage::SnapshotStore* store, const Target& target,
                                   uint32_t threads, storage::State* state, bool live = false);

struct RebuildOptions {
  storage::Env* env = nullptr;  // borrowed; default Env::Default()
  std::string spine_dir;        // required; holds log/ and snapshots/
  Target target;
  uint32_t threads = 0;           // 0: hardware threads
  bool sequential = false;        // use the reference replayer
  uint32_t batch_records = 8192;  // parallel replayer's batch size
  bool use_snapshots = true;      // false: the log alone (from its start)
  storage::RecoveryMode mode = storage::RecoveryMode::kPointInTimeRecovery;
  ProgressFn progress;
};

struct Rebuilt {
  storage::State state;
  SnapshotLoad snapshots;
  LogReplayStats log;
  double seconds = 0;  // total
};

// The whole rebuild, strictly read-only: the snapshot store is opened as a
// RocksDB secondary whose own files live in a private temporary directory,
// log files O_RDONLY. Safe while a live RAZAR writes the spine (it then
// rebuilds a prefix). Errors: NotFound (no such directory / not a spine),
// and those of LoadSnapshots and the replayers.
Result<Rebuilt> Rebuild(const RebuildOptions& options);

// The parallel replayer as the spine's recovery hook
// (SpineOptions::log_replayer), with `threads` threads (0: hardware).
storage::LogReplayFn ParallelLogReplayer(uint32_t threads = 0);

}  // namespace razar::replay
