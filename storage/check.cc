#include "storage/check.h"

#include <cstdio>
#include <cstdlib>

namespace razar::internal {

void CheckFailed(const char* file, int line, const char* expr, const std::string& detail) {
  // fprintf, not a logger: the process is about to die and a logger may be
  // the very thing that is broken. One write, then abort for a core dump.
  if (detail.empty()) {
    std::fprintf(stderr, "%s:%d: RAZAR_CHECK failed: %s\n", file, line, expr);
  } else {
    std::fprintf(stderr, "%s:%d: RAZAR_CHECK failed: %s (%s)\n", file, line, expr, detail.c_str());
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace razar::internal
