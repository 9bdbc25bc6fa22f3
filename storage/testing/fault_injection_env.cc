#include "storage/testing/fault_injection_env.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <deque>

namespace razar::storage {

namespace {

// The Ring of FaultInjectionEnv: operations wait in a queue until Submit()
// and then run synchronously, in submission order, through the Env's fault
// logic. Running them in order is one legal io_uring schedule; callers that
// are correct for any completion order are correct for this one.
class FaultRing final : public Ring {
 public:
  FaultRing(FaultInjectionEnv* env, unsigned entries) : env_(env), entries_(entries) {}

  Status RegisterBuffers(const iovec* iovs, unsigned count) override {
    // The kernel refuses a second registration (EBUSY); so do we, so that a
    // writer that only works here does not slip through.
    if (registered_) return Status::FromErrno("register buffers", EBUSY);
    registered_ = true;
    buffers_.assign(iovs, iovs + count);
    return Status::Ok();
  }

  void QueueWrite(int fd, const void* data, uint32_t len, uint64_t offset, int buf_index,
                  uint64_t user_data, bool link_next) override {
    queued_.push_back(Op{Kind::kWrite, fd, data, len, offset, buf_index, user_data, link_next});
  }

  void QueueFdatasync(int fd, uint64_t user_data) override {
    queued_.push_back(Op{Kind::kSync, fd, nullptr, 0, 0, -1, user_data, false});
  }

  Status Submit() override {
    // A link chain never spans two submissions (io_uring_enter(2)).
    bool cancel = false;
    for (const Op& op : queued_) {
      int64_t res;
      if (cancel) {
        res = -ECANCELED;
      } else if (op.kind == Kind::kSync) {
        res = env_->RingSync(op.fd);
      } else if (!FixedBufferOk(op)) {
        res = -EFAULT;  // what the kernel returns for a bad fixed buffer
      } else {
        res = env_->RingWrite(op.fd, op.data, op.len, op.offset);
      }
      // A failed or short linked write breaks the chain: everything after it
      // in the chain is cancelled, not just the next operation.
      bool failed = res < 0 || (op.kind == Kind::kWrite && res != static_cast<int64_t>(op.len));
      cancel = op.link_next && (cancel || failed);
      completions_.push_back(Completion{op.user_data, static_cast<int32_t>(res)});
    }
    queued_.clear();
    return Status::Ok();
  }

  Status WaitCompletion(Completion* out) override {
    // Everything submitted has already completed, so an empty queue means
    // the caller waits for nothing: a real ring would block forever.
    if (completions_.empty()) {
      return Status::InvalidArgument("WaitCompletion with no submitted operation in flight");
    }
    *out = completions_.front();
    completions_.pop_front();
    return Status::Ok();
  }

  unsigned capacity() const override { return entries_; }

 private:
  enum class Kind { kWrite, kSync };
  struct Op {
    Kind kind;
    int fd;
    const void* data;
    uint32_t len;
    uint64_t offset;
    int buf_index;
    uint64_t user_data;
    bool link_next;
  };

  // A fixed write must name a registered buffer and stay inside it.
  bool FixedBufferOk(const Op& op) const {
    if (op.buf_index < 0) return true;
    if (static_cast<size_t>(op.buf_index) >= buffers_.size()) return false;
    const iovec& iov = buffers_[static_cast<size_t>(op.buf_index)];
    auto begin = reinterpret_cast<uintptr_t>(iov.iov_base);
    auto p = reinterpret_cast<uintptr_t>(op.data);
    return p >= begin && p + op.len <= begin + iov.iov_len;
  }

  FaultInjectionEnv* env_;  // borrowed; outlives the ring (it created it)
  unsigned entries_;
  bool registered_ = false;
  std::vector<iovec> buffers_;
  std::vector<Op> queued_;
  std::deque<Completion> completions_;
};

int ErrnoOf(const Status& s) { return s.err() != 0 ? s.err() : EIO; }

// Reads the n bytes at offset that a write is about to replace.
Status ReadOldBytes(Env* base, int fd, const std::string& path, uint8_t* out, uint64_t n,
                    uint64_t offset) {
  Result<size_t> got = base->PRead(fd, out, n, offset);
  if (!got.ok()) {
    // The writer's descriptor may be write-only or O_DIRECT (alignment
    // rules); read through a plain one instead.
    RAZAR_ASSIGN_OR_RETURN(int rfd, base->Open(path, O_RDONLY, 0));
    ScopedFd closer(base, rfd);
    got = base->PRead(rfd, out, n, offset);
    if (!got.ok()) return got.status();
  }
  if (*got != n) return Status::IoError("short read of bytes about to be overwritten", EIO);
  return Status::Ok();
}

// Injected short and torn writes cut a write at an arbitrary byte, which an
// O_DIRECT descriptor refuses (EINVAL); a real disk would still have kept
// that prefix, so it goes through a buffered descriptor instead. A write the
// caller misaligned by itself is masked here too, but fails under
// Env::Default(), which the writer's own tests run against.
Status WriteAnyAlignment(Env* base, int fd, const std::string* path, const void* data, size_t n,
                         uint64_t offset) {
  Status s = base->PWrite(fd, data, n, offset);
  if (s.ok() || s.err() != EINVAL || path == nullptr) return s;
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_DIRECT) == 0) return s;
  RAZAR_ASSIGN_OR_RETURN(int wfd, base->Open(*path, O_WRONLY, 0));
  ScopedFd closer(base, wfd);
  return base->PWrite(wfd, data, n, offset);
}

}  // namespace

