// /proc/<pid>/stat: which process a pid names, and since when.
//
// Thread safety: free functions, safe from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "storage/status.h"

namespace razar::orchestrator {


struct ProcStat {
  pid_t pid = 0;
  char state = '?';         // field 3: R, S, D, Z, T, ...
  pid_t ppid = 0;           // field 4
  pid_t pgrp = 0;           // field 5
  uint64_t start_time = 0;  // field 22: clock ticks after boot
};

// Parses /proc/<pid>/stat (the command name may contain spaces and parens).
// NotFound if there is no such process; Corruption if the file is malformed.
Result<ProcStat> ReadProcStat(pid_t pid);
// Field 22 of /proc/<pid>/stat: the process's start time in clock ticks
// after boot. Together with the pid it names one process for the life of
// the boot (a reused pid has a later start time). NotFound if gone.
Result<uint64_t> ReadProcStartTime(pid_t pid);

// Live (not zombie) processes whose process group is `pgid`.
std::vector<pid_t> LiveGroupMembers(pid_t pgid);

}  // namespace razar::orchestrator
