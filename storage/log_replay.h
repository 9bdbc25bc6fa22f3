// The log half of recovery, written once: the coverage check (does the log
// reach back far enough for every layer's snapshot?) and the sequential
// replay loop (apply, in LSN order, every record above its (layer, shard)
// cut). Spine::Open uses them, and so does razar-replay's reference
// replayer (replay/replay.h), which the parallel replayer is held equal
// to; the parallel one shares the coverage check and HeldByCut.
// docs/formats/spine.md, "Recovery".
//
// Thread safety: free functions; the State and LogReader passed in are
// used by the calling thread only, for the duration of the call.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>

#include "storage/log_reader.h"
#include "storage/state.h"
#include "storage/status.h"

namespace razar::storage {

// Per layer and shard slot, the LSN up to which a snapshot already holds
// the records (0: none; replay everything).
using Cuts = std::array<std::array<Lsn, kShardSlots>, kLayerCount>;
// Per layer, the id of the snapshot its cuts come from (0: none), only to
// name it in errors.
using SnapshotIds = std::array<uint64_t, kLayerCount>;

// True if the record with `lsn` that belongs to `route` is already held by
// its slot's snapshot (and so must not be applied again).
inline bool HeldByCut(const Cuts& cuts, const Route& route, Lsn lsn) {
  return lsn <= cuts[static_cast<int>(route.layer)][route.shard];
}

// OK if every layer can be completed from where the log begins: a layer
// whose smallest cut is C needs the records from C + 1, and the log begins
// at its first segment's first LSN (1 when it has no segment). Otherwise
// Corruption naming the layer, its snapshot and both LSNs — never a
// silently emptier layer. `log` is the reader's report (its segments are
// listed at open).
Status CheckLogCoverage(const Cuts& cuts, const SnapshotIds& snapshot_ids, const ReadReport& log);

// Where a replay stops: before the first record with an LSN above
// `last_lsn` or a timestamp above `last_unix_ns`. Default: never.
struct ReplayBound {
  Lsn last_lsn = std::numeric_limits<Lsn>::max();
  int64_t last_unix_ns = std::numeric_limits<int64_t>::max();
  bool Beyond(Lsn lsn, int64_t unix_ns) const { return lsn > last_lsn || unix_ns > last_unix_ns; }
};

struct LogReplayCounts {
  uint64_t records_read = 0;      // records taken from the log within the bound
  uint64_t records_applied = 0;   // applied to the State
  uint64_t records_skipped = 0;   // already held by a snapshot (HeldByCut)
  Lsn last_lsn = 0;               // LSN of the last record read within the bound (0: none)
  bool stopped_at_bound = false;  // a record beyond the bound was seen
  bool coverage_gap = false;      // the error is CheckLogCoverage's
};

// Called every 4096 records with the records read and the framed bytes the
// reader has scanned so far.
using ReplayTick = std::function<void(uint64_t records, uint64_t bytes)>;

// The sequential replay: reads `reader` until its end or the first record
// beyond `bound`, and applies (State::Apply) every record not HeldByCut.
// The coverage check runs once the first read returned, so a read error
// wins over a coverage gap. *counts is reset first.
// Errors: the reader's (its recovery mode decides), CheckLogCoverage's, and
// a record that fails decoding (Corruption / NotSupported, with its LSN).
// On error *state holds a prefix of the replay and must be discarded.
// REQUIRES: `reader` has not been read from.
Status ReplayLog(LogReader* reader, const Cuts& cuts, const SnapshotIds& snapshot_ids,
                 const ReplayBound& bound, State* state, LogReplayCounts* counts,
                 const ReplayTick& tick = {});

}  // namespace razar::storage
