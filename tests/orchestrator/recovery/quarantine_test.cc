// Quarantine store: record files, the markdown log, resolve.
#include "orchestrator/recovery/quarantine.h"

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/test_util.h"

namespace razar::orchestrator {
namespace {

using storage::testing::TempDir;

constexpr const char* kHeader = "| Timestamp (UTC) | Component | Action | Details |";
constexpr const char* kSeparator = "|---|---|---|---|";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

ComponentSpec Spec(const std::string& name) {
  ComponentSpec spec;
  spec.name = name;
  spec.command = {"/usr/bin/" + name, "--serve"};
  spec.env = {{"DB_PASSWORD", "hunter2"}};
  spec.retries = 2;
  return spec;
}

class QuarantineTest : public ::testing::Test {
 protected:
  QuarantineTest() : dir_("razar-quarantine"), store_(RuntimePaths{dir_.path()}) {}

  TempDir dir_;
  QuarantineStore store_;
};

TEST_F(QuarantineTest, QuarantineWritesRecordAndLogRow) {
  ASSERT_TRUE(
      store_.Quarantine(Spec("db"), "retries exhausted", 4, "exit 1 | segfault\nline 2").ok());
  EXPECT_TRUE(store_.IsQuarantined("db"));
  EXPECT_FALSE(store_.IsQuarantined("api"));

  nlohmann::json record =
      nlohmann::json::parse(ReadText(dir_.path() + "/quarantine/db.json"), nullptr, false);
  ASSERT_FALSE(record.is_discarded());
  EXPECT_EQ(record["component"], "db");
  EXPECT_EQ(record["reason"], "retries exhausted");
  EXPECT_EQ(record["attempts"], 4);
  EXPECT_EQ(record["last_error"], "exit 1 | segfault\nline 2") << "full error kept in the record";
  EXPECT_EQ(record["config"]["command"], nlohmann::json::array({"/usr/bin/db", "--serve"}));
  EXPECT_EQ(record["config"]["retries"], 2);
  EXPECT_EQ(record["config"]["env"]["DB_PASSWORD"], "<redacted>");
  const std::string time = record["time"];
  EXPECT_EQ(time.size(), 20u) << time;  // 2024-05-01T12:00:00Z
  EXPECT_EQ(time.back(), 'Z');
  EXPECT_EQ(ReadText(dir_.path() + "/quarantine/db.json").find("hunter2"), std::string::npos);

  std::vector<std::string> lines = Lines(ReadText(dir_.path() + "/docs/quarantine_log.md"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], kHeader);
  EXPECT_EQ(lines[1], kSeparator);
  EXPECT_EQ(lines[2], "| " + time +
                          " | db | quarantined | retries exhausted; attempts: 4; last error: "
                          "exit 1 \\| segfault<br>line 2 |");

  auto got = store_.Get("db");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->attempts, 4u);
  EXPECT_EQ(got->reason, "retries exhausted");
  EXPECT_EQ(got->time_utc, time);
  EXPECT_TRUE(got->load_error.empty());
}

TEST_F(QuarantineTest, ResolveRoundTrip) {
  ASSERT_TRUE(store_.Quarantine(Spec("db"), "probe failing", 3, "timeout").ok());
  ASSERT_TRUE(store_.Resolve("db", "fixed | config\nby hand").ok());
  EXPECT_FALSE(store_.IsQuarantined("db"));
  EXPECT_FALSE(std::ifstream(dir_.path() + "/quarantine/db.json").good());
  EXPECT_TRUE(store_.Get("db").status().IsNotFound());

  std::vector<std::string> lines = Lines(ReadText(dir_.path() + "/docs/quarantine_log.md"));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[2].find("| db | quarantined |"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("| db | resolved | fixed \\| config<br>by hand |"), std::string::npos)
      << lines[3];

  Status again = store_.Resolve("db", "");
  EXPECT_TRUE(again.IsNotFound()) << again.ToString();
  EXPECT_TRUE(store_.Resolve("never-quarantined", "").IsNotFound());
  EXPECT_EQ(Lines(ReadText(dir_.path() + "/docs/quarantine_log.md")).size(), 4u)
      << "a failed resolve logs nothing";

  // Quarantining again after a resolve works and appends, header once.
  ASSERT_TRUE(store_.Quarantine(Spec("db"), "again", 1, "").ok());
  std::string log = ReadText(dir_.path() + "/docs/quarantine_log.md");
  EXPECT_EQ(Count(log, kHeader), 1u);
  EXPECT_EQ(Lines(log).size(), 5u);
}

TEST_F(QuarantineTest, ListIsSortedAndSurvivesACorruptRecord) {
  auto empty = store_.List();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty()) << "no quarantine directory yet";

