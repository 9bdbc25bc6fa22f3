#include "orchestrator/base/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace razar::orchestrator {
namespace {

storage::Env* OrDefault(storage::Env* env) {
  return env != nullptr ? env : storage::Env::Default();
}

}  // namespace

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteFileAtomically(storage::Env* env, const std::string& path, std::string_view contents) {
  env = OrDefault(env);
  const std::string tmp = path + ".tmp";
  Status s;
  {
    RAZAR_ASSIGN_OR_RETURN(int fd, env->Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    storage::ScopedFd closer(env, fd);
    s = env->PWrite(fd, contents.data(), contents.size(), 0);
    if (s.ok()) s = env->Fdatasync(fd);
    if (s.ok()) s = env->Close(closer.release());
  }
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) {
    env->Remove(tmp).IgnoreError();  // best effort: the target is untouched either way
    return s.WithContext("atomic write of " + path);
  }
  // After the rename the new contents are visible; the directory fsync makes
  // the rename itself survive a power loss.
  return env->SyncDir(ParentDir(path)).WithContext("atomic write of " + path);
}

Result<std::string> ReadWholeFile(storage::Env* env, const std::string& path, size_t max_bytes) {
  env = OrDefault(env);
  Result<int> fd = env->Open(path, O_RDONLY);
  if (!fd.ok()) {
    if (fd.status().err() == ENOENT) return Status::NotFound(path + ": no such file");
    return fd.status().WithContext(path);
  }
  storage::ScopedFd closer(env, *fd);
  std::string text;
  char buf[64 * 1024];
  uint64_t offset = 0;
  for (;;) {
    // Every error names the file: a directory given as a path must not
    // surface as a bare "pread: Is a directory".
    Result<size_t> got = env->PRead(*fd, buf, sizeof(buf), offset);
    if (!got.ok()) return got.status().WithContext(path);
    const size_t n = *got;
    if (n == 0) break;
    if (text.size() + n > max_bytes) {
      return Status::Corruption(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    text.append(buf, n);
    offset += n;
  }
  return text;
}

Status AppendWhole(int fd, std::string_view text, const std::string& path) {
  ssize_t n;
  do {
    n = ::write(fd, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno("write " + path, errno);
  if (static_cast<size_t>(n) != text.size()) {
    return Status::IoError("short write to " + path + " (disk full?)", ENOSPC);
  }
  return Status::Ok();
}

}  // namespace razar::orchestrator
