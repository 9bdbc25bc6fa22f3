// Small file primitives every runtime-file writer shares: atomic replace
// and a bounded whole-file read, both through the storage Env seam so that
// tests can inject faults. Directory creation is Env::CreateDirs (one way,
// everywhere).
//
// Thread safety: free functions; see REQUIRES on each.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "storage/env.h"
#include "storage/status.h"

namespace razar::orchestrator {

// The directory part of `path` ("." for a bare name, "/" for "/x").
std::string ParentDir(const std::string& path);

// Replaces `path` with `contents` atomically: `<path>.tmp` in the same
// directory, fdatasync (covers the data and the file size), rename, fsync of
// the directory. The directory must exist. On failure `path` is unchanged.
// `env` may be null (Env::Default()).
// REQUIRES: no concurrent writer of the same path (the temp name is fixed so
// a crash leaves at most one stale temp file, overwritten next time).
Status WriteFileAtomically(storage::Env* env, const std::string& path, std::string_view contents);
// The whole file. NotFound if it does not exist; Corruption if it is larger
// than `max_bytes` (runtime files are small; this bounds a runaway file);
// IoError naming the path otherwise (e.g. it is a directory). `env` may be
// null (Env::Default()).
Result<std::string> ReadWholeFile(storage::Env* env, const std::string& path,
                                  size_t max_bytes = 64 << 20);

// Appends `text` to an O_APPEND descriptor as ONE write(2), so that lines
// from other threads or processes appending to the same file never
// interleave. A short write on a regular file means the disk is full: the
// tail is not written separately (it would interleave) and IoError(ENOSPC)
// names `path`. EINTR is retried.
Status AppendWhole(int fd, std::string_view text, const std::string& path);

}  // namespace razar::orchestrator
