#include "orchestrator/config/preflight.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "orchestrator/config/address.h"
#include "orchestrator/config/reader.h"  // Quote

namespace razar::orchestrator {
namespace {

using config_internal::Quote;

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Where exec would find `program`, or "" (execvp's search: a name with a
// '/' is taken as it is, relative to the component's cwd).
std::string Resolve(const std::string& program, const ComponentSpec& c) {
  if (program.find('/') != std::string::npos) {
    const std::string path = program.front() == '/' ? program : c.cwd + "/" + program;
    return IsExecutableFile(path) ? path : "";
  }
  auto it = c.env.find("PATH");
  const char* env_path = std::getenv("PATH");
  std::string search = it != c.env.end() ? it->second : env_path != nullptr ? env_path : "";
  if (search.empty()) search = "/bin:/usr/bin";
  size_t start = 0;
  while (true) {
    const size_t end = search.find(':', start);
    std::string dir = search.substr(start, end == std::string::npos ? end : end - start);
    if (dir.empty()) dir = c.cwd;
    const std::string path = dir + "/" + program;
    if (IsExecutableFile(path)) return path;
    if (end == std::string::npos) return "";
    start = end + 1;
  }
}

std::string Where(const BootConfig& config, const ComponentSpec& c, const std::string& key) {
  return config.path + ": component " + Quote(c.name) + ": key " + Quote(key) + ": ";
}

}  // namespace

std::vector<std::string> PreflightWarnings(const BootConfig& config) {
  std::vector<std::string> out;
  for (const ComponentSpec& c : config.components) {
    if (!c.cwd.empty() && !IsDirectory(c.cwd)) {
      out.push_back(Where(config, c, "cwd") + "directory " + Quote(c.cwd) +
                    " does not exist: the launch will fail");
    }
    if (!c.source_dir.empty() && !IsDirectory(c.source_dir)) {
      out.push_back(Where(config, c, "source_dir") + "directory " + Quote(c.source_dir) +
                    " does not exist");
    }
    if (!c.command.empty() && Resolve(c.command[0], c).empty()) {
      out.push_back(Where(config, c, "command") + "program " + Quote(c.command[0]) +
                    " is not an executable file here (searched PATH): the launch will fail");
    }
    if (c.probe.kind == ProbeKind::kCommand && !c.probe.command.empty() &&
        Resolve(c.probe.command[0], c).empty()) {
      out.push_back(Where(config, c, "probe.command") + "program " + Quote(c.probe.command[0]) +
                    " is not an executable file here (searched PATH): every probe will fail");
    }
  }
  const HttpSpec& h = config.http;
  if (h.port != 0 && !IsLoopbackAddress(h.bind) && h.token.empty()) {
    out.push_back(config.path + ": key \"http.bind\": " + Quote(h.bind) +
                  " serves /health, /status and /metrics to the network without a token "
                  "(allow_public_without_token is set)");
  }
  return out;
}

}  // namespace razar::orchestrator