FaultInjectionEnv::FaultInjectionEnv(Env* base) : ForwardingEnv(base), base_(this->base()) {}

FaultInjectionEnv::~FaultInjectionEnv() = default;

// ---- Fault control ----

void FaultInjectionEnv::FailOp(Op op, uint64_t nth, int err, bool persistent) {
  std::lock_guard<std::mutex> lock(mu_);
  Armed& a = op == Op::kWrite ? write_fault_ : sync_fault_;
  a = Armed{};
  a.nth = nth;
  a.err = err > 0 ? err : (err < 0 ? -err : EIO);
  a.persistent = persistent;
}

void FaultInjectionEnv::ShortWriteOn(uint64_t nth) {
  std::lock_guard<std::mutex> lock(mu_);
  // Stored as absolute ring-write ordinals, so "from now" holds whatever
  // was armed earlier.
  if (nth > 0) short_writes_.push_back(ring_writes_seen_ + nth);
}

void FaultInjectionEnv::EagainOn(uint64_t nth) {
  std::lock_guard<std::mutex> lock(mu_);
  if (nth > 0) eagain_writes_.push_back(ring_writes_seen_ + nth);
}

void FaultInjectionEnv::TearAfterBytes(uint64_t byte_budget) {
  std::lock_guard<std::mutex> lock(mu_);
  tear_armed_ = true;
  tear_budget_ = byte_budget;
}

void FaultInjectionEnv::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  write_fault_ = Armed{};
  sync_fault_ = Armed{};
  short_writes_.clear();
  eagain_writes_.clear();
  tear_armed_ = false;
  tear_budget_ = 0;
  dead_ = false;
}

Status FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  Status first_error;
  for (auto& entry : files_) {
    // Plain references, not a structured binding: lambdas may not capture
    // those before clang 16, and clang-tidy should parse this file.
    const std::string& path = entry.first;
    FileState& state = entry.second;
    if (state.unsynced.empty()) continue;
    Status s = [&]() -> Status {
      // A fresh descriptor: the writer's own may be closed, O_DIRECT or
      // O_APPEND, none of which suits putting old bytes back.
      RAZAR_ASSIGN_OR_RETURN(int fd, base_->Open(path, O_WRONLY, 0644));
      ScopedFd closer(base_, fd);
      // Newest first: each undo sees the file exactly as its write left it.
      for (auto it = state.unsynced.rbegin(); it != state.unsynced.rend(); ++it) {
        if (!it->old_bytes.empty()) {
          RAZAR_RETURN_IF_ERROR(
              base_->PWrite(fd, it->old_bytes.data(), it->old_bytes.size(), it->offset));
        }
        RAZAR_ASSIGN_OR_RETURN(uint64_t size, base_->FileSize(fd));
        if (size > it->old_length) RAZAR_RETURN_IF_ERROR(base_->Truncate(path, it->old_length));
      }
      return Status::Ok();
    }();
    if (!s.ok() && first_error.ok()) first_error = s.WithContext("drop unsynced data of " + path);
    state.unsynced.clear();
  }
  return first_error;
}

void FaultInjectionEnv::MarkAllSynced() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, state] : files_) state.unsynced.clear();
}

uint64_t FaultInjectionEnv::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

uint64_t FaultInjectionEnv::syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return syncs_;
}

// ---- Fault logic ----

int FaultInjectionEnv::CheckFault(Op op) {
  Armed& a = op == Op::kWrite ? write_fault_ : sync_fault_;
  (op == Op::kWrite ? writes_ : syncs_)++;
  a.seen++;
  if (dead_) return -EIO;
  if (a.nth != 0 && (a.seen == a.nth || (a.persistent && a.seen > a.nth))) return -a.err;
  return 0;
}

