#include "replay/spine_dir.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "storage/spine.h"

namespace razar::replay {

Status CheckSpineDir(const std::string& dir, storage::Env* env) {
  if (env == nullptr) env = storage::Env::Default();
  RAZAR_RETURN_IF_ERROR(storage::CheckSpineIdentity(env, dir));
  // Listing it is how an Env tells a directory from a file.
  if (!env->ListDir(storage::SpineLogDir(dir)).ok()) {
    return Status::NotFound(dir + " is not a RAZAR spine (no log/ directory)");
  }
  return Status::Ok();
}

namespace {

// "fd:01:5678" (major:minor:inode, hex major and minor) names `st`.
bool SameFile(const std::string& dev_inode, const struct stat& st) {
  const size_t first = dev_inode.find(':');
  const size_t last = dev_inode.rfind(':');
  if (first == std::string::npos || last == first) return false;
  if (dev_inode.substr(last + 1) != std::to_string(st.st_ino)) return false;
  const unsigned maj =
      static_cast<unsigned>(std::strtoul(dev_inode.substr(0, first).c_str(), nullptr, 16));
  const unsigned min = static_cast<unsigned>(
      std::strtoul(dev_inode.substr(first + 1, last - first - 1).c_str(), nullptr, 16));
  return maj == major(st.st_dev) && min == minor(st.st_dev);
}

}  // namespace

bool SpineIsLive(const std::string& spine_dir, int* holder_pid) {
  struct stat st;
  const std::string lock = storage::JoinPath(storage::SpineSnapshotDir(spine_dir), "LOCK");
  if (::stat(lock.c_str(), &st) != 0) return false;
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    // "1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"
    std::istringstream in(line);
    std::string idx, type, advisory, mode, pid, dev;
    if (!(in >> idx >> type)) continue;
    if (type == "->") continue;  // a waiter, not a holder
    if (!(in >> advisory >> mode >> pid >> dev)) continue;
    if (type != "POSIX" && type != "OFDLCK") continue;
    if (!SameFile(dev, st)) continue;
    if (holder_pid != nullptr) *holder_pid = std::atoi(pid.c_str());
    return true;
  }
  return false;
}

Result<std::unique_ptr<ReadOnlySnapshotStore>> ReadOnlySnapshotStore::Create() {
  std::unique_ptr<ReadOnlySnapshotStore> s(new ReadOnlySnapshotStore);
  std::string tmpl = (std::filesystem::temp_directory_path() / "razar-replay-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Status::FromErrno("mkdtemp for the snapshot reader", errno);
  }
  s->scratch_ = tmpl;
  return s;
}

Result<std::unique_ptr<ReadOnlySnapshotStore>> ReadOnlySnapshotStore::OpenFor(
    const std::string& spine_dir) {
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<ReadOnlySnapshotStore> s, Create());
  RAZAR_RETURN_IF_ERROR(s->Open(spine_dir));
  return s;
}

Status ReadOnlySnapshotStore::Open(const std::string& spine_dir) {
  storage::SnapshotStoreOptions so;
  so.path = storage::SpineSnapshotDir(spine_dir);
  so.read_only = true;
  so.secondary_path = scratch_;
  RAZAR_ASSIGN_OR_RETURN(store_, storage::SnapshotStore::Open(so));
  return Status::Ok();
}

ReadOnlySnapshotStore::~ReadOnlySnapshotStore() {
  store_.reset();  // RocksDB first: its files are in the scratch directory
  std::error_code ec;
  if (!scratch_.empty()) std::filesystem::remove_all(scratch_, ec);
}

}  // namespace razar::replay
