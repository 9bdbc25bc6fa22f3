// UTC timestamps as RAZAR's runtime files write them.
//
// Thread safety: free functions, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/env.h"

namespace razar::orchestrator {

// "2024-05-01T12:00:00.123Z" (with_millis) or "2024-05-01T12:00:00Z".
std::string FormatUtcIso8601(int64_t unix_ms, bool with_millis = true);
// Accepts both forms above; nullopt for anything else.
std::optional<int64_t> ParseUtcIso8601(std::string_view text);
// Current wall-clock time of `env` (default Env::Default()) in ms.
int64_t NowUnixMs(storage::Env* env = nullptr);

}  // namespace razar::orchestrator
