// Helpers shared by the benchmark files: where benchmarks write, fresh
// scratch directories, incompressible payloads, percentiles.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace razar::bench {

// $RAZAR_BENCH_DIR, default /tmp/razar-bench: put it on the disk to measure.
inline std::string BenchRoot() {
  const char* env = std::getenv("RAZAR_BENCH_DIR");
  return (env != nullptr && env[0] != '\0') ? env : "/tmp/razar-bench";
}

// Settles the file system's journal so the next benchmark starts on a quiet disk.
inline void SyncFs(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

// A fresh, empty directory under BenchRoot() for one run of one benchmark.
inline std::string FreshDir(const std::string& tag, std::string* error) {
  static std::atomic<uint64_t> seq{0};
  std::string path = BenchRoot() + "/" + tag + "-" + std::to_string(::getpid()) + "-" +
                     std::to_string(seq.fetch_add(1));
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  std::filesystem::create_directories(path, ec);
  if (ec) *error = "create " + path + ": " + ec.message();
  return path;
}

inline void RemoveDir(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);  // best effort: a leftover dir only costs space
  SyncFs(BenchRoot());
}

// FreshDir for a scope; removed by the destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) : path_(FreshDir(tag, &error_)) {}
  ~ScratchDir() { RemoveDir(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const char* name) const { return path_ + "/" + name; }
  const std::string& error() const { return error_; }  // empty when created

 private:
  std::string error_;
  std::string path_;
};

// Deterministic non-constant bytes: nothing on the path should compress them.
inline void FillPattern(uint8_t* p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = static_cast<uint8_t>(x >> 56);
  }
}

// Nearest-rank percentile of nanosecond samples, in microseconds. Reorders.
inline double PercentileUs(std::vector<int64_t>& ns, double p) {
  if (ns.empty()) return 0.0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(ns.size())));
  rank = std::clamp<size_t>(rank, 1, ns.size());
  std::nth_element(ns.begin(), ns.begin() + static_cast<ptrdiff_t>(rank - 1), ns.end());
  return static_cast<double>(ns[rank - 1]) / 1000.0;
}

}  // namespace razar::bench
