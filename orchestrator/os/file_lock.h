// FileLock: an exclusive flock(2) on a file, held for the life of the
// object (and so of the process: the kernel drops it when the process
// dies, even by SIGKILL). The holder writes its pid into the file, so the
// next one can say who holds it.
//
// Thread safety: the object is not shared; create and destroy it on one
// thread. Note that flock locks belong to the open file description: this
// never opens the file twice in one process.
#pragma once

#include <memory>
#include <string>

#include "orchestrator/os/unique_fd.h"
#include "storage/status.h"

namespace razar::orchestrator {

class FileLock {
 public:
  // Creates `path` (its directory must exist) and locks it without
  // waiting. Failed naming `what`, the path and the holder's pid when the
  // lock is held; IoError when the file cannot be opened.
  static Result<std::unique_ptr<FileLock>> Acquire(const std::string& path,
                                                   const std::string& what);
  ~FileLock() = default;  // closing the fd releases the lock
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  FileLock(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

}  // namespace razar::orchestrator
