// Helpers for the state, snapshot-store, spine and replay tests
// (docs/formats/spine.md): an independent state comparator (it does not
// trust State::Diff, which is itself under test), a placement check, raw
// RocksDB access to the snapshot store for byte surgery, a deterministic
// generator of valid typed Spine operations with the record each one
// stands for, and test Spine options.
//
// Test support (razar_testing, GoogleTest-based): helpers that cannot do
// their job fail the running test.
//
// Thread safety: free functions are thread-safe; objects are single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "storage/record_codec.h"
#include "storage/snapshot_store.h"
#include "storage/spine.h"
#include "storage/state.h"
#include "testing/log_test_util.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace razar::storage::testing {

using Bytes = std::vector<uint8_t>;

inline constexpr Layer kAllLayers[kLayerCount] = {Layer::root,  Layer::sacral, Layer::solar,
                                                  Layer::heart, Layer::throat, Layer::third_eye,
                                                  Layer::crown};

// ---------------------------------------------------------------------------
// Independent comparison of two States. `with_time` false ignores the
// wall-clock fields (*_unix_ns), for comparing a live state with a model
// applied with timestamp 0. Returns "" when equal, else the first
// difference.
std::string LayerStateDiff(Layer l, const LayerState& a, const LayerState& b, bool with_time);
std::string StateDiffOf(const State& a, const State& b, bool with_time = true);

// Every session sits in shard ShardOfSession(id) of its own layer under its
// own id; every event in the shard of its session under its own id; every
// component under its own id. Returns "" or the first violation.
std::string PlacementProblem(const State& st);

// A canonical rendering of one (layer, shard) — sessions and events in id
// order, or for the layer shard the components and the meta — to detect
// which shards a record changed.
std::string ShardImage(const LayerState& ls, uint32_t shard);

// Decodes and applies an encoder's output (the span must still be valid);
// a decode failure fails the test.
void ApplyEncoded(State* st, Lsn lsn, int64_t unix_ns, const RecordEncoder::Encoded& e);

// Replays a whole log directory into a fresh State with State::Apply — the
// reference for what a restart must rebuild when the log is complete.
Status ReplayLogInto(const std::string& log_dir, State* st, uint64_t* records);

// ---------------------------------------------------------------------------
// Raw RocksDB access to a snapshot store directory (column family = layer
// name; keys per docs/formats/spine.md).

std::string BigEndian64(uint64_t v);
uint64_t ReadBigEndian64(const char* p);
uint64_t ReadLittleEndian64(const char* p);

class RawSnapshotDb {
 public:
  // Opens every column family of the database at `path`; nullptr with
  // *err set on failure.
  static std::unique_ptr<RawSnapshotDb> Open(const std::string& path, bool read_only,
                                             std::string* err);
  ~RawSnapshotDb();
  RawSnapshotDb(const RawSnapshotDb&) = delete;
  RawSnapshotDb& operator=(const RawSnapshotDb&) = delete;

  // nullptr for an unknown name.
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const;
  std::vector<std::string> cf_names() const;
  // Every (key, value) of a column family in key order.
  std::vector<std::pair<std::string, std::string>> Entries(const std::string& cf_name) const;
  // Synced writes. Errors: RocksDB's, as IoError.
  Status Put(const std::string& cf_name, const std::string& key, const std::string& value);
  Status Delete(const std::string& cf_name, const std::string& key);

 private:
  RawSnapshotDb() = default;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name_;
};

// Snapshot ids that have at least one entry in a layer column family, with
// their entry counts.
std::map<uint64_t, uint64_t> EntryCountsById(const RawSnapshotDb& db, Layer l);

// Overwrites one value of snapshot `snapshot_id` of `layer` (preferring a
// session entry) with a copy whose middle byte has one bit flipped. Returns
// the key that was damaged, or "" with *err set.
std::string FlipSnapshotValueByte(const std::string& db_path, Layer layer, uint64_t snapshot_id,
                                  std::string* err);

// ---------------------------------------------------------------------------
// A deterministic stream of valid typed Spine operations. Decisions depend
// on the seed alone (never on a spine's answers), so a parent process can
// regenerate exactly what a child appended.

enum class OpKind {
  kOpen,
  kUpdate,
  kUpdateKv,
  kClose,
  kPending,
  kDone,
  kBeat,
  kStatus,
  kDown,
  kUp,
  kPulse
};

struct Op {
  OpKind kind = OpKind::kBeat;
  Layer layer = Layer::root;
  uint64_t session_id = 0;
  uint64_t event_id = 0;
  uint32_t component_id = 0;
  std::string name;
  Bytes bytes;
  std::vector<std::pair<std::string, std::optional<Bytes>>> kv;
  bool keep_state = false;  // kUpdateKv: state nullopt
  // Session and event ops: run through Spine::Append with an encoded
  // record instead of the typed call (the spine must index it the same).
  bool via_append = false;
  ComponentState cstate = ComponentState::starting;
  uint64_t seq = 0;
};

class OpGen {
 public:
  // Session ids are id_base + 1, + 2, ...; event ids likewise. Component
  // ids are 1..components (shared between generators on purpose).
  OpGen(uint64_t seed, uint64_t id_base, size_t max_sessions = 300, uint32_t components = 24,
        bool allow_append = true)
      : rng_(seed),
        allow_append_(allow_append),
        next_session_(id_base),
        next_event_(id_base),
        max_sessions_(max_sessions),
        components_(components) {}

  Op Next();

  const std::map<uint64_t, Layer>& open_sessions() const { return open_; }

 private:
  Op Pick();
  // Each returns false when no op of its kind is possible now.
  bool PickOpen(Op* op);
  bool PickSessionOp(int k, Op* op);
  bool PickDone(Op* op);
  void PickLayerOp(int k, Op* op);
  Layer RandomLayer();
  uint32_t RandomComponent();
  Bytes RandomBytes(size_t max);

  std::mt19937_64 rng_;
  bool allow_append_;
  uint64_t next_session_;
  uint64_t next_event_;
  size_t max_sessions_;
  uint32_t components_;
  uint64_t beat_seq_ = 0;
  std::map<uint64_t, Layer> open_;
  std::vector<uint64_t> open_ids_;
  std::vector<std::pair<uint64_t, uint64_t>> pending_;  // (event, session)
};

// The record an op stands for. The result points into `enc` (and, for kv
// updates, into *kv_scratch): valid until their next use.
RecordEncoder::Encoded EncodeOp(RecordEncoder& enc, const Op& op,
                                std::vector<KeyValueArg>* kv_scratch);

// Runs an op through the typed Spine API (kv updates and failure pulses,
// which have no typed call, through Spine::Append).
Result<Lsn> RunOp(Spine* spine, RecordEncoder& enc, const Op& op);

// Runs `n` ops of `gen`, failing the test at the first error; *last gets
// the LSN of the last one.
void RunOps(Spine* spine, RecordEncoder& enc, OpGen& gen, int n, Lsn* last = nullptr);

// Applies an op to a model State at `lsn` with timestamp 0.
void ApplyOp(State* model, RecordEncoder& enc, const Op& op, Lsn lsn);

// ---------------------------------------------------------------------------
// Spine options for tests: small log segments and buffers, no background
// snapshots.
SpineOptions TestSpineOptions(const std::string& dir, SnapshotWriteMethod method,
                              Durability durability = Durability::kNone,
                              uint64_t segment_bytes = 64u << 10);

// "SstIngest" / "WriteBatch", for test names.
const char* MethodTag(SnapshotWriteMethod m);

}  // namespace razar::storage::testing
