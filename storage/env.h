// Env: the one seam through which storage code touches the OS — files, the
// io_uring ring and the clock. Production code uses Env::Default(); tests
// swap in FaultInjectionEnv (storage/fault_injection_env.h), which drops
// unsynced data, tears writes and fails the Nth call.
//
// Files are plain file descriptors owned by the caller: whoever opens one
// closes it with Env::Close. Paths are absolute or relative to the process's
// working directory.
//
// Thread safety: Env::Default() and its methods are safe from any thread.
// A Ring is single-issuer: one thread at a time queues, submits and reaps.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/status.h"

namespace razar::storage {

// An asynchronous I/O queue. The default implementation is io_uring; the
// fault-injecting one executes each operation synchronously when submitted.
//
// Completion order is not submission order (io_uring(7)): callers identify
// completions by user_data and must not acknowledge data before the
// completion of every operation that covers it.
class Ring {
 public:
  struct Completion {
    uint64_t user_data = 0;
    int32_t res = 0;  // bytes written, 0 for a sync, or -errno
  };

  virtual ~Ring() = default;

  // Registers buffers for fixed writes (io_uring_register_buffers). Buffers
  // must outlive the ring. Call at most once, before any QueueWrite that
  // names a buffer index.
  virtual Status RegisterBuffers(const iovec* iovs, unsigned count) = 0;

  // Queues a write of `len` bytes from `data` to `fd` at `offset`. When
  // `buf_index >= 0`, `data` lies inside registered buffer `buf_index`.
  // `link_next` links this operation to the next queued one
  // (IOSQE_IO_LINK): the next one starts only after this one completes in
  // full, and fails with -ECANCELED if this one fails or is short.
  // REQUIRES: a free submission slot (at most capacity() queued).
  virtual void QueueWrite(int fd, const void* data, uint32_t len, uint64_t offset, int buf_index,
                          uint64_t user_data, bool link_next) = 0;
  // Queues fdatasync(fd).
  virtual void QueueFdatasync(int fd, uint64_t user_data) = 0;
  // Submits everything queued since the last Submit.
  virtual Status Submit() = 0;
  // Blocks until one completion is available and returns it.
  virtual Status WaitCompletion(Completion* out) = 0;
  // Submission queue depth.
  virtual unsigned capacity() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX + io_uring environment. Never deleted.
  static Env* Default();

  // ---- Files ----
  // open(2). Returns the descriptor.
  virtual Result<int> Open(const std::string& path, int flags, int mode = 0644) = 0;
  virtual Status Close(int fd) = 0;
  // Reads up to n bytes at offset; returns the count (0 at end of file).
  // Retries EINTR and short reads until n bytes or end of file.
  virtual Result<size_t> PRead(int fd, void* buf, size_t n, uint64_t offset) = 0;
  // Writes all n bytes at offset (loops over short writes).
  virtual Status PWrite(int fd, const void* buf, size_t n, uint64_t offset) = 0;
  virtual Status Fdatasync(int fd) = 0;
  virtual Result<uint64_t> FileSize(int fd) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // mkdir -p.
  virtual Status CreateDirs(const std::string& path) = 0;
  // fsync of a directory, to make renames and creations in it durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, without "." and "..".
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;

  // ---- Ring ----
  // A new ring with `entries` submission slots.
  virtual Result<std::unique_ptr<Ring>> NewRing(unsigned entries) = 0;

  // ---- Clock ----
  // Wall-clock time, nanoseconds since the Unix epoch. May go backwards.
  virtual int64_t NowUnixNanos() = 0;
  // Monotonic time in nanoseconds from an arbitrary origin.
  virtual uint64_t MonotonicNanos() = 0;
  virtual void SleepForMicros(uint64_t micros) = 0;
};

// Closes an fd on scope exit unless released.
class ScopedFd {
 public:
  ScopedFd(Env* env, int fd) : env_(env), fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) env_->Close(fd_).IgnoreError();
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  Env* env_;
  int fd_;
};

// Joins a directory and a file name.
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace razar::storage
