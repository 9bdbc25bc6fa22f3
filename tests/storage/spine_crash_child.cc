// razar_spine_crash_child: the child process of SpineCrashTest
// (spine_crash_child.h says what it does). A program of its own, so that
// it inherits no RocksDB or writer threads from the test and carries no
// test framework state; it reports only through its exit code and files.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "storage/spine.h"
#include "tests/storage/spine_crash_child.h"

namespace razar::storage::crash_child {
namespace {

[[noreturn]] void Run(const std::string& base, SnapshotCrashPoint point,
                      SnapshotWriteMethod method) {
  auto sp = Spine::Open(CrashSpineOptions(base + "/spine", method));
  if (!sp.ok()) _exit(kChildOpenFailed);
  Spine* spine = sp->get();
  testing::OpGen gen(kCrashSeed, 0, 300);
  RecordEncoder enc;
  std::vector<Lsn> lsns;
  for (int i = 0; i < kOpsBeforeFirst + kOpsAfterFirst; ++i) {
    if (i == kOpsBeforeFirst && !spine->Snapshot(kCrashLayer).ok()) _exit(kChildSnapshotFailed);
    auto lsn = testing::RunOp(spine, enc, gen.Next());
    if (!lsn.ok()) _exit(kChildAppendFailed);
    lsns.push_back(*lsn);
  }
  if (!spine->WaitDurable(lsns.back()).ok()) _exit(kChildWaitFailed);
  int fd = ::open(LsnFile(base).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) _exit(kChildFileFailed);
  const size_t bytes = lsns.size() * sizeof(Lsn);
  if (::write(fd, lsns.data(), bytes) != static_cast<ssize_t>(bytes)) _exit(kChildFileFailed);
  ::close(fd);
  spine->store()->SetCrashPointForTest(point);
  auto rep = spine->Snapshot(kCrashLayer);
  _exit(rep.ok() ? kChildNoCrash : kChildNoCrashError);
}

}  // namespace
}  // namespace razar::storage::crash_child

int main(int argc, char** argv) {
  using namespace razar::storage;
  if (argc != 4) return crash_child::kChildUsage;
  crash_child::Run(argv[1], static_cast<SnapshotCrashPoint>(std::atoi(argv[2])),
                   static_cast<SnapshotWriteMethod>(std::atoi(argv[3])));
}
