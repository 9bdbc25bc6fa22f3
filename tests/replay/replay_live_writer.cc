// razar_replay_live_writer SPINE_DIR: the live writer of ReplayToolLiveTest
// (replay_tool_test.cc). It opens a spine in SPINE_DIR and, until it is
// killed, appends random operations (OpGen) in rounds of 25 and snapshots
// every layer every 200 ms. A program of its own, so that it inherits no
// RocksDB state from the test; it exits by itself after 60 s so that it
// never outlives a lost test. Exit codes: 1 usage, 2 open, 3 append,
// 4 snapshot, 5 ran 60 s.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "storage/spine.h"
#include "testing/spine_test_util.h"

namespace razar::storage {
namespace {

[[noreturn]] void Run(const std::string& dir) {
  using Clock = std::chrono::steady_clock;
  auto sp = Spine::Open(
      testing::TestSpineOptions(dir, SnapshotWriteMethod::kSstIngest, Durability::kNone));
  if (!sp.ok()) {
    std::fprintf(stderr, "open: %s\n", sp.status().ToString().c_str());
    _exit(2);
  }
  Spine* spine = sp->get();
  testing::OpGen gen(2024, 0, 300);
  RecordEncoder enc;
  const auto start = Clock::now();
  auto next_snapshot = start + std::chrono::milliseconds(200);
  for (;;) {
    for (int i = 0; i < 25; ++i) {
      Result<Lsn> l = testing::RunOp(spine, enc, gen.Next());
      if (!l.ok()) {
        std::fprintf(stderr, "append: %s\n", l.status().ToString().c_str());
        _exit(3);
      }
    }
    const auto now = Clock::now();
    if (now >= next_snapshot) {
      auto r = spine->SnapshotAll();
      if (!r.ok()) {
        std::fprintf(stderr, "snapshot: %s\n", r.status().ToString().c_str());
        _exit(4);
      }
      next_snapshot = now + std::chrono::milliseconds(200);
    }
    if (now - start > std::chrono::seconds(60)) _exit(5);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace
}  // namespace razar::storage

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: razar_replay_live_writer SPINE_DIR\n");
    return 1;
  }
  razar::storage::Run(argv[1]);
}
