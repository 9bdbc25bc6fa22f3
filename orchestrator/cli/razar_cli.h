// The `razar` command (docs/operations.md): boot, check, status, resolve.
//
// Exit codes: 0 success (boot: every component healthy or knowingly
// quarantined, and stopped cleanly on SIGINT/SIGTERM); 1 the command ran but
// the node is degraded (boot: a component blocked; status: not healthy);
// 2 usage or configuration error (nothing was launched).
//
// Thread safety: one call per process (signals, stdout).
#pragma once

#include <ostream>

namespace razar::orchestrator {

int RazarMain(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace razar::orchestrator
