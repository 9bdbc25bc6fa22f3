// Spine: the memory spine — one object that owns the heartbeat-log writer,
// the snapshot store and the live State (docs/formats/spine.md).
//
// Appends go to the log and to the State under the record's layer lock, so
// each layer applies its records in LSN order and its applied LSN is always
// a consistent cut. Snapshots run shard by shard: a shard is frozen by
// copying pointers under its layer's lock (microseconds), then serialized
// with no lock held — appends never stop. Open() recovers: newest verified
// snapshot per layer, then the log after it.
//
// Thread safety: every public method is safe to call concurrently, except
// Close() and the destructor.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/log_replay.h"
#include "storage/log_writer.h"
#include "storage/snapshot_store.h"
#include "storage/state.h"

namespace razar::storage {

// The log half of recovery, replaceable: apply to `state` every log record
// above its (layer, shard) cut. Spine::Open calls it after loading the
// snapshots. storage/ cannot depend on replay/, so the parallel replayer
// comes in from outside (replay::ParallelLogReplayer).
struct LogReplayJob {
  Env* env = nullptr;
  std::string log_dir;
  const Cuts* cuts = nullptr;
  SnapshotIds snapshot_ids{};  // 0: none; for error messages
  State* state = nullptr;
};
struct LogReplayOutcome {
  uint64_t replayed = 0;  // records applied
  uint64_t skipped = 0;   // records already in a snapshot
  ReadReport log;
};
using LogReplayFn = std::function<Result<LogReplayOutcome>(const LogReplayJob&)>;

struct SpineOptions {
  Env* env = nullptr;  // default Env::Default(); borrowed
  std::string dir;     // spine directory; created if missing. Required.
  // Heartbeat-log options; `dir` is set to <dir>/log.
  LogWriterOptions log;
  SnapshotWriteMethod snapshot_method = SnapshotWriteMethod::kSstIngest;
  // Automatic snapshots of every layer. 0 disables them. Default: 60 s,
  // aligned to the top of the minute of the wall clock.
  uint32_t snapshot_interval_s = 60;
  // Snapshots kept per layer. Default 5; at least 1.
  uint32_t retain_snapshots = 5;
  // How Open() replays the log after the snapshots. Default (empty): one
  // thread, record by record, here. razar passes the parallel replayer.
  LogReplayFn log_replayer;
};

struct SnapshotReport {
  Layer layer = Layer::root;
  uint64_t snapshot_id = 0;
  uint64_t sessions = 0, events = 0, value_bytes = 0;
  double seconds = 0;
  uint64_t max_freeze_ns = 0;  // longest single-shard freeze (appender pause)
};

struct RecoveryReport {
  SnapshotIds snapshot_ids{};         // 0: none used
  std::vector<std::string> problems;  // damaged snapshots skipped, etc.
  uint64_t records_replayed = 0;
  uint64_t records_skipped = 0;  // already in a snapshot
  ReadReport log;
  double seconds = 0;
};

// Checks that `dir` holds a spine this build reads: NotFound (no such
// directory, or no SPINE identity file), InvalidArgument (not a spine
// identity), NotSupported (another format version or shard count).
Status CheckSpineIdentity(Env* env, const std::string& dir);

// Where a spine keeps its heartbeat log and its snapshot store.
std::string SpineLogDir(const std::string& spine_dir);       // <spine_dir>/log
std::string SpineSnapshotDir(const std::string& spine_dir);  // <spine_dir>/snapshots

class Spine {
 public:
  static Result<std::unique_ptr<Spine>> Open(const SpineOptions& options);
  ~Spine();

  // Typed appends: log + State. Return the LSN; acknowledged per the log's
  // durability mode after WaitDurable.
  Result<Lsn> Beat(uint32_t component_id, Layer layer, uint64_t sequence);
  Result<Lsn> OpenSession(uint64_t session_id, Layer layer, uint32_t component_id,
                          std::string_view component, std::span<const uint8_t> state);
  // NotFound if the session is not open (nothing is appended).
  Result<Lsn> UpdateSession(uint64_t session_id, std::span<const uint8_t> state);
  Result<Lsn> CloseSession(uint64_t session_id);
  Result<Lsn> EventPending(uint64_t event_id, uint64_t session_id,
                           std::span<const uint8_t> payload);
  Result<Lsn> EventDone(uint64_t event_id, uint64_t session_id);
  Result<Lsn> ComponentStatus(uint32_t component_id, std::string_view name, Layer layer,
                              ComponentState state, std::string_view detail);
  Result<Lsn> ChakraDown(Layer layer, std::string_view reason);
  Result<Lsn> ChakraUp(Layer layer);
  // Any encoded record (the layer is taken from the record).
  Result<Lsn> Append(uint16_t type, std::span<const uint8_t> payload);
  Status WaitDurable(Lsn lsn) { return log_->WaitDurable(lsn); }

  // Snapshots one layer / every layer now, then applies retention.
  Result<SnapshotReport> Snapshot(Layer layer);
  Result<std::vector<SnapshotReport>> SnapshotAll();

  // A deep copy of the live State (taking each layer's lock in turn).
  State CopyState();
  const RecoveryReport& recovery_report() const { return recovery_; }
  LogWriter* log() { return log_.get(); }
  SnapshotStore* store() { return store_.get(); }

  Status Close();

 private:
  explicit Spine(const SpineOptions& options);
  Status Recover();
  Status LoadNewestSnapshots(Cuts* cuts);
  Status FinishRecovery(std::chrono::steady_clock::time_point t0);
  Result<Lsn> AppendLocked(Layer layer, const RecordEncoder::Encoded& e);
  Status ApplyRetention(Layer layer);
  Status DeleteCoveredSegments();
  void SchedulerLoop();
  Layer SessionLayer(uint64_t session_id, bool* found);

  SpineOptions options_;
  Env* env_;
  std::unique_ptr<SnapshotStore> store_;
  std::unique_ptr<LogWriter> log_;
  State state_;
  std::array<std::mutex, kLayerCount> layer_mu_;  // guards state_.layer(l)
  std::mutex snapshot_mu_;                        // one snapshot at a time
  // session id -> layer, for the typed session calls.
  std::mutex index_mu_;
  std::unordered_map<uint64_t, Layer> session_layer_;
  RecoveryReport recovery_;

  std::mutex sched_mu_;
  std::condition_variable sched_cv_;
  bool stop_ = false;
  Status last_scheduled_error_;  // guarded by sched_mu_
  std::thread scheduler_;
  bool closed_ = false;
};

}  // namespace razar::storage
