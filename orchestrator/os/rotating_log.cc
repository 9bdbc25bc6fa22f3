#include "orchestrator/os/rotating_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace razar::orchestrator {


RotatingLog::RotatingLog(std::string path, uint64_t max_bytes, uint32_t keep_files, int fd,
                         uint64_t size)
    : path_(std::move(path)),
      max_bytes_(max_bytes),
      keep_files_(keep_files),
      fd_(fd),
      size_(size) {}

RotatingLog::~RotatingLog() {
  if (fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<RotatingLog>> RotatingLog::Open(const std::string& path, uint64_t max_bytes,
                                                       uint32_t keep_files) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("fstat " + path, err);
  }
  return std::unique_ptr<RotatingLog>(
      new RotatingLog(path, max_bytes, keep_files, fd, static_cast<uint64_t>(st.st_size)));
}

Status RotatingLog::Append(std::string_view data) {
  while (!data.empty()) {
    const uint64_t room = size_ < max_bytes_ ? max_bytes_ - size_ : 0;
    if (max_bytes_ == 0 || data.size() <= room) return Write(data);
    // Cut after the last newline that fits; with nothing written yet in
    // this file and no newline, the line is longer than a file: split it.
    size_t cut = 0;
    if (room > 0) {
      const size_t newline = data.substr(0, room).rfind('\n');
      if (newline != std::string_view::npos) cut = newline + 1;
      if (cut == 0 && size_ == 0) cut = room;
    }
    if (cut > 0) {
      RAZAR_RETURN_IF_ERROR(Write(data.substr(0, cut)));
      data.remove_prefix(cut);
    }
    if (Status rotated = Rotate(); !rotated.ok()) {
      Status written = Write(data);
      return written.ok() ? rotated : written;
    }
  }
  return Status::Ok();
}

Status RotatingLog::Rotate() {
  if (keep_files_ == 0) {
    if (fd_ >= 0 && ftruncate(fd_, 0) != 0) return Status::FromErrno("truncate " + path_, errno);
    size_ = 0;
    return Status::Ok();
  }
  // .N-1 -> .N, ..., .1 -> .2, log -> .1; rename replaces the oldest.
  for (uint32_t k = keep_files_; k >= 2; --k) {
    const std::string from = path_ + "." + std::to_string(k - 1);
    const std::string to = path_ + "." + std::to_string(k);
    if (rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("rename " + from, errno);
    }
  }
  if (rename(path_.c_str(), (path_ + ".1").c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("rename " + path_, errno);
  }
  if (fd_ >= 0) close(fd_);
  fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
  size_ = 0;
  if (fd_ < 0) return Status::FromErrno("open " + path_, errno);
  return Status::Ok();
}

Status RotatingLog::Write(std::string_view data) {
  if (fd_ < 0) {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      bytes_dropped_ += data.size();
      return Status::FromErrno("open " + path_, errno);
    }
  }
  while (!data.empty()) {
    const ssize_t n = write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      bytes_dropped_ += data.size();
      return Status::FromErrno("write " + path_, errno);
    }
    size_ += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace razar::orchestrator
