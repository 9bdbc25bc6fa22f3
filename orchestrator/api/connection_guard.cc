#include "orchestrator/api/connection_guard.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "orchestrator/base/clock.h"
#include "storage/check.h"

namespace razar::orchestrator {
namespace {

constexpr int64_t kWatchPeriodMs = 100;

int64_t NowNs() { return Clock::Real()->NowNs(); }

// The local port of a connected TCP socket, or 0 (not TCP, not connected).
uint16_t ConnectedLocalPort(int fd) {
  sockaddr_storage local{}, peer{};
  socklen_t len = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return 0;
  len = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return 0;
  if (local.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  if (local.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
  return 0;
}

}  // namespace

ConnectionGuard::ConnectionGuard(uint16_t port, size_t workers, uint32_t lifetime_ms,
                                 size_t max_connections, ConnectionGuardStats* stats)
    : port_(port),
      lifetime_ms_(lifetime_ms),
      max_connections_(max_connections),
      stats_(stats),
      pool_(std::make_unique<httplib::ThreadPool>(workers)) {
  watchdog_ = std::thread([this] { Watch(); });
}

ConnectionGuard::~ConnectionGuard() { shutdown(); }

uint64_t ConnectionGuard::FindNewSocket() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  uint64_t found = 0;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    struct stat st {};
    if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    const uint64_t ino = static_cast<uint64_t>(st.st_ino);
    if (conns_.count(ino) != 0) continue;  // tracked already (or our duplicate of one)
    if (ConnectedLocalPort(static_cast<int>(fd)) != port_) continue;
    Conn c;
    c.dup_fd = fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 3);
    if (c.dup_fd < 0) continue;
    c.deadline_ns = NowNs() + int64_t{lifetime_ms_} * 1'000'000;
    conns_.emplace(ino, c);
    found = ino;
    break;
  }
  closedir(dir);
  return found;
}

void ConnectionGuard::enqueue(std::function<void()> fn) {
  stats_->accepted.fetch_add(1, std::memory_order_relaxed);
  uint64_t ino = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    ino = FindNewSocket();
    if (ino == 0) {
      stats_->unguarded.fetch_add(1, std::memory_order_relaxed);
    } else if (conns_.size() > max_connections_) {
      Cut(conns_.at(ino));  // over the limit: served an EOF at once
    }
    RAZAR_CHECK_LE(conns_.size(), max_connections_ + 1);
  }
  pool_->enqueue([this, ino, fn = std::move(fn)] {
    fn();  // httplib reads, answers and closes its descriptor
    if (ino == 0) return;
    std::lock_guard<std::mutex> l(mu_);
    auto it = conns_.find(ino);
    RAZAR_CHECK(it != conns_.end());
    ::close(it->second.dup_fd);  // the socket is freed with our reference
    conns_.erase(it);
  });
}

void ConnectionGuard::Cut(Conn& c) {
  if (c.cut) return;
  c.cut = true;
  ::shutdown(c.dup_fd, SHUT_RDWR);
  stats_->cut.fetch_add(1, std::memory_order_relaxed);
}

void ConnectionGuard::Watch() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    cv_.wait_for(l, std::chrono::milliseconds(kWatchPeriodMs));
    const int64_t now = NowNs();
    for (auto& [ino, c] : conns_) {
      if (now >= c.deadline_ns) Cut(c);
    }
  }
}

void ConnectionGuard::shutdown() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    // Unblock every connection still being served, so the pool can join.
    for (auto& [ino, c] : conns_) Cut(c);
    stopping_ = true;
    cv_.notify_all();
  }
  watchdog_.join();
  pool_->shutdown();
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [ino, c] : conns_) ::close(c.dup_fd);
  conns_.clear();
}

}  // namespace razar::orchestrator
