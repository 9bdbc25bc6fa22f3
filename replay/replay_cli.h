// razar-replay, the forensic tool (docs/replay.md): info, verify, dump,
// rebuild, timeline over a spine directory, strictly read-only.
//
// Exit codes: 0 done and the spine is clean; 1 done but the spine is
// damaged (everything readable was still used and the damage is reported on
// stderr); 2 usage error, or the spine could not be read at all.
//
// Thread safety: one call at a time (CLI parsing, stdout).
#pragma once

#include <ostream>

namespace razar::replay {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDamaged = 1;
inline constexpr int kExitUsage = 2;

// Runs the tool. Output goes to `out`, messages and the progress bar to
// `err` (the bar only when `err_is_tty`).
int ReplayToolMain(int argc, char** argv, std::ostream& out, std::ostream& err, bool err_is_tty);

}  // namespace razar::replay
