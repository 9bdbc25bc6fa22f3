// RotatingLog: a component's captured output, rotated by size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "storage/status.h"

namespace razar::orchestrator {

// Size-rotated append-only log file.
//
// Append never splits a line across files when the line fits in one file:
// a chunk that would cross max_bytes is cut after its last newline that
// fits, the file is rotated, and the rest goes to the new file. A line
// longer than max_bytes is split. Files never exceed max_bytes.
//
// Thread safety: not thread-safe (owned by one pump thread).
class RotatingLog {
 public:
  // Opens (creating, 0644) `path` for append; its current size counts
  // toward max_bytes. max_bytes == 0 disables rotation; keep_files == 0
  // truncates instead of keeping old files.
  static Result<std::unique_ptr<RotatingLog>> Open(const std::string& path, uint64_t max_bytes,
                                                   uint32_t keep_files);
  ~RotatingLog();
  RotatingLog(const RotatingLog&) = delete;
  RotatingLog& operator=(const RotatingLog&) = delete;

  // Appends all of `data`. On a rotation failure the data still goes to the
  // current file (better an oversized file than lost lines) and the error
  // is returned. On a write failure the bytes not written are lost and the
  // error is returned; the next Append tries again.
  Status Append(std::string_view data);

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Bytes lost to write errors since Open.
  uint64_t bytes_dropped() const { return bytes_dropped_; }

 private:
  RotatingLog(std::string path, uint64_t max_bytes, uint32_t keep_files, int fd, uint64_t size);
  Status Rotate();
  Status Write(std::string_view data);

  std::string path_;
  uint64_t max_bytes_;
  uint32_t keep_files_;
  int fd_;  // -1 after a failed reopen; Write retries the open
  uint64_t size_;
  uint64_t bytes_dropped_ = 0;
};

}  // namespace razar::orchestrator
