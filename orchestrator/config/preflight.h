// Preflight: what `razar check` can see about a valid config before
// anything is launched — problems that are not errors of the config itself
// but would fail (or weaken) the boot on this machine.
//
// Thread safety: reads the file system and the environment (PATH); safe
// from any thread.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/config/spec.h"

namespace razar::orchestrator {

// One line per problem, naming file, component and key:
//  - a command (or command probe) whose program is not an executable file,
//    looked up in PATH (the component's env PATH, else RAZAR's) as exec does;
//  - a `cwd` or `source_dir` that is not a directory;
//  - an HTTP bind beyond loopback served without a token (opted out).
// Empty when none.
std::vector<std::string> PreflightWarnings(const BootConfig& config);

}  // namespace razar::orchestrator
