// What the snapshot-publish crash tests (spine_test.cc, SpineCrashTest) and
// their child process (spine_crash_child.cc, the razar_spine_crash_child
// program) agree on: the child's command line, the stream it appends, the
// file it reports acknowledged LSNs in, and its exit codes.
//
//   razar_spine_crash_child BASE_DIR CRASH_POINT WRITE_METHOD
//
// The child opens a spine in BASE_DIR/spine, appends kOpsBeforeFirst ops of
// OpGen(kCrashSeed), takes one complete snapshot of kCrashLayer, appends
// kOpsAfterFirst more, waits for them to be durable, writes their LSNs to
// LsnFile(BASE_DIR), arms CRASH_POINT (a SnapshotCrashPoint) and snapshots
// kCrashLayer again: the store _exit(0)s at the crash point.
#pragma once

#include <string>

#include "storage/spine.h"
#include "testing/spine_test_util.h"

namespace razar::storage::crash_child {

inline constexpr uint64_t kCrashSeed = 8086;
inline constexpr int kOpsBeforeFirst = 900;
inline constexpr int kOpsAfterFirst = 400;
inline constexpr Layer kCrashLayer = Layer::heart;

enum ChildExit : int {
  kChildCrashed = 0,  // SnapshotStore::MaybeCrash
  kChildUsage = 1,
  kChildOpenFailed = 2,
  kChildAppendFailed = 3,
  kChildSnapshotFailed = 4,
  kChildWaitFailed = 5,
  kChildFileFailed = 6,
  kChildNoCrash = 10,
  kChildNoCrashError = 11,
};

inline SpineOptions CrashSpineOptions(const std::string& dir, SnapshotWriteMethod m) {
  return testing::TestSpineOptions(dir, m, Durability::kBatch, 64u << 10);
}

// The acknowledged LSNs, as raw Lsn values in append order.
inline std::string LsnFile(const std::string& base) { return base + "/acked-lsns"; }

}  // namespace razar::storage::crash_child
