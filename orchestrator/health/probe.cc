#include "orchestrator/health/probe.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "orchestrator/os/process.h"

namespace razar::orchestrator {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kOutputTailBytes = 512;  // command output kept for the message
constexpr size_t kBodyPrefixBytes = 200;  // HTTP body kept for the message
constexpr int kMaxSameHostRedirects = 5;
constexpr int64_t kKillWaitMs = 5'000;  // after SIGKILL (only state D takes longer)

// Milliseconds left until `deadline`, rounded up (a poll never ends before
// the deadline) and clamped to [0, INT_MAX].
int RemainingMs(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

// Stamps the duration on a result.
ProbeResult Finish(SteadyClock::time_point start, bool healthy, std::string detail) {
  ProbeResult result;
  result.healthy = healthy;
  result.detail = std::move(detail);
  result.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return result;
}

// Output as one line for a message: newlines become " | ", trimmed.
std::string OneLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += " | ";
    } else if (c != '\r') {
      out += c;
    }
  }
  return out;
}

// ---- kCommand ----

// Keeps the last kOutputTailBytes of what is read from a non-blocking fd.
// Returns false at EOF (or error).
bool ReadTail(int fd, std::string* tail) {
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      tail->append(buf, static_cast<size_t>(n));
      if (tail->size() > kOutputTailBytes) tail->erase(0, tail->size() - kOutputTailBytes);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

std::string DescribeExit(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return "exit " + std::to_string(info.si_status);
  const char* abbrev = sigabbrev_np(info.si_status);
  return std::string("killed by SIG") +
         (abbrev != nullptr ? abbrev : std::to_string(info.si_status));
}

// ---- kHttp ----

void CurlGlobalInit() {
  static std::once_flag once;
  // curl_global_init is not thread-safe before 7.84; call it exactly once.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t KeepBodyPrefix(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * nmemb;
  if (body->size() < kBodyPrefixBytes)
    body->append(data, std::min(n, kBodyPrefixBytes - body->size()));
  return n;  // consume everything; only the prefix is kept
}

// "scheme://host:port" of a URL (default port filled in), or "" if unparsable.
std::string Origin(const std::string& url) {
  CURLU* u = curl_url();
  if (u == nullptr) return {};
  std::string origin;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
      origin = std::string(scheme) + "://" + host + ":" + port;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return origin;
}

struct HttpOutcome {
  CURLcode code = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string redirect_url;
  std::string body_prefix;
};

HttpOutcome HttpGet(const std::string& url, int timeout_ms) {
  HttpOutcome out;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    out.code = CURLE_FAILED_INIT;
    return out;
  }
  char error[CURL_ERROR_SIZE] = {0};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM-based DNS timeouts in a threaded process
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max(timeout_ms, 1)));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::max(timeout_ms, 1)));
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // redirects are vetted by the caller
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_PROXY, "");  // a probe measures the component, not a proxy
  curl_easy_setopt(h, CURLOPT_USERAGENT, "razar-probe");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &KeepBodyPrefix);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out.body_prefix);
  out.code = curl_easy_perform(h);
  if (out.code != CURLE_OK) {
    out.curl_error = error[0] != '\0' ? error : curl_easy_strerror(out.code);
    return out;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
  char* redirect = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect != nullptr) {
    out.redirect_url = redirect;
  }
  return out;
}

// ---- kTcp ----

struct Resolution {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu
  int rc = 0;
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
};

void Resolve(const std::string& host, uint16_t port, Resolution* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
  std::lock_guard<std::mutex> lock(out->mu);
  out->rc = rc;
  for (addrinfo* ai = rc == 0 ? list : nullptr; ai != nullptr; ai = ai->ai_next) {
    sockaddr_storage ss{};
    std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    out->addrs.push_back(ss);
    out->lens.push_back(ai->ai_addrlen);
  }
  if (list != nullptr) freeaddrinfo(list);
  out->done = true;
  out->cv.notify_all();
}

// getaddrinfo cannot be cancelled, so it runs on a detached thread that
// owns its share of the result; we stop waiting at the deadline.
std::shared_ptr<Resolution> ResolveBefore(const std::string& host, uint16_t port,
                                          SteadyClock::time_point deadline) {
  auto resolution = std::make_shared<Resolution>();
  try {
    std::thread([host, port, resolution] { Resolve(host, port, resolution.get()); }).detach();
  } catch (const std::system_error&) {
    Resolve(host, port, resolution.get());  // no thread to spare: resolve inline
  }
  std::unique_lock<std::mutex> lock(resolution->mu);
  resolution->cv.wait_until(lock, deadline, [&] { return resolution->done; });
  return resolution;
}

