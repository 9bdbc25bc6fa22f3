#include "storage/log_replay.h"

#include <algorithm>
#include <string>

#include "storage/check.h"

namespace razar::storage {

Status CheckLogCoverage(const Cuts& cuts, const SnapshotIds& snapshot_ids, const ReadReport& log) {
  const Lsn log_first = log.segments.empty() ? 1 : log.segments.front().first_lsn;
  for (int li = 0; li < kLayerCount; ++li) {
    const Lsn need = *std::min_element(cuts[li].begin(), cuts[li].end()) + 1;
    if (need >= log_first) continue;
    return Status::Corruption(std::string("layer ") + LayerName(static_cast<Layer>(li)) +
                              " needs log records from LSN " + std::to_string(need) +
                              (snapshot_ids[li] == 0
                                   ? std::string(" (no usable snapshot)")
                                   : " (snapshot " + std::to_string(snapshot_ids[li]) + ")") +
                              " but the log begins at LSN " + std::to_string(log_first));
  }
  return Status::Ok();
}

Status ReplayLog(LogReader* reader, const Cuts& cuts, const SnapshotIds& snapshot_ids,
                 const ReplayBound& bound, State* state, LogReplayCounts* counts,
                 const ReplayTick& tick) {
  *counts = LogReplayCounts();
  RecordView v;
  bool checked = false;
  for (;;) {
    RAZAR_ASSIGN_OR_RETURN(bool more, reader->Next(&v));
    if (!checked) {
      checked = true;
      Status covered = CheckLogCoverage(cuts, snapshot_ids, reader->report());
      if (!covered.ok()) {
        counts->coverage_gap = true;
        return covered;
      }
    }
    if (!more) return Status::Ok();
    if (bound.Beyond(v.lsn, v.timestamp_ns)) {
      counts->stopped_at_bound = true;
      return Status::Ok();
    }
    // The reader hands out LSNs in increasing order; the cuts and the
    // State's per-layer order rely on it.
    RAZAR_CHECK_GT(v.lsn, counts->last_lsn);
    ++counts->records_read;
    counts->last_lsn = v.lsn;
    Result<DecodedRecord> d = DecodeRecord(v.type, v.payload);
    if (!d.ok()) return d.status().WithContext("LSN " + std::to_string(v.lsn));
    if (HeldByCut(cuts, RouteOf(*d), v.lsn)) {
      ++counts->records_skipped;
    } else {
      state->Apply(v.lsn, v.timestamp_ns, *d);
      ++counts->records_applied;
    }
    if (tick && (counts->records_read & 4095) == 0) {
      tick(counts->records_read, reader->report().bytes_scanned);
    }
  }
}

}  // namespace razar::storage
