// ForwardingEnv: an Env that hands every call to another one. Test Envs
// derive from it and override only what they change (a ring that reverses
// completions, a file that fails to open, the faults of FaultInjectionEnv).
//
// Thread safety: as the base Env (Env::Default() is safe from any thread).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/env.h"

namespace razar::storage {

class ForwardingEnv : public Env {
 public:
  // `base` is borrowed and must outlive this Env. nullptr: Env::Default().
  explicit ForwardingEnv(Env* base = nullptr) : base_(base != nullptr ? base : Env::Default()) {}

  Env* base() const { return base_; }

  Result<int> Open(const std::string& path, int flags, int mode) override {
    return base_->Open(path, flags, mode);
  }
  Status Close(int fd) override { return base_->Close(fd); }
  Result<size_t> PRead(int fd, void* buf, size_t n, uint64_t offset) override {
    return base_->PRead(fd, buf, n, offset);
  }
  Status PWrite(int fd, const void* buf, size_t n, uint64_t offset) override {
    return base_->PWrite(fd, buf, n, offset);
  }
  Status Fdatasync(int fd) override { return base_->Fdatasync(fd); }
  Result<uint64_t> FileSize(int fd) override { return base_->FileSize(fd); }
  Status Truncate(const std::string& path, uint64_t size) override {
    return base_->Truncate(path, size);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return base_->Rename(from, to);
  }
  Status Remove(const std::string& path) override { return base_->Remove(path); }
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Status SyncDir(const std::string& path) override { return base_->SyncDir(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_->ListDir(path);
  }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Result<std::unique_ptr<Ring>> NewRing(unsigned entries) override {
    return base_->NewRing(entries);
  }
  int64_t NowUnixNanos() override { return base_->NowUnixNanos(); }
  uint64_t MonotonicNanos() override { return base_->MonotonicNanos(); }
  void SleepForMicros(uint64_t micros) override { base_->SleepForMicros(micros); }

 private:
  Env* const base_;
};

}  // namespace razar::storage
