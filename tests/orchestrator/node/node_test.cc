// Node: the composition root of `razar boot`, run in process.
#include "orchestrator/node/node.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "orchestrator/boot_test_util.h"
#include "orchestrator/config/config.h"
#include "orchestrator/os/file_lock.h"

namespace razar::orchestrator {
namespace {

using namespace testing;  // boot_test_util.h

class NodeTest : public TaggedComponentTest {
 protected:
  void TearDown() override {
    KillTaggedLeftovers();
    ChildProcessTest::TearDown();
  }

  NodeOptions Options() {
    json c = {{"name", "svc"},
              {"command", Argv({"/bin/sh", "-c", "exec sleep 60"})},
              {"start_grace_ms", 0},
              {"stop_timeout_ms", 2000}};
    Result<BootConfig> cfg = LoadBootConfig(WriteConfig({c}));
    EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
    NodeOptions o;
    if (cfg.ok()) o.config = *cfg;
    o.config.http.port = 0;
    o.paths = Paths();
    o.use_spine = false;
    o.handle_signals = false;
    o.out = &out_;
    o.err = &err_;
    return o;
  }

  std::ostringstream out_, err_;
};

// Regression (razar_cli.cc RunBoot): the signal thread called
// sup->RequestStop() while the main thread assigned `sup` and later
// destroyed it — a data race, and a use after free for a SIGTERM during
// start-up or shut-down. A stop request now only raises the Node's own
// Interrupt; here it is raised from another thread at every phase of Run,
// including while the Supervisor is being created and after it is gone.
TEST_F(NodeTest, StopRequestedAtAnyPhaseOfRunIsSafe) {
  for (const char* phase :
       {"locked", "spine_open", "supervisor_created", "booted", "supervisor_destroyed"}) {
    SCOPED_TRACE(phase);
    NodeOptions o = Options();
    // Run passes "supervisor_destroyed" only once it is done: with
    // --exit-after-boot, which leaves the component for the next Node.
    const bool last = std::string(phase) == "supervisor_destroyed";
    o.exit_after_boot = last;
    Node* self = nullptr;
    o.on_phase = [&](const char* now) {
      if (std::string(now) != phase) return;
      std::thread t([&] { self->RequestStop(); });
      t.join();
    };
    Node node(std::move(o));
    self = &node;
    const int rc = node.Run();
    EXPECT_TRUE(rc == Node::kHealthy || rc == Node::kDegraded) << rc << " " << err_.str();
    if (last) {
      // Adopt and stop what the exit-after-boot run left.
      NodeOptions stopper = Options();
      Node* next = nullptr;
      stopper.on_phase = [&](const char* now) {
        if (std::string(now) == "booted") next->RequestStop();
      };
      Node second(std::move(stopper));
      next = &second;
      EXPECT_EQ(second.Run(), Node::kHealthy) << err_.str();
      // The adopter stops but cannot reap it: its parent is this test
      // process (in production, the dead RAZAR's parent, init).
      WaitUntil([] { return ::waitpid(-1, nullptr, WNOHANG) > 0; }, 5'000);
    }
    EXPECT_TRUE(WaitUntil([&] { return ProcessesWithEnv(tag_).empty(); }, 5'000))
        << "a stopped node left its component running";
  }
}

// The same, at random moments and from a thread that keeps asking: what a
// SIGTERM storm during start-up looks like. Run under TSan this is the
// race's detector.
TEST_F(NodeTest, StopRequestsFromAnotherThreadAtRandomMomentsAreSafe) {
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    Node node(Options());
    const int delay_us = std::uniform_int_distribution<int>(0, 200'000)(rng);
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      for (int i = 0; i < 50; ++i) {
        node.RequestStop();
        std::this_thread::yield();
      }
    });
    const int rc = node.Run();
    stopper.join();
    EXPECT_TRUE(rc == Node::kHealthy || rc == Node::kDegraded) << rc << " " << err_.str();
  }
  EXPECT_TRUE(WaitUntil([&] { return ProcessesWithEnv(tag_).empty(); }, 5'000));
}

// Regression: two `razar boot` on one base both ran (the second only warned
// that the spine was locked), adopted the same processes and relaunched a
// dead component twice. The base is locked for a boot's life.
TEST_F(NodeTest, SecondBootOnTheSameBaseIsRefusedNamingTheHolder) {
  ASSERT_TRUE(storage::Env::Default()->CreateDirs(Paths().logs_dir()).ok());
  Result<std::unique_ptr<FileLock>> held = FileLock::Acquire(Paths().lock_file(), "test");
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  Node node(Options());
  EXPECT_EQ(node.Run(), Node::kError);
  EXPECT_NE(err_.str().find(Paths().lock_file()), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("pid " + std::to_string(::getpid())), std::string::npos) << err_.str();
  EXPECT_TRUE(ProcessesWithEnv(tag_).empty()) << "the refused boot launched something";
}

}  // namespace
}  // namespace razar::orchestrator
