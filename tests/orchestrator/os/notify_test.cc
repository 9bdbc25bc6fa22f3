#include "orchestrator/os/notify.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "orchestrator/child_test_util.h"
#include "orchestrator/os/process.h"

namespace razar::orchestrator {
namespace {

using testing::ChildProcessTest;

int CountOpenFds() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
  closedir(dir);
  return count;
}

// A raw sd_notify client: one datagram to `path` ("@x" = abstract), with
// an optional descriptor passed along.
bool SendDatagram(const std::string& path, std::string_view data, int pass_fd = -1) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  if (path[0] == '@') {
    addr.sun_path[0] = '\0';
  } else {
    ++len;
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_name = &addr;
  msg.msg_namelen = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  const bool ok = sendmsg(fd, &msg, 0) == static_cast<ssize_t>(data.size());
  close(fd);
  return ok;
}

// ---- Parsing ----

TEST(ParseNotifyDatagramTest, SplitsAssignmentsInOrder) {
  auto parse = ParseNotifyDatagram("READY=1\nSTATUS=listening on :80 = ok\n\nMAINPID=42");
  ASSERT_TRUE(parse.ok());
  ASSERT_EQ(parse->fields.size(), 3u);
  EXPECT_EQ(parse->fields[0], (std::pair<std::string, std::string>{"READY", "1"}));
  EXPECT_EQ(parse->fields[1].second, "listening on :80 = ok");  // first '=' splits
  EXPECT_EQ(parse->fields[2].first, "MAINPID");
  EXPECT_EQ(parse->skipped_lines, 0u);
}

TEST(ParseNotifyDatagramTest, SkipsLinesWithoutEqualsOrWithBadKeys) {
  auto parse = ParseNotifyDatagram("garbage\nREADY=1\n=nokey\nBAD KEY=x\nSTATUS=");
  ASSERT_TRUE(parse.ok());
  ASSERT_EQ(parse->fields.size(), 2u);
  EXPECT_EQ(parse->fields[1], (std::pair<std::string, std::string>{"STATUS", ""}));
  EXPECT_EQ(parse->skipped_lines, 3u);
  EXPECT_NE(parse->skip_reason.find("garbage"), std::string::npos);
}

TEST(ParseNotifyDatagramTest, RejectsNulAndInvalidUtf8Whole) {
  EXPECT_TRUE(
      ParseNotifyDatagram(std::string_view("READY=1\0X=1", 11)).status().IsInvalidArgument());
  EXPECT_TRUE(ParseNotifyDatagram("STATUS=\xff").status().IsInvalidArgument());
  EXPECT_TRUE(ParseNotifyDatagram("STATUS=\xc0\xaf").status().IsInvalidArgument());  // overlong '/'
  EXPECT_TRUE(
      ParseNotifyDatagram("STATUS=\xed\xa0\x80").status().IsInvalidArgument());      // surrogate
  EXPECT_TRUE(ParseNotifyDatagram("STATUS=\xe2\x9c").status().IsInvalidArgument());  // truncated
  auto ok = ParseNotifyDatagram("STATUS=h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x9a\x80");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->fields[0].second, "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x9a\x80");
}

TEST(ParseNotifyDatagramTest, RandomBytesNeverCrash) {
  std::mt19937 rng(2024);
  for (int i = 0; i < 5'000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng() % 256);
    auto parse = ParseNotifyDatagram(junk);
    if (parse.ok()) {
      for (const auto& [key, value] : parse->fields) EXPECT_FALSE(key.empty());
    }
  }
}

// ---- The socket ----

class NotifySocketTest : public ChildProcessTest {
 protected:
  std::unique_ptr<NotifySocket> MustBind(
      const std::string& path, Clock* clock = Clock::Real(),
      size_t max_bytes = NotifySocket::kDefaultMaxDatagramBytes) {
    auto socket = NotifySocket::Bind(path, clock, max_bytes);
    EXPECT_TRUE(socket.ok()) << socket.status().ToString();
    return socket.ok() ? std::move(socket).value() : nullptr;
  }
};

