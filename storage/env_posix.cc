// Env::Default(): POSIX files, liburing, CLOCK_REALTIME / CLOCK_MONOTONIC.
#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/env.h"

namespace razar::storage {

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

namespace {

class UringRing final : public Ring {
 public:
  ~UringRing() override { io_uring_queue_exit(&ring_); }

  static Result<std::unique_ptr<Ring>> Create(unsigned entries) {
    auto r = std::unique_ptr<UringRing>(new UringRing(entries));
    int rc = io_uring_queue_init(entries, &r->ring_, 0);
    if (rc < 0) return Status::FromErrno("io_uring_queue_init", -rc);
    return std::unique_ptr<Ring>(std::move(r));
  }

  Status RegisterBuffers(const iovec* iovs, unsigned count) override {
    int rc = io_uring_register_buffers(&ring_, iovs, count);
    if (rc < 0) return Status::FromErrno("io_uring_register_buffers", -rc);
    return Status::Ok();
  }

  void QueueWrite(int fd, const void* data, uint32_t len, uint64_t offset, int buf_index,
                  uint64_t user_data, bool link_next) override {
    io_uring_sqe* sqe = GetSqe();
    if (buf_index >= 0) {
      io_uring_prep_write_fixed(sqe, fd, data, len, offset, buf_index);
    } else {
      io_uring_prep_write(sqe, fd, data, len, offset);
    }
    if (link_next) sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe_set_data64(sqe, user_data);
  }

  void QueueFdatasync(int fd, uint64_t user_data) override {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sqe, user_data);
  }

  Status Submit() override {
    for (;;) {
      int rc = io_uring_submit(&ring_);
      if (rc >= 0) return Status::Ok();
      if (rc == -EINTR || rc == -EAGAIN || rc == -EBUSY) continue;
      return Status::FromErrno("io_uring_submit", -rc);
    }
  }

  Status WaitCompletion(Completion* out) override {
    io_uring_cqe* cqe = nullptr;
    for (;;) {
      int rc = io_uring_wait_cqe(&ring_, &cqe);
      if (rc == 0) break;
      if (rc == -EINTR || rc == -EAGAIN) continue;
      return Status::FromErrno("io_uring_wait_cqe", -rc);
    }
    out->user_data = io_uring_cqe_get_data64(cqe);
    out->res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    return Status::Ok();
  }

  unsigned capacity() const override { return entries_; }

 private:
  explicit UringRing(unsigned entries) : entries_(entries) {}

  io_uring_sqe* GetSqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      // The queue is full: flush it to the kernel and take a fresh slot.
      // REQUIRES (caller contract) makes this rare; it is still correct.
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  io_uring ring_{};
  unsigned entries_;
};

class PosixEnv final : public Env {
 public:
  Result<int> Open(const std::string& path, int flags, int mode) override {
    int fd;
    do {
      fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    return fd;
  }

  Status Close(int fd) override {
    if (::close(fd) != 0 && errno != EINTR) return Status::FromErrno("close", errno);
    return Status::Ok();
  }

  Result<size_t> PRead(int fd, void* buf, size_t n, uint64_t offset) override {
    size_t done = 0;
    auto* p = static_cast<char*>(buf);
    while (done < n) {
      ssize_t r = ::pread(fd, p + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("pread", errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

  Status PWrite(int fd, const void* buf, size_t n, uint64_t offset) override {
    size_t done = 0;
    const auto* p = static_cast<const char*>(buf);
    while (done < n) {
      ssize_t r = ::pwrite(fd, p + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Status::FromErrno("pwrite", errno);
      }
      done += static_cast<size_t>(r);
    }
    return Status::Ok();
  }

  Status Fdatasync(int fd) override {
    if (::fdatasync(fd) != 0) return Status::FromErrno("fdatasync", errno);
    return Status::Ok();
  }

  Result<uint64_t> FileSize(int fd) override {
    struct stat st;
    if (::fstat(fd, &st) != 0) return Status::FromErrno("fstat", errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0)
      return Status::FromErrno("truncate " + path, errno);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return Status::FromErrno("rename " + from + " -> " + to, errno);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno("unlink " + path, errno);
    return Status::Ok();
  }

  Status CreateDirs(const std::string& path) override {
    if (path.empty()) return Status::InvalidArgument("empty directory path");
    std::string cur;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = path.find('/', pos + 1);
      cur = path.substr(0, pos);
      if (cur.empty()) continue;
      if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
        return Status::FromErrno("mkdir " + cur, errno);
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
    if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + " is not a directory");
    return Status::Ok();
  }

  Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open dir " + path, errno);
    Status s;
    if (::fsync(fd) != 0) s = Status::FromErrno("fsync dir " + path, errno);
    ::close(fd);
    return s;
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return Status::FromErrno("opendir " + path, errno);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names.emplace_back(e->d_name);
    }
    ::closedir(d);
    return names;
  }

  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<std::unique_ptr<Ring>> NewRing(unsigned entries) override {
    return UringRing::Create(entries);
  }

  int64_t NowUnixNanos() override {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
  }

  uint64_t MonotonicNanos() override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
  }

  void SleepForMicros(uint64_t micros) override {
    timespec ts{static_cast<time_t>(micros / 1000000),
                static_cast<long>((micros % 1000000) * 1000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();  // never deleted: used until exit
  return env;
}

}  // namespace razar::storage
