// The server side of systemd's sd_notify datagram protocol
// (sd_notify(3), "NOTIFY_SOCKET"), so that `systemd-notify` and libsystemd
// clients report readiness and heartbeats to RAZAR unchanged.
//
// One NotifySocket per component: an AF_UNIX SOCK_DGRAM socket at a
// filesystem path (e.g. <runtime dir>/notify/<name>.sock) or an abstract
// name ("@razar/<name>"); the component gets NOTIFY_SOCKET=<path> (see
// SpawnOptions::notify_socket). Each datagram is newline-separated
// KEY=VALUE assignments; the sender's pid comes from SCM_CREDENTIALS
// (SO_PASSCRED), which the kernel fills in whatever the sender sends.
//
// Robustness: a datagram larger than max_datagram_bytes, with a NUL byte,
// or not valid UTF-8 is dropped whole; a line without '=' or with a bad key
// is skipped. Both count in NotifyState::errors, never crash, never block
// the other lines. File descriptors passed along are closed: FDSTORE is
// not supported (counted as an error), and closing is exactly what
// BARRIER=1 (sd_notify_barrier, sent by systemd-notify after each message)
// waits for.
//
// Access control is the file system's: only processes that can write the
// socket file (umask-derived, normally the same user) can notify. Abstract
// names have no such check — any local process in the network namespace
// can send to them.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orchestrator/base/clock.h"
#include "storage/status.h"

namespace razar::orchestrator {

struct NotifyMessage {
  pid_t sender_pid = 0;  // from SCM_CREDENTIALS; 0 if the kernel sent none
  uid_t sender_uid = 0;
  gid_t sender_gid = 0;
  int64_t received_ns = 0;                                  // Clock::NowNs() when read
  std::vector<std::pair<std::string, std::string>> fields;  // in datagram order

  // The value of the last assignment to `key`, or null.
  const std::string* Find(std::string_view key) const;
  // Whether `key` was last assigned `value`.
  bool Is(std::string_view key, std::string_view value) const;
};

// What the messages received so far say, folded together.
struct NotifyState {
  bool ready = false;             // READY=1 seen (RELOADING=1 does not clear it)
  pid_t ready_pid = 0;            // sender of the first READY=1
  bool stopping = false;          // STOPPING=1
  bool reloading = false;         // RELOADING=1, until the next READY=1
  bool watchdog_trigger = false;  // WATCHDOG=trigger: the client asks to be treated as hung
  std::string status;             // last STATUS=
  pid_t main_pid = 0;             // last valid MAINPID=
  int errno_value = 0;            // last valid ERRNO=
  int64_t last_watchdog_ns = -1;  // Clock::NowNs() of the last WATCHDOG=1, -1: never
  int64_t last_message_ns = -1;   // Clock::NowNs() of the last accepted datagram
  uint64_t barriers = 0;          // BARRIER=1 datagrams answered
  uint64_t messages = 0;          // accepted datagrams
  uint64_t errors = 0;            // dropped datagrams + skipped lines
  std::string last_error;         // why the last one was dropped / skipped
};

// The parse of one datagram.
struct NotifyParse {
  std::vector<std::pair<std::string, std::string>> fields;
  uint32_t skipped_lines = 0;  // lines without '=' or with a bad key
  std::string skip_reason;     // for the first skipped line
};

// Parses one datagram's payload. InvalidArgument when the whole datagram
// must be dropped (NUL byte, invalid UTF-8). Empty lines are ignored;
// keys must match [A-Za-z0-9_]+ (systemd's are upper case).
Result<NotifyParse> ParseNotifyDatagram(std::string_view data);

// Thread safety: all methods are safe from any thread. Receive and WaitFor
// may run concurrently: one caller at a time reads the socket and the
// others wait for the state it updates.
class NotifySocket {
 public:
  static constexpr size_t kDefaultMaxDatagramBytes = 4096;  // systemd's NOTIFY_BUFFER_MAX

  // Binds `path`: a filesystem path (a stale socket file there is replaced;
  // any other kind of file is an error; the directory must exist) or
  // "@name" for the abstract namespace. `clock` is borrowed and must
  // outlive the socket. InvalidArgument for an empty or too long path
  // (sun_path holds 107 bytes), IoError from socket/bind.
  static Result<std::unique_ptr<NotifySocket>> Bind(
      const std::string& path, Clock* clock = Clock::Real(),
      size_t max_datagram_bytes = kDefaultMaxDatagramBytes);

  // Closes the socket and removes the socket file (filesystem paths).
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // The NOTIFY_SOCKET value for clients.
  const std::string& path() const { return path_; }
  // Readable when datagrams wait; for an external poll/epoll loop, which
  // then calls Receive(0).
  int fd() const { return fd_; }

  // Waits up to timeout_ms (-1: forever, 0: no wait) for datagrams, reads
  // all that are queued, folds them into state() and returns the accepted
  // ones read by this call (datagrams read by a concurrent WaitFor show up
  // only in state()). Returns an empty vector on timeout. IoError only for
  // a broken socket; bad datagrams are counted, not returned as errors.
  Result<std::vector<NotifyMessage>> Receive(int64_t timeout_ms);

  // Waits up to timeout_ms (-1: forever) until `done(state())` holds,
  // reading the socket meanwhile. Returns whether it holds.
  bool WaitFor(const std::function<bool(const NotifyState&)>& done, int64_t timeout_ms);
  bool WaitReady(int64_t timeout_ms) {
    return WaitFor([](const NotifyState& s) { return s.ready; }, timeout_ms);
  }

  NotifyState state() const;
  // Forgets what the previous incarnation said (READY, STOPPING, STATUS,
  // MAINPID, ERRNO, watchdog) before a restart; counters are kept.
  // Datagrams already queued are discarded too, so a late READY=1 from the
  // old process cannot mark the new one ready.
  void ResetState();

 private:
  NotifySocket(int fd, std::string path, bool abstract, Clock* clock, size_t max_datagram_bytes);
  // Waits up to timeout_ms for the socket, then reads until it is empty.
  // Called by the single active reader, without mu_ held.
  Status PollAndDrain(int64_t timeout_ms, std::vector<NotifyMessage>* out);
  // Reads one datagram. false when none is queued.
  Result<bool> ReadOne(std::vector<NotifyMessage>* out);
  void Apply(const NotifyMessage& message);  // REQUIRES: mu_ held
  void CountError(const std::string& why);   // takes mu_

  const int fd_;
  const std::string path_;
  const bool abstract_;
  Clock* const clock_;
  const size_t max_datagram_bytes_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // state changed or the reader role was freed
  NotifyState state_;           // guarded by mu_
  bool reader_active_ = false;  // guarded by mu_: someone is polling/reading fd_
  uint64_t epoch_ = 0;          // guarded by mu_: bumped by ResetState
};

}  // namespace razar::orchestrator
