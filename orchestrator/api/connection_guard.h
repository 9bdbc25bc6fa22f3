// ConnectionGuard: bounds how long any one connection may hold the HTTP
// server, whatever the client does.
//
// cpp-httplib serves each connection on a pool thread and bounds each read
// (set_read_timeout), not the whole request: a client that sends a partial
// header line every few seconds holds its thread for as long as it likes,
// and a few of them stall every other request — GET /health included,
// which monitoring depends on. This task queue (httplib::TaskQueue, the
// hook httplib offers for its workers) runs connections on a larger pool
// and gives each a lifetime, counted from accept: when it passes, the
// connection's socket is shut down (shutdown(2) on a duplicate of the
// descriptor, so it can never hit a reused descriptor number), the worker's
// read returns, and httplib closes it. Connections beyond max_connections
// are cut at once.
//
// How the queue knows the socket: httplib hands it only a closure, right
// after accept(2) on the listener thread. At that moment exactly one
// connected TCP socket with the server's local port is not yet tracked —
// the new one — found in /proc/self/fd by its inode. If it cannot be
// found the connection is served unguarded (counted in unguarded()).
//
// Thread safety: enqueue and shutdown are called by httplib (listener
// thread, then the owner's Stop); the counters from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "orchestrator/api/connection_stats.h"

namespace razar::orchestrator {

class ConnectionGuard : public httplib::TaskQueue {
 public:
  // `port` is the server's bound port; `stats` is borrowed and must outlive
  // the queue.
  ConnectionGuard(uint16_t port, size_t workers, uint32_t lifetime_ms, size_t max_connections,
                  ConnectionGuardStats* stats);
  ~ConnectionGuard() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

 private:
  struct Conn {
    int dup_fd = -1;  // our own reference to the socket
    int64_t deadline_ns = 0;
    bool cut = false;
  };
  // The inode of the just-accepted socket, or 0.
  uint64_t FindNewSocket();
  void Watch();
  void Cut(Conn& c);  // REQUIRES: mu_ held

  const uint16_t port_;
  const uint32_t lifetime_ms_;
  const size_t max_connections_;
  ConnectionGuardStats* const stats_;
  std::unique_ptr<httplib::ThreadPool> pool_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Conn> conns_;  // guarded by mu_; by socket inode
  bool stopping_ = false;           // guarded by mu_
  std::thread watchdog_;
};

}  // namespace razar::orchestrator
