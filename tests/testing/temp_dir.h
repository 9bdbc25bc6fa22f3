// TempDir: a fresh directory under /tmp for one test, removed with
// everything in it when the object goes away. The canonical include for it
// is "testing/temp_dir.h" (tests/storage/test_util.h forwards here for the
// tests that still include it by its old name).
//
// Test support (razar_testing, GoogleTest-based): a mkdtemp failure is a
// test failure (ADD_FAILURE), and path() is then empty.
//
// Thread safety: a TempDir is used by one thread; distinct ones are
// independent.
#pragma once

#include <string>

namespace razar::storage::testing {

class TempDir {
 public:
  // Creates /tmp/<tag>-XXXXXX.
  explicit TempDir(const char* tag = "razar-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace razar::storage::testing
