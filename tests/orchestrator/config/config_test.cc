// Boot config: the original format, the extended schema in JSON and YAML,
// every validation error's message, and the boot plan.
#include "orchestrator/config/config.h"
#include "orchestrator/config/preflight.h"

#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/test_util.h"

namespace razar::orchestrator {
namespace {

using storage::testing::TempDir;

constexpr const char* kFile = "boot.json";

Result<BootConfig> Json(const std::string& text) {
  return ParseBootConfig(text, ConfigFormat::kJson, kFile);
}
Result<BootConfig> Yaml(const std::string& text) {
  return ParseBootConfig(text, ConfigFormat::kYaml, "boot.yaml");
}

// One component object with `extra` spliced in (e.g. `"retries": 2`).
std::string One(const std::string& extra) {
  std::string c = R"({"name":"db","command":["db-server"])";
  if (!extra.empty()) c += "," + extra;
  return R"({"components":[)" + c + "}]}";
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// Asserts the config is rejected with InvalidArgument and the message
// contains every fragment (file, component, key, what).
void ExpectError(const Result<BootConfig>& r, const std::vector<std::string>& fragments) {
  ASSERT_FALSE(r.ok()) << "config was accepted; expected an error containing " << fragments[0];
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  for (const std::string& f : fragments) {
    EXPECT_NE(r.status().message().find(f), std::string::npos)
        << "message: " << r.status().message() << "\nmissing: " << f;
  }
}

// ---------------------------------------------------------------------------

TEST(ConfigTest, OriginalPythonFormatIsAcceptedUnchanged) {
  auto r = Json(R"({"components": [
      {"name": "db", "command": ["python3", "db.py"], "health_check": ["python3", "check.py", "db"]},
      {"name": "api", "command": ["./api"], "health_check": ["curl", "-f", "localhost"]},
      {"name": "ui", "command": ["ui"]}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->components.size(), 3u);
  const ComponentSpec& db = r->components[0];
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.command, (std::vector<std::string>{"python3", "db.py"}));
  EXPECT_EQ(db.probe.kind, ProbeKind::kCommand);
  EXPECT_EQ(db.probe.command, (std::vector<std::string>{"python3", "check.py", "db"}));
  EXPECT_EQ(r->components[2].probe.kind, ProbeKind::kNone);
  // File order is boot order: priority = index.
  EXPECT_EQ(r->components[0].priority, 0);
  EXPECT_EQ(r->components[1].priority, 1);
  EXPECT_EQ(r->components[2].priority, 2);
  // Defaults from spec.h.
  EXPECT_EQ(db.retries, 3u);
  EXPECT_EQ(db.layer, storage::Layer::root);
  EXPECT_EQ(db.probe.period_ms, 10'000u);
  EXPECT_EQ(db.probe.timeout_ms, 1'000u);
  EXPECT_EQ(db.probe.failure_threshold, 3u);
  EXPECT_EQ(db.start_timeout_ms, 90'000u);
  EXPECT_EQ(db.stop_timeout_ms, 10'000u);
  EXPECT_EQ(db.backoff.initial_ms, 100u);
  EXPECT_EQ(db.backoff.max_ms, 60'000u);
  EXPECT_TRUE(db.backoff.jitter);
  EXPECT_EQ(db.backoff.reset_after_ms, 10'000u);
  EXPECT_EQ(r->http.bind, "127.0.0.1");
  EXPECT_EQ(r->http.port, 8787);
  EXPECT_TRUE(r->http.token.empty());
}

TEST(ConfigTest, FullSchemaIsParsed) {
  auto r = Json(R"({"components": [
      {"name": "db", "command": ["pg"], "priority": 0, "layer": "root",
       "probe": {"tcp": "127.0.0.1:5432", "period_ms": 500, "timeout_ms": 200, "failure_threshold": 5}},
      {"name": "api", "command": ["api", "--port", "8080"], "priority": 10, "layer": "third_eye",
       "depends_on": ["db"], "probe": {"http": "http://127.0.0.1:8080/health"},
       "retries": 7, "backoff": {"initial_ms": 50, "max_ms": 5000, "jitter": false, "reset_after_ms": 0},
       "start_timeout_ms": 1234, "stop_timeout_ms": 99, "env": {"MODE": "prod", "EMPTY": ""},
       "cwd": "/srv/api", "source_dir": "src/api"},
      {"name": "ping", "command": ["pinger"], "priority": 10, "probe": {"notify": true}},
      {"name": "v6", "command": ["x"], "priority": 10, "probe": {"tcp": "[::1]:9"}}],
    "http": {"bind": "127.0.0.1", "port": 9100}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ComponentSpec& db = r->components[0];
  EXPECT_EQ(db.probe.kind, ProbeKind::kTcp);
  EXPECT_EQ(db.probe.host, "127.0.0.1");
  EXPECT_EQ(db.probe.port, 5432);
  EXPECT_EQ(db.probe.period_ms, 500u);
  EXPECT_EQ(db.probe.timeout_ms, 200u);
  EXPECT_EQ(db.probe.failure_threshold, 5u);
  const ComponentSpec& api = r->components[1];
  EXPECT_EQ(api.priority, 10);
  EXPECT_EQ(api.layer, storage::Layer::third_eye);
  EXPECT_EQ(api.depends_on, (std::vector<std::string>{"db"}));
  EXPECT_EQ(api.probe.kind, ProbeKind::kHttp);
  EXPECT_EQ(api.probe.url, "http://127.0.0.1:8080/health");
  EXPECT_EQ(api.retries, 7u);
  EXPECT_EQ(api.backoff.initial_ms, 50u);
  EXPECT_EQ(api.backoff.max_ms, 5000u);
  EXPECT_FALSE(api.backoff.jitter);
  EXPECT_EQ(api.backoff.reset_after_ms, 0u);
  EXPECT_EQ(api.start_timeout_ms, 1234u);
  EXPECT_EQ(api.stop_timeout_ms, 99u);
  EXPECT_EQ(api.env.at("MODE"), "prod");
  EXPECT_EQ(api.env.at("EMPTY"), "");
  EXPECT_EQ(api.cwd, "/srv/api");
  EXPECT_EQ(r->components[2].probe.kind, ProbeKind::kNotify);
  EXPECT_EQ(r->components[3].probe.host, "::1");
  EXPECT_EQ(r->components[3].probe.port, 9);
  EXPECT_EQ(r->http.port, 9100);
}

TEST(ConfigTest, RelativePathsResolveAgainstTheConfigDirectory) {
  TempDir dir("razar-config");
  const std::string path = dir.Sub("boot.json");
  WriteFile(path, One(R"("cwd": "work/../run", "source_dir": "src")"));
  auto r = LoadBootConfig(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->components[0].cwd, dir.path() + "/run");
  EXPECT_EQ(r->components[0].source_dir, dir.path() + "/src");
  EXPECT_EQ(r->path, path);

  WriteFile(path, One(""));
  r = LoadBootConfig(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->components[0].cwd, dir.path()) << "default cwd is the config's directory";
  EXPECT_TRUE(r->components[0].source_dir.empty());
}

TEST(ConfigTest, YamlIsEquivalentToJson) {
  auto json = Json(R"({"components": [
      {"name": "db", "command": ["pg", "-p", "5432"], "layer": "sacral", "priority": 1,
       "probe": {"tcp": "localhost:5432", "period_ms": 250}, "env": {"PORT": "8080", "ON": "true"}},
      {"name": "api", "command": ["api"], "priority": 2, "depends_on": ["db"], "retries": 0,
       "backoff": {"initial_ms": 10, "max_ms": 20, "jitter": false},
       "health_check": ["check", "--quick"]}],
    "http": {"port": 0}})");
  auto yaml = Yaml(R"(
# the same config in YAML; scalars are text, so numbers need no quotes
components:
  - name: db
    command: [pg, -p, 5432]
    layer: sacral
    priority: 1
    probe:
      tcp: "localhost:5432"
      period_ms: 250
    env:
      PORT: 8080
      ON: true
  - name: api
    command:
      - api
    priority: 2
    depends_on: [db]
    retries: 0
    backoff: {initial_ms: 10, max_ms: 20, jitter: false}
    health_check: [check, --quick]
http:
  port: 0
)");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  ASSERT_EQ(json->components.size(), yaml->components.size());
  for (size_t i = 0; i < json->components.size(); ++i) {
    EXPECT_EQ(ComponentSpecToJson(json->components[i]), ComponentSpecToJson(yaml->components[i]))
        << "component " << i;
  }
  EXPECT_EQ(yaml->components[0].command[2], "5432");
  EXPECT_EQ(yaml->components[0].env.at("PORT"), "8080");
  EXPECT_EQ(json->http.port, yaml->http.port);
  EXPECT_EQ(yaml->http.port, 0);
}

TEST(ConfigTest, FormatIsChosenByExtension) {
  EXPECT_EQ(ConfigFormatForPath("boot.yaml"), ConfigFormat::kYaml);
  EXPECT_EQ(ConfigFormatForPath("/etc/razar/BOOT.YML"), ConfigFormat::kYaml);
  EXPECT_EQ(ConfigFormatForPath("boot.json"), ConfigFormat::kJson);
  EXPECT_EQ(ConfigFormatForPath("boot_config"), ConfigFormat::kJson);

  TempDir dir("razar-config");
  WriteFile(dir.Sub("b.yml"), "components:\n  - {name: a, command: [true]}\n");
  auto r = LoadBootConfig(dir.Sub("b.yml"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->components[0].command[0], "true");
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto r = LoadBootConfig("/nonexistent/razar/boot.json");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("/nonexistent/razar/boot.json"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Each validation error names the file, the component and the key.

TEST(ConfigErrorTest, WrongTypeMessageIsExact) {
  auto r = Json(One(R"("retries": "three")"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      r.status().message(),
      R"(boot.json: component "db": key "retries": expected a non-negative integer, got "three")");
}

TEST(ConfigErrorTest, UnknownKeySuggestsTheClosestKnownKey) {
  ExpectError(Json(One(R"("retry": 2)")), {kFile, R"(component "db")", R"(key "retry")",
                                           "unknown key", R"(did you mean "retries"?)"});
  ExpectError(Json(One(R"("start_timeout": 5)")),
              {R"(key "start_timeout")", R"(did you mean "start_timeout_ms"?)"});
  ExpectError(Json(One(R"("probe": {"tcp": "h:1", "perod_ms": 5})")),
              {R"(component "db")", R"(key "probe.perod_ms")", R"(did you mean "period_ms"?)"});
  ExpectError(Json(One(R"("zzzzzzzz": 1)")), {R"(key "zzzzzzzz")", "unknown key"});
  ExpectError(Json(R"({"components": [{"name":"a","command":["a"]}], "htp": {}})"),
              {kFile, R"(key "htp")", R"(did you mean "http"?)"});
}

TEST(ConfigErrorTest, WrongTypes) {
  ExpectError(Json(One(R"("retries": -1)")), {R"(key "retries")", "non-negative integer", "-1"});
  ExpectError(Json(One(R"("retries": 1.5)")), {R"(key "retries")", "1.5"});
  ExpectError(Json(One(R"("retries": true)")), {R"(key "retries")", "got true"});
  ExpectError(Json(One(R"("priority": "high")")), {R"(key "priority")", "expected an integer"});
  ExpectError(Json(One(R"("layer": 3)")), {R"(key "layer")", "expected a string"});
  ExpectError(Json(One(R"("depends_on": "x")")), {R"(key "depends_on")", "array of strings"});
  ExpectError(Json(One(R"("env": {"A": 1})")), {R"(key "env.A")", "expected a string"});
  ExpectError(Json(One(R"("env": {"A=B": "x"})")), {R"(key "env.A=B")", "invalid environment"});
  ExpectError(Json(One(R"("backoff": {"jitter": "yes"})")),
              {R"(key "backoff.jitter")", "true or false"});
  ExpectError(Json(One(R"("backoff": 5)")), {R"(key "backoff")", "expected an object"});
  ExpectError(Json(One(R"("start_timeout_ms": 0)")),
              {R"(key "start_timeout_ms")", "positive integer"});
  ExpectError(Json(One(R"("stop_timeout_ms": 99999999999)")),
              {R"(key "stop_timeout_ms")", "out of range"});
  ExpectError(Json(R"({"components": [{"name": "db", "command": "db-server --fast"}]})"),
              {R"(component "db")", R"(key "command")", "argv array", "no shell"});
  ExpectError(Json(R"({"components": [{"name": "db", "command": ["a", 5]}]})"),
              {R"(key "command[1]")", "expected a string"});
  ExpectError(Json(R"({"components": [{"name": 7, "command": ["a"]}]})"),
              {R"(component #1)", R"(key "name")", "expected a string"});
  ExpectError(Json(R"({"components": {"name": "db"}})"), {R"(key "components")", "array"});
  ExpectError(Json(R"({"components": ["db"]})"), {"component #1", "expected an object"});
  ExpectError(Json(R"([1, 2])"), {kFile, "expected an object"});
  ExpectError(Yaml("components:\n  - name: db\n    command: [x]\n    retries: three\n"),
              {"boot.yaml", R"(component "db")", R"(key "retries")", R"(got "three")"});
  ExpectError(Yaml("components:\n  - name: db\n    command: [x]\n    backoff: {jitter: yes}\n"),
              {"boot.yaml", R"(key "backoff.jitter")"});
}

TEST(ConfigErrorTest, MissingRequiredKeys) {
  ExpectError(Json(R"({"components": [{"command": ["a"]}]})"),
              {kFile, "component #1", R"(key "name")", "missing required key"});
  ExpectError(Json(R"({"components": [{"name": "a"}]})"),
              {R"(component "a")", R"(key "command")", "missing required key"});
  ExpectError(Json(R"({"http": {}})"), {R"(key "components")", "missing required key"});
  ExpectError(Json(R"({"components": []})"), {R"(key "components")", "no components"});
}

TEST(ConfigErrorTest, EmptyCommand) {
  ExpectError(Json(R"({"components": [{"name": "db", "command": []}]})"),
              {kFile, R"(component "db")", R"(key "command")", "empty command"});
  ExpectError(Json(R"({"components": [{"name": "db", "command": [""]}]})"),
              {R"(key "command[0]")", "empty program name"});
  ExpectError(Json(One(R"("health_check": [])")), {R"(key "health_check")", "empty command"});
  ExpectError(Json(One(R"("probe": {"command": []})")), {R"(key "probe.command")", "empty"});
}

TEST(ConfigErrorTest, DuplicateName) {
  ExpectError(
      Json(R"({"components": [{"name": "db", "command": ["a"]},
                                       {"name": "x", "command": ["b"]},
                                       {"name": "db", "command": ["c"]}]})"),
      {kFile, R"(component "db")", R"(key "name")", "duplicate component name", "#1 and #3"});
}

TEST(ConfigErrorTest, InvalidNameCharacters) {
  for (const char* name : {"my db", "../etc", "a/b", "", ".hidden", "-rf", "dé"}) {
    SCOPED_TRACE(name);
    ExpectError(
        Json(std::string(R"({"components": [{"name": ")") + name + R"(", "command": ["a"]}]})"),
        {kFile, R"(key "name")"});
  }
  ExpectError(Json(R"({"components": [{"name": "my db", "command": ["a"]}]})"),
              {R"(component "my db")", "letters, digits"});
  ExpectError(
      Json(R"({"components": [{"name": ")" + std::string(129, 'a') + R"(", "command": ["a"]}]})"),
      {"longer than 128"});
  EXPECT_TRUE(IsValidComponentName("db-1.primary_2"));
  EXPECT_FALSE(IsValidComponentName("db 1"));
}

TEST(ConfigErrorTest, BadLayer) {
  ExpectError(Json(One(R"("layer": "spleen")")), {kFile, R"(component "db")", R"(key "layer")",
                                                  R"(unknown layer "spleen")", "third_eye"});
}

TEST(ConfigErrorTest, MissingDependency) {
  ExpectError(Json(R"({"components": [{"name": "db", "command": ["a"]},
                                       {"name": "api", "command": ["b"], "depends_on": ["dbb"]}]})"),
              {kFile, R"(component "api")", R"(key "depends_on")", R"(unknown component "dbb")",
               R"(did you mean "db"?)"});
}

TEST(ConfigErrorTest, DependencyCycleIsNamed) {
  ExpectError(Json(R"({"components": [
      {"name": "a", "command": ["a"], "priority": 1, "depends_on": ["b"]},
      {"name": "b", "command": ["b"], "priority": 1, "depends_on": ["a"]}]})"),
              {kFile, R"(component "a")", R"(key "depends_on")", "dependency cycle a -> b -> a"});
  ExpectError(Json(R"({"components": [
      {"name": "x", "command": ["x"], "priority": 1},
      {"name": "a", "command": ["a"], "priority": 1, "depends_on": ["x", "b"]},
      {"name": "b", "command": ["b"], "priority": 1, "depends_on": ["c"]},
      {"name": "c", "command": ["c"], "priority": 1, "depends_on": ["a"]}]})"),
              {"dependency cycle a -> b -> c -> a"});
  ExpectError(Json(One(R"("depends_on": ["db"])")), {R"(component "db")", "cycle db -> db"});
  // Without priorities (file order) a cycle is still reported as a cycle.
  ExpectError(Json(R"({"components": [
      {"name": "a", "command": ["a"], "depends_on": ["b"]},
      {"name": "b", "command": ["b"], "depends_on": ["a"]}]})"),
              {"dependency cycle a -> b -> a"});
}

TEST(ConfigErrorTest, DependencyOnLaterPriorityWouldDeadlock) {
  ExpectError(
      Json(R"({"components": [
      {"name": "api", "command": ["a"], "priority": 1, "depends_on": ["db"]},
      {"name": "db", "command": ["b"], "priority": 5}]})"),
      {kFile, R"(component "api")", R"(key "depends_on")", R"("db" has priority 5)", "deadlock"});
  // The original format's implicit priorities: depending on a later entry.
  ExpectError(Json(R"({"components": [
      {"name": "api", "command": ["a"], "depends_on": ["db"]},
      {"name": "db", "command": ["b"]}]})"),
              {R"(component "api")", "priority 1"});
}

