#include "orchestrator/os/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace razar::orchestrator {

Result<std::unique_ptr<FileLock>> FileLock::Acquire(const std::string& path,
                                                    const std::string& what) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Status::FromErrno("flock " + path, errno);
    char buf[32] = {0};
    const ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    const long holder = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    return Status::Failed(what + " is already in use: " + path + " is locked by " +
                          (holder > 0 ? "pid " + std::to_string(holder) : "another process"));
  }
  // Ours now: say who holds it (best effort — the lock is what counts).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) {
    (void)!::pwrite(fd.get(), pid.data(), pid.size(), 0);
  }
  return std::unique_ptr<FileLock>(new FileLock(path, std::move(fd)));
}

}  // namespace razar::orchestrator