std::string AddressString(const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
}

// 0 on connection, else an errno (ETIMEDOUT when the deadline passed).
int ConnectBefore(const sockaddr_storage& addr, socklen_t len, SteadyClock::time_point deadline) {
  UniqueFd fd(socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno;
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0) return 0;
  if (errno != EINPROGRESS && errno != EINTR) return errno;
  while (true) {
    pollfd pfd{fd.get(), POLLOUT, 0};
    const int n = poll(&pfd, 1, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return ETIMEDOUT;
    int err = 0;
    socklen_t err_len = sizeof err;
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) return errno;
    return err;
  }
}

}  // namespace

ProbeContext ContextFor(const ComponentSpec& component, NotifySocket* notify) {
  ProbeContext context;
  context.env = component.env;
  context.cwd = component.cwd;
  context.notify = notify;
  return context;
}

ProbeResult RunProbe(const ProbeSpec& spec, const ProbeContext& context) {
  switch (spec.kind) {
    case ProbeKind::kNone:
      return Finish(SteadyClock::now(), true, "no probe");
    case ProbeKind::kCommand:
      return RunCommandProbe(spec.command, spec.timeout_ms, context.env, context.cwd);
    case ProbeKind::kHttp:
      return RunHttpProbe(spec.url, spec.timeout_ms);
    case ProbeKind::kTcp:
      return RunTcpProbe(spec.host, spec.port, spec.timeout_ms);
    case ProbeKind::kNotify:
      return RunNotifyProbe(context.notify, spec.timeout_ms);
  }
  return Finish(SteadyClock::now(), false, "unknown probe kind");
}

ProbeResult RunCommandProbe(const std::vector<std::string>& argv, uint32_t timeout_ms,
                            const std::map<std::string, std::string>& env, const std::string& cwd) {
  const auto start = SteadyClock::now();
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  if (argv.empty()) return Finish(start, false, "empty probe command");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return Finish(start, false, std::string("pipe2: ") + strerror(errno));
  UniqueFd out_read(fds[0]);
  UniqueFd out_write(fds[1]);
  fcntl(out_read.get(), F_SETFL, O_NONBLOCK);

  auto child = SpawnChild(ChildSpec{argv, BuildChildEnv(env, ""), cwd, out_write.get()});
  out_write.reset();  // EOF once the probe's group is gone
  if (!child.ok()) return Finish(start, false, "spawn: " + child.status().ToString());
  const int pidfd = child->pidfd.get();

  std::string tail;
  bool pipe_open = true;
  bool exited = false;
  while (!exited) {
    pollfd pfds[2] = {{pidfd, POLLIN, 0}, {pipe_open ? out_read.get() : -1, POLLIN, 0}};
    const int n = poll(pfds, 2, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // timed out
    if (pfds[1].revents != 0) pipe_open = ReadTail(out_read.get(), &tail);
    exited = pfds[0].revents != 0;
  }
  // The leader is unreaped, so its pid still pins the group id: killing
  // the group cannot hit anyone else. Leftovers die even after a clean exit.
  kill(-child->pid, SIGKILL);
  const bool reapable = exited || WaitPidfd(pidfd, kKillWaitMs);
  siginfo_t info{};
  if (reapable) {
    while (waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) != 0 && errno == EINTR) {
    }
  }
  if (pipe_open) ReadTail(out_read.get(), &tail);  // what was written before the end

  if (!exited) {
    std::string detail = "timed out after " + std::to_string(timeout_ms) + " ms (killed)";
    if (!tail.empty()) detail += ": " + OneLine(tail);
    return Finish(start, false, detail);
  }
  const bool healthy = info.si_code == CLD_EXITED && info.si_status == 0;
  std::string detail = DescribeExit(info);
  if (!healthy && !tail.empty()) detail += ": " + OneLine(tail);
  return Finish(start, healthy, detail);
}

