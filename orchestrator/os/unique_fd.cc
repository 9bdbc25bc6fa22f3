#include "orchestrator/os/unique_fd.h"

#include <unistd.h>

namespace razar::orchestrator {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  // close() is not retried on EINTR: on Linux the descriptor is gone anyway.
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}
}  // namespace razar::orchestrator
