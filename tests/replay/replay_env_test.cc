// Replay and the forensic queries read the spine through the Env they are
// given (replay/replay.h, replay/forensics.h): an Env that refuses to open
// log segments, or that hides the log directory, changes what they see.
#include <cerrno>
#include <string>

#include <gtest/gtest.h>

#include "replay/forensics.h"
#include "replay/replay.h"
#include "storage/testing/forwarding_env.h"
#include "testing/spine_test_util.h"

namespace razar::replay {
namespace {

using storage::Env;
using storage::ForwardingEnv;
using storage::RecordEncoder;
using storage::SnapshotWriteMethod;
using storage::Spine;
using namespace storage::testing;

// Env::Default(), except that opening a log segment fails with EIO and,
// with `hide_log`, listing a log/ directory fails with ENOENT.
class RefusingEnv final : public ForwardingEnv {
 public:
  explicit RefusingEnv(bool hide_log) : hide_log_(hide_log) {}
  Result<int> Open(const std::string& path, int flags, int mode) override {
    if (path.ends_with(".hblog")) {
      ++refused_;
      return Status::FromErrno("open " + path + " (refused by the test Env)", EIO);
    }
    return ForwardingEnv::Open(path, flags, mode);
  }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    if (hide_log_ && path.ends_with("/log")) return Status::FromErrno("list " + path, ENOENT);
    return ForwardingEnv::ListDir(path);
  }
  int refused() const { return refused_; }

 private:
  const bool hide_log_;
  int refused_ = 0;
};

class ReplayEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RAZAR_SKIP_WITHOUT_URING();
    spine_ = dir_.Sub("spine");
    auto sp = Spine::Open(TestSpineOptions(spine_, SnapshotWriteMethod::kSstIngest));
    ASSERT_TRUE(sp.ok()) << sp.status().ToString();
    RecordEncoder enc;
    OpGen gen(31, 0, 300);
    ASSERT_NO_FATAL_FAILURE(RunOps(sp->get(), enc, gen, 500));
    ASSERT_TRUE((*sp)->Close().ok());
  }
  TempDir dir_{"razar-replay-env"};
  std::string spine_;
};

TEST_F(ReplayEnvTest, ForensicQueriesOpenTheLogThroughTheGivenEnv) {
  RefusingEnv env(/*hide_log=*/false);
  Result<VerifyReport> v = Verify(spine_, &env);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->records, 0u) << "every segment was refused";
  ASSERT_FALSE(v->damages.empty());
  EXPECT_EQ(v->damages.front().kind, "io-error");
  EXPECT_NE(v->damages.front().detail.find("refused by the test Env"), std::string::npos)
      << v->damages.front().detail;

  uint64_t dumped = 0;
  Result<DumpStats> d = Dump(
      spine_, DumpFilter(), [&](const DumpedRecord&) { return ++dumped > 0; }, &env);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(dumped, 0u);
  EXPECT_FALSE(d->damages.empty());

  Result<SpineInfo> i = Inspect(spine_, &env);
  ASSERT_TRUE(i.ok()) << i.status().ToString();
  EXPECT_EQ(i->records, 0u);
  EXPECT_GT(env.refused(), 0);

  // The same queries through the default Env see every record.
  Result<VerifyReport> clean = Verify(spine_, Env::Default());
  ASSERT_TRUE(clean.ok()) << clean.status().ToString();
  EXPECT_TRUE(clean->clean());
  EXPECT_EQ(clean->records, 500u);
}

TEST_F(ReplayEnvTest, RebuildReadsTheLogAndChecksTheSpineThroughTheGivenEnv) {
  RefusingEnv refusing(/*hide_log=*/false);
  RebuildOptions o;
  o.env = &refusing;
  o.spine_dir = spine_;
  o.sequential = true;
  Result<Rebuilt> r = Rebuild(o);
  ASSERT_FALSE(r.ok()) << "point-in-time replay must fail on an unreadable segment";
  EXPECT_NE(r.status().ToString().find("refused by the test Env"), std::string::npos)
      << r.status().ToString();

  RefusingEnv hiding(/*hide_log=*/true);
  o.env = &hiding;
  r = Rebuild(o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_NE(r.status().ToString().find("no log/ directory"), std::string::npos)
      << r.status().ToString();
  Result<VerifyReport> v = Verify(spine_, &hiding);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(v.status().IsNotFound()) << v.status().ToString();

  o.env = Env::Default();
  r = Rebuild(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->log.records_read, 500u);
}

}  // namespace
}  // namespace razar::replay
