#include "orchestrator/os/proc_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace razar::orchestrator {

Result<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return Status::InvalidArgument("pid must be positive, got " + std::to_string(pid));
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ESRCH)
      return Status::NotFound("no process " + std::to_string(pid));
    return Status::FromErrno("open " + path, errno);
  }
  char buf[1024];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  const int read_err = errno;
  close(fd);
  if (n < 0) {
    if (read_err == ESRCH) return Status::NotFound("no process " + std::to_string(pid));
    return Status::FromErrno("read " + path, read_err);
  }
  const std::string text(buf, static_cast<size_t>(n));
  // comm (field 2) is in parens and may itself contain ") ": the fields
  // after it start after the *last* ')'.
  const size_t close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return Status::Corruption(path + ": no ')'");
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  size_t pos = close_paren + 1;
  while (pos < text.size() && fields.size() < 20) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    const size_t end = text.find_first_of(" \n", pos);
    if (pos >= text.size()) break;
    fields.push_back(text.substr(pos, end == std::string::npos ? end : end - pos));
    pos = end == std::string::npos ? text.size() : end;
  }
  if (fields.size() < 20 || fields[0].size() != 1) return Status::Corruption(path + ": too short");
  ProcStat stat;
  stat.pid = pid;
  stat.state = fields[0][0];
  stat.ppid = static_cast<pid_t>(std::strtol(fields[1].c_str(), nullptr, 10));
  stat.pgrp = static_cast<pid_t>(std::strtol(fields[2].c_str(), nullptr, 10));
  stat.start_time = std::strtoull(fields[19].c_str(), nullptr, 10);
  return stat;
}

Result<uint64_t> ReadProcStartTime(pid_t pid) {
  RAZAR_ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid));
  return stat.start_time;
}


// Live (not zombie) processes whose process group is `pgid`.
std::vector<pid_t> LiveGroupMembers(pid_t pgid) {
  std::vector<pid_t> members;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return members;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    auto stat = ReadProcStat(static_cast<pid_t>(pid));
    if (stat.ok() && stat->pgrp == pgid && stat->state != 'Z' && stat->state != 'X') {
      members.push_back(static_cast<pid_t>(pid));
    }
  }
  closedir(dir);
  return members;
}

// A pipe for the child's stdout/stderr: our end non-blocking, the child's
// end opened read-write through /proc so that the child holds a reader
}  // namespace razar::orchestrator
