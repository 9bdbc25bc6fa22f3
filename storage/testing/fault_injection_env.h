// FaultInjectionEnv: an Env for tests that wraps a real one and can
//   - fail the Nth write or sync (once, or that one and every later one)
//     with a chosen errno (EIO, ENOSPC, ...);
//   - return short writes or -EAGAIN from the ring (the writer must resubmit);
//   - tear a write: only the first bytes up to a global byte count reach the
//     file, and from then on the "disk" is dead (every write/sync fails EIO);
//   - drop unsynced data: undo, in reverse order, every write not yet
//     covered by a successful fdatasync of its file — what a power loss
//     leaves behind.
//
// Its Ring executes operations synchronously at Submit() through this Env,
// honouring IOSQE_IO_LINK semantics (a failed or short write cancels the
// linked operation with -ECANCELED), so the writer's io_uring logic is
// exercised against the injected faults.
//
// Counting: "write N" counts every PWrite call and ring write from the
// moment the fault is armed, 1-based; likewise "sync N" for Fdatasync and
// ring fdatasyncs. Reads, truncation, directory operations and the clock
// pass through (ForwardingEnv).
//
// Test support: part of razar_storage_testing, not of the production
// library.
//
// Thread safety: all methods are safe from any thread (one internal mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/env.h"
#include "storage/testing/forwarding_env.h"

namespace razar::storage {

class FaultInjectionEnv final : public ForwardingEnv {
 public:
  enum class Op { kWrite, kSync };

  // `base` is borrowed and must outlive this Env. Default: Env::Default().
  explicit FaultInjectionEnv(Env* base = nullptr);
  ~FaultInjectionEnv() override;

  // Fails the `nth` (1-based, counted from now) operation of kind `op` with
  // `err`. With `persistent`, that one and every later one of that kind fail.
  void FailOp(Op op, uint64_t nth, int err, bool persistent);
  // Ring writes whose ordinal (1-based, from now) is in the set complete
  // short (half their length, at least 1 byte short) without error.
  void ShortWriteOn(uint64_t nth);
  // The `nth` ring write (1-based, from now) completes with -EAGAIN and
  // writes nothing.
  void EagainOn(uint64_t nth);
  // After `byte_budget` more bytes have been written (PWrite + ring), the
  // write crossing the budget persists only its first bytes up to it and
  // fails EIO; every later write and sync fails EIO ("the disk died").
  void TearAfterBytes(uint64_t byte_budget);
  // Clears all armed faults and revives a dead disk. Unsynced-data tracking
  // continues.
  void ClearFaults();

  // Undoes every write not covered by a later successful sync of the same
  // file (restoring the bytes that were there before, and the file length).
  // Call after the writer under test is closed or abandoned.
  Status DropUnsyncedData();
  // Forgets unsynced-data tracking (treat everything as synced).
  void MarkAllSynced();

  uint64_t writes() const;  // total write operations seen
  uint64_t syncs() const;   // total sync operations seen

  // Env: what the faults change; everything else is ForwardingEnv's.
  Result<int> Open(const std::string& path, int flags, int mode) override;
  Status Close(int fd) override;
  Status PWrite(int fd, const void* buf, size_t n, uint64_t offset) override;
  Status Fdatasync(int fd) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Result<std::unique_ptr<Ring>> NewRing(unsigned entries) override;

  // Used by the ring: one write / one sync with fault logic. Returns bytes
  // written or -errno.
  int64_t RingWrite(int fd, const void* data, uint32_t len, uint64_t offset);
  int64_t RingSync(int fd);

 private:
  struct Undo {
    uint64_t offset;
    std::vector<uint8_t> old_bytes;  // what was there (only the part inside the old length)
    uint64_t old_length;             // file length before the write
  };
  struct FileState {
    std::string path;
    std::vector<Undo> unsynced;
  };
  struct Armed {
    uint64_t nth = 0;  // 0: not armed
    int err = 0;
    bool persistent = false;
    uint64_t seen = 0;
  };

  // Returns 0 to proceed, -errno to fail. REQUIRES: mu_ held.
  int CheckFault(Op op);
  // Writes through base_ while recording undo information. REQUIRES: mu_ held.
  int64_t DoWrite(int fd, const void* data, size_t len, uint64_t offset);
  int64_t DoSync(int fd);

  Env* const base_;  // == base(), borrowed
  mutable std::mutex mu_;
  std::map<int, std::string> fd_paths_;     // open fds -> path
  std::map<std::string, FileState> files_;  // path -> unsynced writes
  Armed write_fault_, sync_fault_;
  std::vector<uint64_t> short_writes_;  // ring-write ordinals
  std::vector<uint64_t> eagain_writes_;
  uint64_t ring_writes_seen_ = 0;
  bool tear_armed_ = false;
  uint64_t tear_budget_ = 0;
  bool dead_ = false;
  uint64_t writes_ = 0, syncs_ = 0;
};

}  // namespace razar::storage
