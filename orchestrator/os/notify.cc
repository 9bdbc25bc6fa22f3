#include "orchestrator/os/notify.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstring>

namespace razar::orchestrator {
namespace {

// Room for the credentials plus a few passed descriptors (which we close);
// descriptors beyond this are discarded (closed) by the kernel (MSG_CTRUNC).
constexpr size_t kMaxPassedFds = 16;

int64_t MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above
// U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool IsValidKey(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A decimal integer in [min, max], or false.
bool ParseInt(const std::string& text, long long min, long long max, long long* out) {
  if (text.empty() || text.size() > 19) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

// Fills addr/len for `path`; "@name" is abstract (leading NUL, no
// terminator counted).
Status MakeAddress(const std::string& path, sockaddr_un* addr, socklen_t* len) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  const bool abstract = path[0] == '@';
  // Filesystem paths need room for the terminating NUL.
  if (path.size() + (abstract ? 0 : 1) > sizeof(addr->sun_path)) {
    return Status::InvalidArgument("notify socket path too long (" + std::to_string(path.size()) +
                                   " bytes, at most " + std::to_string(sizeof(addr->sun_path) - 1) +
                                   "): " + path);
  }
  std::memcpy(addr->sun_path, path.data(), path.size());
  if (abstract) addr->sun_path[0] = '\0';
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return Status::Ok();
}

// Removes a stale socket file left by an earlier RAZAR; refuses to remove
// anything that is not a socket.
Status RemoveStaleSocket(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("lstat " + path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Status::InvalidArgument("notify socket path exists and is not a socket: " + path);
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("unlink " + path, errno);
  }
  return Status::Ok();
}

}  // namespace

const std::string* NotifyMessage::Find(std::string_view key) const {
  for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

bool NotifyMessage::Is(std::string_view key, std::string_view value) const {
  const std::string* v = Find(key);
  return v != nullptr && *v == value;
}

Result<NotifyParse> ParseNotifyDatagram(std::string_view data) {
  if (data.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("datagram contains a NUL byte");
  }
  if (!IsValidUtf8(data)) return Status::InvalidArgument("datagram is not valid UTF-8");
  NotifyParse parse;
  size_t start = 0;
  while (start <= data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string_view::npos) end = data.size();
    const std::string_view line = data.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    std::string why;
    if (eq == std::string_view::npos) {
      why = "line without '='";
    } else if (!IsValidKey(line.substr(0, eq))) {
      why = "bad key";
    }
    if (!why.empty()) {
      if (parse.skipped_lines++ == 0) {
        parse.skip_reason = why + ": \"" + std::string(line.substr(0, 64)) + "\"";
      }
      continue;
    }
    parse.fields.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  return parse;
}

Result<std::unique_ptr<NotifySocket>> NotifySocket::Bind(const std::string& path, Clock* clock,
                                                         size_t max_datagram_bytes) {
  if (path.empty() || path == "@") return Status::InvalidArgument("empty notify socket path");
  sockaddr_un addr{};
  socklen_t addr_len = 0;
  RAZAR_RETURN_IF_ERROR(MakeAddress(path, &addr, &addr_len));
  const bool abstract = path[0] == '@';
  if (!abstract) RAZAR_RETURN_IF_ERROR(RemoveStaleSocket(path));

  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::FromErrno("socket(AF_UNIX, SOCK_DGRAM)", errno);
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("setsockopt(SO_PASSCRED)", err);
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("bind " + path, err);
  }
  return std::unique_ptr<NotifySocket>(
      new NotifySocket(fd, path, abstract, clock, max_datagram_bytes));
}

NotifySocket::NotifySocket(int fd, std::string path, bool abstract, Clock* clock,
                           size_t max_datagram_bytes)
    : fd_(fd),
      path_(std::move(path)),
      abstract_(abstract),
      clock_(clock),
      max_datagram_bytes_(max_datagram_bytes) {}

NotifySocket::~NotifySocket() {
  close(fd_);
  if (!abstract_) unlink(path_.c_str());
}

Result<std::vector<NotifyMessage>> NotifySocket::Receive(int64_t timeout_ms) {
  const int64_t deadline = MonotonicMs() + std::max<int64_t>(timeout_ms, 0);
  std::vector<NotifyMessage> out;
  std::unique_lock<std::mutex> lock(mu_);
  while (reader_active_) {
    if (timeout_ms < 0) {
      cv_.wait(lock);
    } else if (cv_.wait_for(lock, std::chrono::milliseconds(deadline - MonotonicMs())) ==
                   std::cv_status::timeout &&
               reader_active_) {
      return out;
    }
  }
  reader_active_ = true;
  lock.unlock();
  const Status status =
      PollAndDrain(timeout_ms < 0 ? -1 : std::max<int64_t>(deadline - MonotonicMs(), 0), &out);
  lock.lock();
  reader_active_ = false;
  cv_.notify_all();
  if (!status.ok()) return status;
  return out;
}

bool NotifySocket::WaitFor(const std::function<bool(const NotifyState&)>& done,
                           int64_t timeout_ms) {
  const int64_t deadline = MonotonicMs() + std::max<int64_t>(timeout_ms, 0);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (done(state_)) return true;
    const int64_t remaining = timeout_ms < 0 ? -1 : deadline - MonotonicMs();
    if (timeout_ms >= 0 && remaining <= 0) return false;
    if (reader_active_) {
      // Another caller is reading; it notifies cv_ after every datagram.
      if (remaining < 0) {
        cv_.wait(lock);
      } else {
        cv_.wait_for(lock, std::chrono::milliseconds(remaining));
      }
      continue;
    }
    reader_active_ = true;
    lock.unlock();
    std::vector<NotifyMessage> unused;
    const Status status = PollAndDrain(remaining, &unused);
    lock.lock();
    reader_active_ = false;
    cv_.notify_all();
    if (!status.ok()) return done(state_);  // broken socket: do not spin
  }
}