int64_t FaultInjectionEnv::DoWrite(int fd, const void* data, size_t len, uint64_t offset) {
  size_t to_write = len;
  bool tear = false;
  if (tear_armed_) {
    if (len > tear_budget_) {
      to_write = static_cast<size_t>(tear_budget_);
      tear = true;
    }
    tear_budget_ -= to_write;
  }

  auto path_it = fd_paths_.find(fd);
  if (path_it != fd_paths_.end() && to_write > 0) {
    // Capture what the write is about to overwrite, so that a simulated
    // power loss can put it back. This happens before the write because a
    // failed write may still have changed some bytes; undoing an unchanged
    // range is harmless.
    Undo undo;
    undo.offset = offset;
    Result<uint64_t> size = base_->FileSize(fd);
    if (!size.ok()) return -ErrnoOf(size.status());
    undo.old_length = *size;
    if (offset < undo.old_length) {
      uint64_t n = std::min<uint64_t>(to_write, undo.old_length - offset);
      undo.old_bytes.resize(n);
      Status rs = ReadOldBytes(base_, fd, path_it->second, undo.old_bytes.data(), n, offset);
      if (!rs.ok()) return -ErrnoOf(rs);
    }
    FileState& state = files_[path_it->second];
    state.path = path_it->second;
    state.unsynced.push_back(std::move(undo));
  }

  if (to_write > 0) {
    const std::string* path = path_it != fd_paths_.end() ? &path_it->second : nullptr;
    Status s = WriteAnyAlignment(base_, fd, path, data, to_write, offset);
    if (!s.ok()) return -ErrnoOf(s);
  }
  if (tear) {
    tear_armed_ = false;
    dead_ = true;
    return -EIO;
  }
  return static_cast<int64_t>(to_write);
}

int64_t FaultInjectionEnv::DoSync(int fd) {
  Status s = base_->Fdatasync(fd);
  if (!s.ok()) return -ErrnoOf(s);
  auto path_it = fd_paths_.find(fd);
  if (path_it != fd_paths_.end()) {
    auto file_it = files_.find(path_it->second);
    if (file_it != files_.end()) file_it->second.unsynced.clear();
  }
  return 0;
}

int64_t FaultInjectionEnv::RingWrite(int fd, const void* data, uint32_t len, uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t ordinal = ++ring_writes_seen_;
  int rc = CheckFault(Op::kWrite);
  if (rc < 0) return rc;
  auto take = [ordinal](std::vector<uint64_t>* ordinals) {
    auto it = std::find(ordinals->begin(), ordinals->end(), ordinal);
    if (it == ordinals->end()) return false;
    ordinals->erase(it);
    return true;
  };
  if (take(&eagain_writes_)) return -EAGAIN;
  uint32_t n = len;
  if (take(&short_writes_)) n = len / 2;  // < len for every len >= 1
  return DoWrite(fd, data, n, offset);
}

int64_t FaultInjectionEnv::RingSync(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  int rc = CheckFault(Op::kSync);
  if (rc < 0) return rc;
  return DoSync(fd);
}

// ---- Env: files ----

Result<int> FaultInjectionEnv::Open(const std::string& path, int flags, int mode) {
  Result<int> fd = base_->Open(path, flags, mode);
  if (fd.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    fd_paths_[*fd] = path;
  }
  return fd;
}

Status FaultInjectionEnv::Close(int fd) {
  {
    // Unsynced writes stay tracked by path: closing does not make them
    // durable.
    std::lock_guard<std::mutex> lock(mu_);
    fd_paths_.erase(fd);
  }
  return base_->Close(fd);
}

Status FaultInjectionEnv::PWrite(int fd, const void* buf, size_t n, uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  int rc = CheckFault(Op::kWrite);
  if (rc < 0) return Status::FromErrno("pwrite (fault injection)", -rc);
  int64_t res = DoWrite(fd, buf, n, offset);
  if (res < 0) return Status::FromErrno("pwrite (fault injection)", static_cast<int>(-res));
  return Status::Ok();
}

Status FaultInjectionEnv::Fdatasync(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  int rc = CheckFault(Op::kSync);
  if (rc < 0) return Status::FromErrno("fdatasync (fault injection)", -rc);
  int64_t res = DoSync(fd);
  if (res < 0) return Status::FromErrno("fdatasync", static_cast<int>(-res));
  return Status::Ok();
}

Status FaultInjectionEnv::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  RAZAR_RETURN_IF_ERROR(base_->Rename(from, to));
  // Whatever was at `to` is gone; its undo records would corrupt the file
  // that replaced it.
  files_.erase(to);
  auto node = files_.extract(from);
  if (!node.empty()) {
    node.key() = to;
    node.mapped().path = to;
    files_.insert(std::move(node));
  }
  for (auto& [fd, path] : fd_paths_) {
    if (path == from) path = to;
  }
  return Status::Ok();
}

Status FaultInjectionEnv::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  RAZAR_RETURN_IF_ERROR(base_->Remove(path));
  // A removed file has nothing left to restore, and a new file created
  // under the same name must not inherit its undo records.
  files_.erase(path);
  for (auto it = fd_paths_.begin(); it != fd_paths_.end();) {
    it = it->second == path ? fd_paths_.erase(it) : std::next(it);
  }
  return Status::Ok();
}

// ---- Env: ring ----

Result<std::unique_ptr<Ring>> FaultInjectionEnv::NewRing(unsigned entries) {
  if (entries == 0) return Status::InvalidArgument("ring needs at least one entry");
  return std::unique_ptr<Ring>(new FaultRing(this, entries));
}

}  // namespace razar::storage