TEST(ConfigErrorTest, DuplicateDependencyEntry) {
  ExpectError(Json(R"({"components": [{"name": "db", "command": ["a"]},
      {"name": "api", "command": ["b"], "depends_on": ["db", "db"]}]})"),
              {R"(component "api")", R"(key "depends_on")", "twice"});
}

TEST(ConfigErrorTest, BadProbes) {
  ExpectError(Json(One(R"("probe": {"http": "ftp://127.0.0.1/x"})")),
              {kFile, R"(component "db")", R"(key "probe.http")", "http://"});
  ExpectError(Json(One(R"("probe": {"http": "http://user:pw@127.0.0.1/x"})")),
              {R"(key "probe.http")", "credentials"});
  ExpectError(Json(One(R"("probe": {"http": "http://127.0.0.1:99999/"})")),
              {R"(key "probe.http")", "port"});
  ExpectError(Json(One(R"("probe": {"http": "http:///health"})")), {"no host"});
  ExpectError(Json(One(R"("probe": {"http": "http://a b/"})")), {"spaces"});
  ExpectError(Json(One(R"("probe": {"tcp": "localhost"})")),
              {R"(key "probe.tcp")", R"(expected "host:port")"});
  ExpectError(Json(One(R"("probe": {"tcp": "localhost:0"})")), {R"(key "probe.tcp")", "1..65535"});
  ExpectError(Json(One(R"("probe": {"tcp": "::1:80"})")), {R"(key "probe.tcp")", "brackets"});
  ExpectError(Json(One(R"("probe": {"tcp": "bad_host!:80"})")), {"invalid host"});
  ExpectError(Json(One(R"("probe": {"notify": false})")), {R"(key "probe.notify")"});
  ExpectError(Json(One(R"("probe": {"period_ms": 5})")), {R"(key "probe")", "one of"});
  ExpectError(Json(One(R"("probe": {"tcp": "h:1", "http": "http://h/"})")),
              {R"(key "probe")", "exactly one"});
  ExpectError(Json(One(R"("probe": {"tcp": "h:1", "timeout_ms": 0})")),
              {R"(key "probe.timeout_ms")", "positive"});
  ExpectError(Json(One(R"("health_check": ["a"], "probe": {"notify": true})")),
              {R"(key "health_check")", "not both"});
}

TEST(ConfigErrorTest, BackoffMaxBelowInitial) {
  ExpectError(Json(One(R"("backoff": {"initial_ms": 500, "max_ms": 100})")),
              {R"(component "db")", R"(key "backoff.max_ms")", "at least"});
}

TEST(ConfigErrorTest, DuplicateKeys) {
  ExpectError(Json(R"({"components": [{"name": "db", "command": ["a"], "retries": 1,
                                       "retries": 2}]})"),
              {kFile, R"(component "db")", R"(key "retries")", "duplicate key"});
  ExpectError(Json(R"({"components": [{"name": "a", "command": ["a"]},
                                       {"name": "db", "command": ["a"],
                                        "env": {"X": "1", "X": "2"}}]})"),
              {R"(component "db")", R"(key "env.X")", "duplicate key"});
  ExpectError(Yaml("components:\n  - name: db\n    command: [a]\n    layer: root\n    layer: "
                   "crown\n"),
              {"boot.yaml", R"(component "db")", R"(key "layer")", "duplicate key"});
}

TEST(ConfigErrorTest, SyntaxErrorsGiveTheLine) {
  ExpectError(Json("{\"components\": [\n  {\"name\": \"db\",,}\n]}"), {kFile, "line 2"});
  ExpectError(Yaml("components:\n  - name: db\n   command: [a\n"), {"boot.yaml", "line"});
  ExpectError(Json(""), {kFile, "invalid JSON"});
}

TEST(ConfigErrorTest, YamlAliasBombIsRefused) {
  std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'i'; ++c, ++prev) {
    yaml += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) yaml += std::string(i ? ", " : "") + "*" + prev;
    yaml += "]\n";
  }
  ExpectError(Yaml(yaml), {"boot.yaml", "too large"});
}

// ---------------------------------------------------------------------------
// HTTP section and the token.

TEST(ConfigHttpTest, TokenComesFromFileOrEnvNeverFromTheConfig) {
  TempDir dir("razar-config");
  WriteFile(dir.Sub("token"), "s3cret-token\n");
  const std::string comps = R"("components": [{"name": "a", "command": ["a"]}])";
  WriteFile(dir.Sub("boot.json"), "{" + comps + R"(, "http": {"token_file": "token"}})");
  auto r = LoadBootConfig(dir.Sub("boot.json"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->http.token, "s3cret-token") << "trailing newline trimmed";

  ::setenv("RAZAR_CONFIG_TEST_TOKEN", "env-token", 1);
  r = Json("{" + comps + R"(, "http": {"token_env": "RAZAR_CONFIG_TEST_TOKEN", "port": 1}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->http.token, "env-token");
  ::unsetenv("RAZAR_CONFIG_TEST_TOKEN");

  ExpectError(Json("{" + comps + R"(, "http": {"token_env": "RAZAR_CONFIG_TEST_TOKEN"}})"),
              {kFile, R"(key "http.token_env")", "not set"});
  auto inline_token = Json("{" + comps + R"(, "http": {"token": "hunter2"}})");
  ExpectError(inline_token, {kFile, R"(key "http.token")", "token_file"});
  EXPECT_EQ(inline_token.status().message().find("hunter2"), std::string::npos)
      << "a secret must not be echoed in the error";
  ExpectError(Json("{" + comps + R"(, "http": {"token_file": "/nonexistent/token"}})"),
              {R"(key "http.token_file")", "cannot read"});
  ExpectError(Json("{" + comps + R"(, "http": {"port": 70000}})"), {R"(key "http.port")"});
  ExpectError(Json("{" + comps + R"(, "http": {"bind": "example.com"}})"),
              {R"(key "http.bind")", "IP address"});
  ExpectError(Json("{" + comps + R"(, "http": {"token_file": "a", "token_env": "b"}})"),
              {"not both"});
}

// ---------------------------------------------------------------------------
// Boot plan.

const char* kPlanConfig = R"({"components": [
    {"name": "db", "command": ["db"], "priority": 0, "probe": {"tcp": "127.0.0.1:5432"}},
    {"name": "cache", "command": ["cache"], "priority": 0, "layer": "sacral"},
    {"name": "api", "command": ["api"], "priority": 10, "layer": "heart",
     "depends_on": ["db", "cache"], "probe": {"http": "http://127.0.0.1:8080/health"}},
    {"name": "worker", "command": ["w"], "priority": 10, "depends_on": ["api"]},
    {"name": "ui", "command": ["ui"], "priority": 20, "layer": "crown", "depends_on": ["api"]}]})";

TEST(BootPlanTest, StagesGroupEqualPrioritiesInFileOrder) {
  auto config = Json(kPlanConfig);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto plan = ComputeBootPlan(*config);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->stages.size(), 3u);
  EXPECT_EQ(plan->ComponentCount(), 5u);
  EXPECT_EQ(plan->stages[0].priority, 0);
  ASSERT_EQ(plan->stages[0].components.size(), 2u);
  EXPECT_EQ(plan->stages[0].components[0].name, "db");
  EXPECT_EQ(plan->stages[0].components[1].name, "cache");
  EXPECT_EQ(plan->stages[1].priority, 10);
  EXPECT_EQ(plan->stages[1].components[0].name, "api");
  EXPECT_EQ(plan->stages[1].components[0].depends_on, (std::vector<std::string>{"db", "cache"}));
  EXPECT_EQ(plan->stages[1].components[0].dependents, (std::vector<std::string>{"worker", "ui"}));
  EXPECT_EQ(plan->stages[2].components[0].name, "ui");
  EXPECT_EQ(plan->StageOf("worker"), 1);
  EXPECT_EQ(plan->StageOf("nope"), -1);
}

TEST(BootPlanTest, OriginalFormatBootsOneComponentPerStage) {
  auto config = Json(R"({"components": [{"name": "a", "command": ["a"]},
      {"name": "b", "command": ["b"]}, {"name": "c", "command": ["c"]}]})");
  ASSERT_TRUE(config.ok());
  auto plan = ComputeBootPlan(*config);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->stages.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(plan->stages[i].components.size(), 1u);
  EXPECT_EQ(plan->stages[2].components[0].name, "c");
}

TEST(BootPlanTest, FormatPlanIsATable) {
  auto config = Json(kPlanConfig);
  ASSERT_TRUE(config.ok());
  auto plan = ComputeBootPlan(*config);
  ASSERT_TRUE(plan.ok());
  std::string text = FormatPlan(*plan);
  EXPECT_NE(text.find("5 components in 3 stages"), std::string::npos) << text;
  EXPECT_NE(text.find("STAGE  PRIORITY  COMPONENT  LAYER   PROBE  DEPENDS ON"), std::string::npos)
      << text;
  EXPECT_NE(text.find("2      10        api        heart   http   db, cache"), std::string::npos)
      << text;
  EXPECT_NE(text.find("1      0         cache      sacral  none   -"), std::string::npos) << text;
}

TEST(BootPlanTest, PlanJsonListsStagesAndDependencies) {
  auto config = Json(kPlanConfig);
  ASSERT_TRUE(config.ok());
  auto plan = ComputeBootPlan(*config);
  ASSERT_TRUE(plan.ok());
  nlohmann::json j = PlanToJson(*plan);
  EXPECT_EQ(j["config"], kFile);
  ASSERT_EQ(j["stages"].size(), 3u);
  EXPECT_EQ(j["stages"][0]["stage"], 1);
  EXPECT_EQ(j["stages"][1]["priority"], 10);
  const nlohmann::json& api = j["stages"][1]["components"][0];
  EXPECT_EQ(api["name"], "api");
  EXPECT_EQ(api["layer"], "heart");
  EXPECT_EQ(api["probe"], "http");
  EXPECT_EQ(api["depends_on"], nlohmann::json::array({"db", "cache"}));
  EXPECT_EQ(api["dependents"], nlohmann::json::array({"worker", "ui"}));
}

TEST(BootPlanTest, InvalidConfigBuiltInCodeIsRejected) {
  BootConfig config;
  config.path = "generated";
  ComponentSpec a;
  a.name = "a";
  a.command = {"a"};
  a.depends_on = {"b"};
  ComponentSpec b = a;
  b.name = "b";
  b.depends_on = {"a"};
  config.components = {a, b};
  auto plan = ComputeBootPlan(config);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("generated: component \"a\": key \"depends_on\": "
                                         "dependency cycle a -> b -> a"),
            std::string::npos)
      << plan.status().message();
  config.components[1].command.clear();
  EXPECT_NE(ValidateBootConfig(config).message().find("empty command"), std::string::npos);
}

TEST(BootPlanTest, TransitiveDependentsAreThoseBlockedByAComponent) {
  auto config = Json(kPlanConfig);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(TransitiveDependents(*config, "db"), (std::vector<std::string>{"api", "worker", "ui"}));
  EXPECT_EQ(TransitiveDependents(*config, "worker"), std::vector<std::string>{});
}

TEST(ConfigTest, ComponentJsonRoundTripsAndRedactsEnv) {
  auto config = Json(R"({"components": [
      {"name": "db", "command": ["pg"], "probe": {"tcp": "[::1]:5432"}, "env": {"PASSWORD": "pw"}},
      {"name": "api", "command": ["api"], "layer": "throat", "depends_on": ["db"],
       "probe": {"http": "http://127.0.0.1/h", "failure_threshold": 9},
       "backoff": {"jitter": false}}]})");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  nlohmann::json doc = {{"components", nlohmann::json::array()}};
  for (const ComponentSpec& c : config->components) {
    doc["components"].push_back(ComponentSpecToJson(c));
  }
  auto again = Json(doc.dump());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  for (size_t i = 0; i < config->components.size(); ++i) {
    EXPECT_EQ(ComponentSpecToJson(config->components[i]),
              ComponentSpecToJson(again->components[i]));
  }
  nlohmann::json redacted = ComponentSpecToJson(config->components[0], /*redact_env=*/true);
  EXPECT_EQ(redacted["env"]["PASSWORD"], "<redacted>");
  EXPECT_EQ(redacted.dump().find("\"pw\""), std::string::npos);
}