ProbeResult RunHttpProbe(const std::string& url, uint32_t timeout_ms) {
  const auto start = SteadyClock::now();
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  CurlGlobalInit();
  const std::string origin = Origin(url);
  if (origin.empty()) return Finish(start, false, "bad URL: " + url);
  std::string current = url;
  for (int hop = 0;; ++hop) {
    const int left_ms = RemainingMs(deadline);
    if (left_ms <= 0)
      return Finish(start, false, "timed out after " + std::to_string(timeout_ms) + " ms");
    HttpOutcome outcome = HttpGet(current, left_ms);
    if (outcome.code != CURLE_OK) {
      return Finish(start, false,
                    "curl error " + std::to_string(outcome.code) + ": " + outcome.curl_error);
    }
    const std::string status = "HTTP " + std::to_string(outcome.status);
    if (outcome.status >= 200 && outcome.status < 300) return Finish(start, true, status);
    if (outcome.status >= 300 && outcome.status < 400 && !outcome.redirect_url.empty()) {
      if (Origin(outcome.redirect_url) != origin) {
        return Finish(start, false, status + ": redirect to another host: " + outcome.redirect_url);
      }
      if (hop >= kMaxSameHostRedirects)
        return Finish(start, false, status + ": too many redirects");
      current = outcome.redirect_url;
      continue;
    }
    std::string detail = status;
    if (!outcome.body_prefix.empty()) detail += ": " + OneLine(outcome.body_prefix);
    return Finish(start, false, detail);
  }
}

ProbeResult RunTcpProbe(const std::string& host, uint16_t port, uint32_t timeout_ms) {
  const auto start = SteadyClock::now();
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  const std::string target = host + ":" + std::to_string(port);
  if (host.empty() || port == 0) return Finish(start, false, "bad TCP target " + target);
  auto resolution = ResolveBefore(host, port, deadline);
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  {
    std::lock_guard<std::mutex> lock(resolution->mu);
    if (!resolution->done) {
      return Finish(start, false,
                    "resolving " + host + " timed out after " + std::to_string(timeout_ms) + " ms");
    }
    if (resolution->rc != 0) {
      return Finish(start, false, "resolve " + host + ": " + gai_strerror(resolution->rc));
    }
    addrs = resolution->addrs;
    lens = resolution->lens;
  }
  std::string errors;
  for (size_t i = 0; i < addrs.size(); ++i) {
    const int err = ConnectBefore(addrs[i], lens[i], deadline);
    if (err == 0) return Finish(start, true, "connected to " + AddressString(addrs[i]));
    if (!errors.empty()) errors += "; ";
    errors += "connect " + AddressString(addrs[i]) + ": " +
              (err == ETIMEDOUT ? "timed out after " + std::to_string(timeout_ms) + " ms"
                                : std::string(strerror(err)));
    if (RemainingMs(deadline) == 0) break;
  }
  if (errors.empty()) errors = "no address for " + target;
  return Finish(start, false, errors);
}

ProbeResult RunNotifyProbe(NotifySocket* notify, uint32_t timeout_ms) {
  const auto start = SteadyClock::now();
  if (notify == nullptr) return Finish(start, false, "no notify socket");
  const bool ready = notify->WaitReady(timeout_ms);
  const NotifyState state = notify->state();
  std::string detail;
  if (ready) {
    detail = "READY=1 from pid " + std::to_string(state.ready_pid);
  } else {
    detail = "no READY=1 on " + notify->path() + " within " + std::to_string(timeout_ms) + " ms";
  }
  if (!state.status.empty()) detail += " (STATUS=" + state.status + ")";
  return Finish(start, ready, detail);
}

ProbeTracker::ProbeTracker(uint32_t failure_threshold)
    : failure_threshold_(std::max<uint32_t>(failure_threshold, 1)) {}

ProbeTracker::Health ProbeTracker::Update(const ProbeResult& result) {
  if (result.healthy) {
    consecutive_failures_ = 0;
    health_ = Health::kHealthy;
  } else if (++consecutive_failures_ >= failure_threshold_) {
    health_ = Health::kUnhealthy;
  }
  return health_;
}

void ProbeTracker::Reset() {
  consecutive_failures_ = 0;
  health_ = Health::kUnknown;
}

const char* HealthName(ProbeTracker::Health health) {
  // In enum order.
  static constexpr const char* kNames[] = {"unknown", "healthy", "unhealthy"};
  const auto i = static_cast<size_t>(health);
  return i < std::size(kNames) ? kNames[i] : "?";
}

}  // namespace razar::orchestrator