  ASSERT_TRUE(store_.Quarantine(Spec("web"), "r", 1, "").ok());
  ASSERT_TRUE(store_.Quarantine(Spec("api"), "r", 2, "").ok());
  { std::ofstream(dir_.path() + "/quarantine/broken.json") << "{not json"; }
  { std::ofstream(dir_.path() + "/quarantine/stray.json.tmp") << "{}"; }
  { std::ofstream(dir_.path() + "/quarantine/README") << "hi"; }

  auto list = store_.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].component, "api");
  EXPECT_EQ((*list)[0].attempts, 2u);
  EXPECT_EQ((*list)[1].component, "broken");
  EXPECT_NE((*list)[1].load_error.find("Corruption"), std::string::npos) << (*list)[1].load_error;
  EXPECT_EQ((*list)[2].component, "web");
  EXPECT_TRUE(store_.IsQuarantined("broken"));
  EXPECT_TRUE(store_.Get("broken").status().IsCorruption());
}

TEST_F(QuarantineTest, HeaderIsAddedToAnExistingLogWithoutOne) {
  ASSERT_EQ(::mkdir((dir_.path() + "/docs").c_str(), 0755), 0);
  { std::ofstream(dir_.path() + "/docs/quarantine_log.md") << "# Quarantine log\nunterminated"; }
  ASSERT_TRUE(store_.Quarantine(Spec("db"), "r", 1, "").ok());
  ASSERT_TRUE(store_.Quarantine(Spec("api"), "r", 1, "").ok());
  std::vector<std::string> lines = Lines(ReadText(dir_.path() + "/docs/quarantine_log.md"));
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0], "# Quarantine log");
  EXPECT_EQ(lines[1], "unterminated");
  EXPECT_EQ(lines[2], "");
  EXPECT_EQ(lines[3], kHeader);
  EXPECT_EQ(lines[4], kSeparator);
  EXPECT_NE(lines[5].find("| db |"), std::string::npos);
  EXPECT_NE(lines[6].find("| api |"), std::string::npos);
}

TEST_F(QuarantineTest, NamesThatWouldEscapeTheDirectoryAreRefused) {
  Status s = store_.Quarantine(Spec("../escape"), "r", 1, "");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_FALSE(std::ifstream(dir_.path() + "/escape.json").good());
  EXPECT_FALSE(store_.IsQuarantined("../escape"));
  EXPECT_TRUE(store_.Resolve("../../etc/passwd", "").IsNotFound());
}

TEST_F(QuarantineTest, ConcurrentQuarantinesWriteOneHeaderAndEveryRow) {
  // Two stores on the same paths stand in for two RAZAR processes: their
  // mutexes are independent, so only the log's flock keeps the header single.
  QuarantineStore other(RuntimePaths{dir_.path()});
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    QuarantineStore* store = i % 2 == 0 ? &store_ : &other;
    threads.emplace_back([store, i] {
      EXPECT_TRUE(store->Quarantine(Spec("c" + std::to_string(i)), "r", 1, "").ok());
    });
  }
  for (auto& t : threads) t.join();
  std::string log = ReadText(dir_.path() + "/docs/quarantine_log.md");
  EXPECT_EQ(Count(log, kHeader), 1u);
  EXPECT_EQ(Count(log, "| quarantined |"), static_cast<size_t>(kThreads));
  auto list = store_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), static_cast<size_t>(kThreads));
}

TEST(EscapeMarkdownCellTest, EscapesPipesNewlinesAndControlsAndTruncates) {
  EXPECT_EQ(EscapeMarkdownCell("a|b", 100), "a\\|b");
  EXPECT_EQ(EscapeMarkdownCell("a\nb\r\nc\rd", 100), "a<br>b<br>c<br>d");
  EXPECT_EQ(EscapeMarkdownCell("a\tb\x01", 100), "a b ");
  EXPECT_EQ(EscapeMarkdownCell("abcdef", 3), "abc...");
  EXPECT_EQ(EscapeMarkdownCell("abc", 3), "abc");
}

}  // namespace
}  // namespace razar::orchestrator
