// A spine directory as the read-only tools see it (docs/replay.md): is it a
// spine (CheckSpineDir), does a live RAZAR hold it (SpineIsLive), and its
// snapshot store opened strictly read-only (ReadOnlySnapshotStore).
//
// Both the rebuild (replay.cc) and the forensic queries (forensics.cc) need
// these; they live here so that neither of the two includes the other.
//
// Thread safety: free functions are thread-safe; a ReadOnlySnapshotStore
// is as thread-safe as the SnapshotStore it holds.
#pragma once

#include <memory>
#include <string>

#include "storage/env.h"
#include "storage/snapshot_store.h"
#include "storage/status.h"

namespace razar::replay {

// OK if `dir` is a spine this build reads: its SPINE identity checks
// (storage::CheckSpineIdentity) and it has a log/ directory. Errors:
// NotFound (no such directory, not a spine), InvalidArgument, NotSupported.
// `env` is borrowed; nullptr means Env::Default().
Status CheckSpineDir(const std::string& dir, storage::Env* env = nullptr);

// Whether a process other than this one has the spine open for writing: it
// holds RocksDB's POSIX lock on snapshots/LOCK. Looked up in /proc/locks
// rather than by opening the file, because closing any descriptor of it
// would drop this process's own POSIX locks on it. *holder_pid (optional)
// gets the holder's pid. Not through an Env: this asks the kernel about
// processes, not files.
bool SpineIsLive(const std::string& spine_dir, int* holder_pid = nullptr);

// A spine's snapshot store opened as a RocksDB secondary whose own files
// live in a private temporary directory (under TMPDIR), removed with this
// object: nothing is ever created or changed in the spine. The secondary
// keeps every table file open, so a live writer's compactions and
// deletions do not break a reader that holds one.
class ReadOnlySnapshotStore {
 public:
  // Creates the private directory. Errors: IoError (mkdtemp).
  static Result<std::unique_ptr<ReadOnlySnapshotStore>> Create();
  // Create, then Open(spine_dir).
  static Result<std::unique_ptr<ReadOnlySnapshotStore>> OpenFor(const std::string& spine_dir);
  ~ReadOnlySnapshotStore();
  ReadOnlySnapshotStore(const ReadOnlySnapshotStore&) = delete;
  ReadOnlySnapshotStore& operator=(const ReadOnlySnapshotStore&) = delete;

  // Opens <spine_dir>/snapshots. Errors: those of SnapshotStore::Open.
  // REQUIRES: not opened before.
  Status Open(const std::string& spine_dir);
  // The store; null until Open succeeded. Owned by this object.
  storage::SnapshotStore* get() { return store_.get(); }

 private:
  ReadOnlySnapshotStore() = default;
  std::string scratch_;  // the private directory; removed in the destructor
  std::unique_ptr<storage::SnapshotStore> store_;
};

}  // namespace razar::replay
