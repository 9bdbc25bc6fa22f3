// SnapshotStore: per-layer snapshots of the State in RocksDB, with
// FlatBuffers values each checked by checksum and Verifier before use, and
// a manifest entry that publishes a snapshot atomically
// (docs/formats/spine.md).
//
// Thread safety: a SnapshotStore may be used from several threads (RocksDB
// is); one Builder is used by one thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "storage/state.h"
#include "storage/status.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace razar::storage {

enum class SnapshotWriteMethod {
  kSstIngest,   // one SST file per snapshot, IngestExternalFile
  kWriteBatch,  // large WriteBatches, then FlushWAL(sync)
};
const char* SnapshotWriteMethodName(SnapshotWriteMethod m);

struct SnapshotManifest {
  Layer layer = Layer::root;
  uint64_t snapshot_id = 0;
  int64_t created_unix_ns = 0;
  std::array<Lsn, kShardSlots> shard_lsns{};
  uint64_t sessions = 0;
  uint64_t events = 0;
  uint64_t components = 0;
  uint64_t value_bytes = 0;
  uint64_t content_checksum = 0;

  Lsn min_lsn() const;
  Lsn max_lsn() const;
};

struct SnapshotStoreOptions {
  std::string path;        // RocksDB directory; created unless read_only
  bool read_only = false;  // never writes to `path` (see secondary_path)
  // read_only only. Empty: RocksDB OpenForReadOnly (a still image; fine
  // for a spine no one writes). Set: OpenAsSecondary with its own files in
  // this directory, so the store stays readable while a live spine
  // compacts and deletes files under it. Either way RocksDB's info log is
  // discarded: nothing is created in `path`.
  std::string secondary_path;
  // Default: kSstIngest (see docs/benchmarks.md for the measurement).
  SnapshotWriteMethod method = SnapshotWriteMethod::kSstIngest;
};

// Named points inside Builder::Finish and Publish where a test may crash the
// process (`_exit`) to prove that every step leaves either the old or the
// new snapshot visible.
enum class SnapshotCrashPoint {
  kNone,
  kAfterFirstShard,   // some entries written
  kBeforeIngest,      // SST file complete, not ingested / batches written, WAL not flushed
  kAfterDataDurable,  // entries durable, manifest not written
  kAfterManifest,     // published
};

class SnapshotStore {
 public:
  static Result<std::unique_ptr<SnapshotStore>> Open(const SnapshotStoreOptions& options);
  ~SnapshotStore();

  // Writes one layer's snapshot. Add entries in shard order (0..255, then
  // the layer shard); within a shard, sessions by id, then events by id;
  // in the layer shard, components by id, then the meta.
  class Builder {
   public:
    virtual ~Builder() = default;
    virtual Status AddSession(uint32_t shard, const Session& s) = 0;
    virtual Status AddEvent(uint32_t shard, const PendingEvent& e) = 0;
    virtual Status AddComponent(const Component& c) = 0;
    virtual Status SetMeta(const LayerMeta& m) = 0;
    virtual void SetShardLsn(uint32_t shard, Lsn lsn) = 0;
    // Makes the entries durable (not yet visible) and returns the manifest
    // to Publish.
    virtual Result<SnapshotManifest> Finish() = 0;
  };
  Result<std::unique_ptr<Builder>> Begin(Layer layer);

  // Writes the manifest entry (sync): the snapshot becomes visible.
  Status Publish(const SnapshotManifest& m);

  // Published snapshots of a layer, newest first. A manifest entry that
  // fails its checksum or Verifier is skipped and reported in *damaged.
  Result<std::vector<SnapshotManifest>> List(Layer layer,
                                             std::vector<std::string>* damaged = nullptr);

  // Loads and verifies a snapshot into `out` (replacing that layer).
  // Corruption if any value fails, or counts/checksum disagree.
  Status Load(const SnapshotManifest& m, LayerState* out);

  // Deletes a snapshot (manifest entry first, then its entries).
  Status Delete(Layer layer, uint64_t snapshot_id);
  // Deletes entries of snapshot ids that no manifest entry names (left by
  // a crash before publishing). Returns how many ids were removed.
  Result<uint64_t> DeleteUnpublished();
  // A secondary (read_only with secondary_path) only: catches up with what
  // the live primary wrote since the open. A secondary reads RocksDB's
  // MANIFEST before its WAL, so it can see a just-published manifest entry
  // (WAL) without the entries ingested just before it (MANIFEST): after a
  // Load that fails, catch up and look again. A no-op otherwise.
  Status CatchUp();
  // The next unused snapshot id.
  uint64_t NextId();

  // Total bytes of live SST files (for reports).
  uint64_t ApproximateBytes();

  // Test hook: at `point`, the process calls _exit(0).
  void SetCrashPointForTest(SnapshotCrashPoint point) { crash_point_ = point; }
  // Called by builders at each crash point; a no-op unless a test set it.
  void MaybeCrash(SnapshotCrashPoint p) const;

 private:
  class SstBuilder;
  class BatchBuilder;
  friend class SstBuilder;
  friend class BatchBuilder;
  explicit SnapshotStore(const SnapshotStoreOptions& options);
  rocksdb::ColumnFamilyHandle* cf(Layer l) const;

  SnapshotStoreOptions options_;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // default, manifest, 7 layers
  uint64_t next_id_ = 1;
  uint64_t sst_seq_ = 0;
  SnapshotCrashPoint crash_point_ = SnapshotCrashPoint::kNone;
};

}  // namespace razar::storage