TEST_F(NotifySocketTest, ReceivesReadyWithTheSendersPid) {
  FakeClock clock;
  auto socket = MustBind(Path("a.sock"), &clock);
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(socket->path(), Path("a.sock"));
  EXPECT_FALSE(socket->state().ready);
  ASSERT_TRUE(SendDatagram(Path("a.sock"), "READY=1\nSTATUS=up"));
  auto messages = socket->Receive(2'000);
  ASSERT_TRUE(messages.ok()) << messages.status().ToString();
  ASSERT_EQ(messages->size(), 1u);
  const NotifyMessage& m = (*messages)[0];
  EXPECT_EQ(m.sender_pid, getpid());
  EXPECT_EQ(m.sender_uid, getuid());
  EXPECT_EQ(m.received_ns, clock.NowNs());
  EXPECT_TRUE(m.Is("READY", "1"));
  ASSERT_NE(m.Find("STATUS"), nullptr);
  EXPECT_EQ(*m.Find("STATUS"), "up");
  const NotifyState state = socket->state();
  EXPECT_TRUE(state.ready);
  EXPECT_EQ(state.ready_pid, getpid());
  EXPECT_EQ(state.status, "up");
  EXPECT_EQ(state.messages, 1u);
  EXPECT_EQ(state.errors, 0u);
}

TEST_F(NotifySocketTest, FoldsWatchdogMainpidErrnoStoppingIntoState) {
  FakeClock clock;
  auto socket = MustBind(Path("s.sock"), &clock);
  ASSERT_NE(socket, nullptr);
  ASSERT_TRUE(SendDatagram(Path("s.sock"), "WATCHDOG=1"));
  ASSERT_TRUE(socket->Receive(2'000).ok());
  EXPECT_EQ(socket->state().last_watchdog_ns, clock.NowNs());
  clock.AdvanceMs(1'500);
  ASSERT_TRUE(SendDatagram(Path("s.sock"), "WATCHDOG=1\nMAINPID=4242\nERRNO=5\nSTATUS=a"));
  ASSERT_TRUE(SendDatagram(Path("s.sock"), "STATUS=b\nMAINPID=-3\nERRNO=x\nSTOPPING=1"));
  ASSERT_TRUE(socket->WaitFor([](const NotifyState& s) { return s.stopping; }, 2'000));
  const NotifyState state = socket->state();
  EXPECT_EQ(state.last_watchdog_ns, clock.NowNs());
  EXPECT_EQ(state.main_pid, 4242);  // the bad MAINPID=-3 is counted, not applied
  EXPECT_EQ(state.errno_value, 5);
  EXPECT_EQ(state.status, "b");
  EXPECT_FALSE(state.ready);
  EXPECT_EQ(state.errors, 2u);
  EXPECT_EQ(state.messages, 3u);
}

TEST_F(NotifySocketTest, DropsOversizedAndJunkDatagramsAndKeepsGoing) {
  auto socket = MustBind(Path("j.sock"), Clock::Real(), /*max_bytes=*/128);
  ASSERT_NE(socket, nullptr);
  ASSERT_TRUE(SendDatagram(Path("j.sock"), "STATUS=" + std::string(200, 'x')));
  ASSERT_TRUE(SendDatagram(Path("j.sock"), "STATUS=\xff\xfe"));
  ASSERT_TRUE(SendDatagram(Path("j.sock"), std::string_view("\0\0\0", 3)));
  ASSERT_TRUE(SendDatagram(Path("j.sock"), "no equals here"));
  ASSERT_TRUE(SendDatagram(Path("j.sock"), ""));
  ASSERT_TRUE(SendDatagram(Path("j.sock"), "STATUS=" + std::string(121, 'y')));  // exactly 128
  ASSERT_TRUE(SendDatagram(Path("j.sock"), "READY=1"));
  ASSERT_TRUE(socket->WaitReady(2'000));
  const NotifyState state = socket->state();
  EXPECT_EQ(state.errors, 5u) << state.last_error;
  EXPECT_EQ(state.status, std::string(121, 'y'));
  EXPECT_EQ(state.messages, 3u);  // "no equals here" is a datagram with one skipped line
}

TEST_F(NotifySocketTest, PassedDescriptorsAreClosed) {
  auto socket = MustBind(Path("f.sock"));
  ASSERT_NE(socket, nullptr);
  const int passed = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(passed, 0);
  const int before = CountOpenFds();
  ASSERT_TRUE(SendDatagram(Path("f.sock"), "FDSTORE=1\nREADY=1", passed));
  ASSERT_TRUE(socket->WaitReady(2'000));  // the text still counts
  EXPECT_EQ(CountOpenFds(), before);      // the received copy was closed
  EXPECT_EQ(socket->state().errors, 1u);
  close(passed);
}

TEST_F(NotifySocketTest, AbstractNamesWork) {
  const std::string name = "@razar-test-" + std::to_string(getpid());
  auto socket = MustBind(name);
  ASSERT_NE(socket, nullptr);
  ASSERT_TRUE(SendDatagram(name, "READY=1"));
  EXPECT_TRUE(socket->WaitReady(2'000));
}

TEST_F(NotifySocketTest, ReplacesAStaleSocketButNotOtherFiles) {
  {
    auto first = MustBind(Path("stale.sock"));
    ASSERT_NE(first, nullptr);
  }  // removed by the destructor
  EXPECT_FALSE(std::filesystem::exists(Path("stale.sock")));
  // A socket file left by a crashed RAZAR:
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, Path("stale.sock").c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(fd);
  auto second = MustBind(Path("stale.sock"));
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(SendDatagram(Path("stale.sock"), "READY=1"));
  EXPECT_TRUE(second->WaitReady(2'000));

  { std::ofstream(Path("plain")) << "data"; }
  EXPECT_TRUE(NotifySocket::Bind(Path("plain")).status().IsInvalidArgument());
  EXPECT_EQ(testing::ReadFile(Path("plain")), "data");
}

TEST_F(NotifySocketTest, RejectsEmptyAndTooLongPaths) {
  EXPECT_TRUE(NotifySocket::Bind("").status().IsInvalidArgument());
  EXPECT_TRUE(NotifySocket::Bind("@").status().IsInvalidArgument());
  EXPECT_TRUE(NotifySocket::Bind(Path(std::string(120, 'x'))).status().IsInvalidArgument());
}

TEST_F(NotifySocketTest, ReceiveTimesOutEmpty) {
  auto socket = MustBind(Path("t.sock"));
  ASSERT_NE(socket, nullptr);
  auto messages = socket->Receive(30);
  ASSERT_TRUE(messages.ok());
  EXPECT_TRUE(messages->empty());
  EXPECT_FALSE(socket->WaitReady(30));
}

TEST_F(NotifySocketTest, ConcurrentWaitersAllSeeReady) {
  auto socket = MustBind(Path("c.sock"));
  ASSERT_NE(socket, nullptr);
  bool ready[3] = {false, false, false};
  std::vector<std::thread> waiters;
  for (bool& r : ready) waiters.emplace_back([&] { r = socket->WaitReady(5'000); });
  ASSERT_TRUE(SendDatagram(Path("c.sock"), "READY=1"));
  for (auto& t : waiters) t.join();
  EXPECT_TRUE(ready[0] && ready[1] && ready[2]);
}

TEST_F(NotifySocketTest, ResetStateForgetsTheOldIncarnationAndItsQueuedDatagrams) {
  auto socket = MustBind(Path("r.sock"));
  ASSERT_NE(socket, nullptr);
  ASSERT_TRUE(SendDatagram(Path("r.sock"), "READY=1\nSTATUS=old"));
  ASSERT_TRUE(socket->WaitReady(2'000));
  ASSERT_TRUE(SendDatagram(Path("r.sock"), "READY=1"));  // late, still queued
  socket->ResetState();
  EXPECT_FALSE(socket->WaitReady(50));
  EXPECT_EQ(socket->state().status, "");
  EXPECT_EQ(socket->state().messages, 1u);  // counters survive
}

TEST_F(NotifySocketTest, RealSystemdNotifyBinary) {
  if (access("/usr/bin/systemd-notify", X_OK) != 0 && access("/bin/systemd-notify", X_OK) != 0) {
    GTEST_SKIP() << "systemd-notify not installed";
  }
  auto socket = MustBind(Path("sd.sock"));
  ASSERT_NE(socket, nullptr);
  ComponentSpec spec;
  spec.name = "sdnotify";
  spec.command = {"systemd-notify", "--ready", "--status=booted by test"};
  SpawnOptions options;
  options.notify_socket = socket->path();
  options.log_dir = Path("logs");
  auto p = Process::Spawn(spec, options);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // systemd-notify follows its message with sd_notify_barrier(): it waits
  // until we have read (and closed the pipe end passed with) BARRIER=1.
  const bool answered =
      socket->WaitFor([](const NotifyState& s) { return s.barriers >= 1; }, 5'000);
  auto status = (*p)->Wait(5'000);
  ASSERT_TRUE(status.ok());
  if (!status->success()) {
    GTEST_SKIP() << "systemd-notify refused to run here (" << status->ToString()
                 << "): " << testing::ReadFile((*p)->log_path());
  }
  EXPECT_TRUE(answered);
  EXPECT_TRUE(socket->state().ready);
  EXPECT_EQ(socket->state().errors, 0u) << socket->state().last_error;
  const NotifyState state = socket->state();
  EXPECT_EQ(state.status, "booted by test");
  // systemd-notify sends on behalf of its parent when it may, else as
  // itself; either way the kernel-checked pid is one of the two.
  EXPECT_TRUE(state.ready_pid == (*p)->pid() || state.ready_pid == getpid()) << state.ready_pid;
}

}  // namespace
}  // namespace razar::orchestrator
