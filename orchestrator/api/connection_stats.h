// Counters of ConnectionGuard (connection_guard.h), kept apart so that
// http_server.h need not include httplib.
#pragma once

#include <atomic>
#include <cstdint>

namespace razar::orchestrator {

struct ConnectionGuardStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> cut{0};        // shut down at their deadline or over the limit
  std::atomic<uint64_t> unguarded{0};  // served without a deadline (socket not found)
};

}  // namespace razar::orchestrator