// --- Regressions of issue 9 ------------------------------------------------

// Regression: a config nested ~70,000 levels deep crashed `razar check` and
// `razar boot` (stack overflow while building the "got ..." message). Now
// it is refused, with the line, before any parser recurses into it.
TEST(ConfigTest, ConfigNestedSeventyThousandLevelsDeepIsAOneLineError) {
  const std::string deep_json =
      R"({"components": [{"name": "db", "command": )" + std::string(70'000, '[') +
      std::string(70'000, ']') + "}]}";
  ExpectError(Json(deep_json), {kFile, "nested deeper than 64 levels", "line 1"});
  const std::string deep_yaml =
      "components:\n  - name: db\n    command: " + std::string(70'000, '[') +
      std::string(70'000, ']') + "\n";
  ExpectError(Yaml(deep_yaml), {"boot.yaml", "nested deeper than 64 levels", "line 3"});
  // A string holding brackets is not nesting.
  auto ok = Json(One(R"("env": {"X": ")" + std::string(200, '[') + R"("})"));
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

// Regression: a directory given as the config path said "pread: Is a
// directory" without naming the file.
TEST(ConfigTest, DirectoryAsConfigPathNamesThePath) {
  TempDir dir;
  Result<BootConfig> r = LoadBootConfig(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir.path()), std::string::npos) << r.status().ToString();
}

// Regression: `"http": {"bind": "0.0.0.0"}` was accepted without a token,
// and the node's status was served to every interface.
TEST(ConfigTest, PublicBindWithoutATokenIsRefusedUnlessExplicitlyAllowed) {
  const std::string comp = R"({"name":"db","command":["db-server"]})";
  ExpectError(Json(R"({"components":[)" + comp + R"(], "http": {"bind": "0.0.0.0"}})"),
              {kFile, "http.bind", "token", "allow_public_without_token"});
  auto allowed = Json(R"({"components":[)" + comp +
                      R"(], "http": {"bind": "0.0.0.0", "allow_public_without_token": true}})");
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_TRUE(allowed->http.allow_public_without_token);
  for (const char* loopback : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    auto r = Json(R"({"components":[)" + comp + R"(], "http": {"bind": ")" + loopback + R"("}})");
    EXPECT_TRUE(r.ok()) << loopback << ": " << r.status().ToString();
  }
  auto off = Json(R"({"components":[)" + comp + R"(], "http": {"bind": "0.0.0.0", "port": 0}})");
  EXPECT_TRUE(off.ok()) << "no server, nothing exposed: " << off.status().ToString();
}

TEST(ConfigTest, StartGraceDefaultsToOneSecondAndZeroIsAllowed) {
  auto d = Json(One(""));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->components[0].start_grace_ms, 1'000u);
  auto z = Json(One(R"("start_grace_ms": 0)"));
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  EXPECT_EQ(z->components[0].start_grace_ms, 0u);
  ExpectError(Json(One(R"("start_grace_ms": -1)")), {kFile, "start_grace_ms"});
}

// Regression: `razar check` passed a command that does not exist and a cwd
// that is missing; both were found only at boot.
TEST(PreflightTest, WarnsAboutMissingProgramsAndDirectories) {
  TempDir dir;
  const std::string path = dir.Sub("boot.json");
  WriteFile(path, R"({"components": [
      {"name": "ok", "command": ["sh", "-c", "true"], "health_check": ["/bin/true"]},
      {"name": "ghost", "command": ["no-such-program-razar-test"]},
      {"name": "lost", "command": ["./run.sh"], "cwd": "does/not/exist"},
      {"name": "probe", "command": ["/bin/true"], "health_check": ["./nope.sh"]}]})");
  Result<BootConfig> cfg = LoadBootConfig(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  const std::vector<std::string> w = PreflightWarnings(*cfg);
  ASSERT_EQ(w.size(), 4u) << ::testing::PrintToString(w);
  auto has = [&](const std::string& a, const std::string& b) {
    for (const auto& line : w) {
      if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("\"ghost\"", "key \"command\""));
  EXPECT_TRUE(has("\"lost\"", "key \"cwd\""));
  EXPECT_TRUE(has("\"lost\"", "key \"command\"")) << "relative to a cwd that does not exist";
  EXPECT_TRUE(has("\"probe\"", "key \"probe.command\""));
  EXPECT_FALSE(has("\"ok\"", "")) << "sh is found in PATH, /bin/true is executable";
}

}  // namespace
}  // namespace razar::orchestrator