Status NotifySocket::PollAndDrain(int64_t timeout_ms, std::vector<NotifyMessage>* out) {
  const int64_t deadline = MonotonicMs() + std::max<int64_t>(timeout_ms, 0);
  while (true) {
    pollfd pfd{fd_, POLLIN, 0};
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      wait_ms = static_cast<int>(std::clamp<int64_t>(deadline - MonotonicMs(), 0, INT_MAX));
    }
    const int n = poll(&pfd, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("poll notify socket", errno);
    if (n == 0) return Status::Ok();
    break;
  }
  while (true) {
    RAZAR_ASSIGN_OR_RETURN(bool got_one, ReadOne(out));
    if (!got_one) return Status::Ok();
  }
}

Result<bool> NotifySocket::ReadOne(std::vector<NotifyMessage>* out) {
  // One byte more than the limit, plus MSG_TRUNC (which makes recvmsg
  // return the real length), tells an oversized datagram from a full one.
  uint64_t epoch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    epoch = epoch_;
  }
  std::string buf(max_datagram_bytes_ + 1, '\0');
  iovec iov{buf.data(), buf.size()};
  alignas(
      cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    return Status::FromErrno("recvmsg notify socket", errno);
  }

  NotifyMessage message;
  message.received_ns = clock_->NowNs();
  bool passed_fds = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      message.sender_pid = cred.pid;
      message.sender_uid = cred.uid;
      message.sender_gid = cred.gid;
    } else if (c->cmsg_type == SCM_RIGHTS) {
      // We keep no descriptors (no FDSTORE): close what was passed.
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int passed;
        std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
        close(passed);
      }
      passed_fds = true;
    }
  }
  const std::string_view payload(buf.data(), std::min(static_cast<size_t>(n), max_datagram_bytes_));
  // sd_notify_barrier() (systemd-notify does one after every message)
  // passes a pipe end and waits for us to close it, which we just did:
  // everything sent before it has been folded in.
  const bool barrier = payload == "BARRIER=1" || payload == "BARRIER=1\n";
  if ((passed_fds && !barrier) || (msg.msg_flags & MSG_CTRUNC) != 0) {
    CountError("file descriptors passed on the notify socket were closed (no FDSTORE)");
  }
  if (static_cast<size_t>(n) > max_datagram_bytes_) {
    CountError("datagram of " + std::to_string(n) + " bytes exceeds " +
               std::to_string(max_datagram_bytes_));
    return true;
  }
  if (n == 0) {
    CountError("empty datagram");
    return true;
  }
  auto parse = ParseNotifyDatagram(payload);
  if (!parse.ok()) {
    CountError(parse.status().message());
    return true;
  }
  message.fields = std::move(parse->fields);
  std::lock_guard<std::mutex> lock(mu_);
  if (epoch != epoch_) return true;  // read before a ResetState: the old incarnation's
  if (parse->skipped_lines > 0) {
    state_.errors += parse->skipped_lines;
    state_.last_error = parse->skip_reason;
  }
  Apply(message);
  cv_.notify_all();
  out->push_back(std::move(message));
  return true;
}

void NotifySocket::Apply(const NotifyMessage& message) {
  ++state_.messages;
  state_.last_message_ns = message.received_ns;
  for (const auto& [key, value] : message.fields) {
    long long number = 0;
    if (key == "READY" && value == "1") {
      if (!state_.ready) state_.ready_pid = message.sender_pid;
      state_.ready = true;
      state_.reloading = false;
    } else if (key == "STOPPING" && value == "1") {
      state_.stopping = true;
    } else if (key == "RELOADING" && value == "1") {
      state_.reloading = true;
    } else if (key == "STATUS") {
      state_.status = value;
    } else if (key == "WATCHDOG" && value == "1") {
      state_.last_watchdog_ns = message.received_ns;
    } else if (key == "BARRIER" && value == "1") {
      ++state_.barriers;
    } else if (key == "WATCHDOG" && value == "trigger") {
      state_.watchdog_trigger = true;
    } else if (key == "MAINPID") {
      if (ParseInt(value, 1, INT_MAX, &number)) {
        state_.main_pid = static_cast<pid_t>(number);
      } else {
        ++state_.errors;
        state_.last_error = "bad MAINPID=" + value.substr(0, 32);
      }
    } else if (key == "ERRNO") {
      if (ParseInt(value, 0, INT_MAX, &number)) {
        state_.errno_value = static_cast<int>(number);
      } else {
        ++state_.errors;
        state_.last_error = "bad ERRNO=" + value.substr(0, 32);
      }
    }
    // Other keys (RAZAR extensions, EXTEND_TIMEOUT_USEC, ...) are left to
    // the callers of Receive.
  }
}

void NotifySocket::CountError(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  ++state_.errors;
  state_.last_error = why;
  cv_.notify_all();
}

NotifyState NotifySocket::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void NotifySocket::ResetState() {
  std::lock_guard<std::mutex> lock(mu_);
  // Discard what the old incarnation queued; a datagram a concurrent
  // reader has already taken is dropped by the epoch check in ReadOne.
  ++epoch_;
  char byte;
  while (recv(fd_, &byte, 1, MSG_DONTWAIT | MSG_TRUNC) >= 0 || errno == EINTR) {
  }
  NotifyState fresh;
  fresh.messages = state_.messages;
  fresh.errors = state_.errors;
  fresh.barriers = state_.barriers;
  state_ = fresh;
}

}  // namespace razar::orchestrator
