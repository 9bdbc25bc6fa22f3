// razar-replay, the forensic tool (replay/replay_cli.h), called in-process
// through ReplayToolMain with string streams, over spines written through
// the Spine API:
//  - a clean spine: every subcommand reports what was written (records,
//    LSNs, snapshots, filtered dumps, the timeline, rebuilt states equal to
//    the live state and to a reference replay of the log prefix);
//  - evidence is never modified: every file of the spine (RocksDB's LOCK,
//    LOG and MANIFEST included) is byte-for-byte the same after every
//    subcommand and no file appears;
//  - bad input is a one-line error and exit 2; --help prints usage;
//  - damaged spines (torn newest segment, a flipped byte in an older one, a
//    corrupt snapshot value) still yield everything readable, with exit 1;
//  - a live spine (a child process appending and snapshotting) can be
//    inspected while it is written, and after it is SIGKILLed;
//  - the progress bar is drawn only on a terminal.
//
// The live writer is a program of its own (replay_live_writer.cc, started
// with fork + execve), so it inherits no RocksDB state from this process.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "replay/replay.h"
#include "replay/replay_cli.h"
#include "testing/child_process.h"
#include "testing/spine_test_util.h"

namespace razar::replay {
namespace {

using json = nlohmann::json;
using storage::ComponentState;
using storage::Durability;
using storage::kLayerCount;
using storage::Layer;
using storage::LayerName;
using storage::LayerState;
using storage::Lsn;
using storage::RecordEncoder;
using storage::RecordKind;
using storage::RecordKindName;
using storage::RecoveryMode;
using storage::SnapshotWriteMethod;
using storage::Spine;
using storage::State;
using namespace storage::testing;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
namespace lf = storage::log_format;

// ---------------------------------------------------------------------------
// Running the tool.

struct ToolRun {
  int code = -1;
  std::string out, err;
  std::string cmd;  // for failure messages
};

ToolRun Tool(const std::vector<std::string>& args, bool err_is_tty = false) {
  ToolRun r;
  std::vector<std::string> owned = {"razar-replay"};
  owned.insert(owned.end(), args.begin(), args.end());
  for (const auto& a : owned) r.cmd += (r.cmd.empty() ? "" : " ") + a;
  std::vector<char*> argv;
  for (auto& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::ostringstream out, err;
  try {
    r.code = ReplayToolMain(static_cast<int>(owned.size()), argv.data(), out, err, err_is_tty);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "an exception escaped ReplayToolMain for `" << r.cmd << "`: " << e.what();
    r.code = -1;
  }
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string Show(const ToolRun& r) {
  auto cut = [](const std::string& s) { return s.size() > 3000 ? s.substr(0, 3000) + "..." : s; };
  return "`" + r.cmd + "` exit " + std::to_string(r.code) + "\n--- out:\n" + cut(r.out) +
         "\n--- err:\n" + cut(r.err);
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Parses a whole JSON document; a parse failure fails the test and gives null.
json ParseJson(const std::string& text, const std::string& what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << what << " is not JSON:\n" << text.substr(0, 2000);
  return j.is_discarded() ? json() : j;
}

// JSON lines (one object per line) of `dump --format json`.
std::vector<json> ParseJsonLines(const ToolRun& r) {
  std::vector<json> out;
  for (const std::string& line : Lines(r.out)) {
    json j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "not a JSON object line: " << line << "\n" << Show(r);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<Lsn> LsnsOf(const std::vector<json>& lines) {
  std::vector<Lsn> out;
  for (const json& j : lines) out.push_back(j.value("lsn", Lsn{0}));
  return out;
}

std::string ReadText(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Our own hex (the tool's Hex is under test).
std::string HexOf(const std::vector<uint8_t>& b) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

// ---------------------------------------------------------------------------
// What was written: one entry per appended record, with what the filters and
// the timeline look at.

struct Entry {
  Lsn lsn = 0;
  int64_t ts = 0;  // from the log
  RecordKind kind = RecordKind::kBeat;
  Layer layer = Layer::root;
  std::optional<uint64_t> session;
  uint32_t comp_id = 0;   // 0: the record carries no component id
  std::string comp_name;  // "" : the record carries no component name
  // Timeline fields; `what` empty: not a timeline event.
  std::string what, state, detail;
};

Entry MakeEntry(RecordKind kind, Layer layer, std::optional<uint64_t> session = std::nullopt,
                uint32_t comp_id = 0, std::string comp_name = "", std::string what = "",
                std::string state = "", std::string detail = "") {
  Entry e;
  e.kind = kind;
  e.layer = layer;
  e.session = session;
  e.comp_id = comp_id;
  e.comp_name = std::move(comp_name);
  e.what = std::move(what);
  e.state = std::move(state);
  e.detail = std::move(detail);
  return e;
}

struct Comp {
  uint32_t id;
  const char* name;
  Layer layer;
};
constexpr Comp kComps[] = {{1, "db", Layer::root},
                           {2, "api", Layer::heart},
                           {3, "ui", Layer::crown},
                           {4, "cache", Layer::solar}};

struct WrittenSpine {
  TempDir dir{"razar-tooltest-clean"};
  std::string spine;  // dir/spine
  std::vector<Entry> journal;
  std::vector<OwnedRecord> records;  // the whole log as read back
  std::array<uint64_t, kLayerCount> snap_ids{}, snap_sessions{}, snap_events{};
  Lsn last_before_snapshot = 0;
  std::unique_ptr<State> live;
};

// Appends a scripted history (sessions, updates, events, beats, status
// changes, a rename, chakra_down/up, failure pulses through Spine::Append)
// with one SnapshotAll half way, into one 4 MiB segment so the whole log
// stays (the point-in-time references replay it from LSN 1). Returns "" or
// what failed.
std::string WriteScriptedSpine(WrittenSpine* w) {
  constexpr int kRounds = 60;
  w->spine = w->dir.Sub("spine");
  auto o = TestSpineOptions(w->spine, SnapshotWriteMethod::kSstIngest, Durability::kNone, 4u << 20);
  auto sp = Spine::Open(o);
  if (!sp.ok()) return "Spine::Open: " + sp.status().ToString();
  Spine* s = sp->get();
  RecordEncoder enc;
  std::string err;
  auto add = [&](Result<Lsn> r, Entry e) {
    if (!r.ok()) {
      if (err.empty()) err = std::string(RecordKindName(e.kind)) + ": " + r.status().ToString();
      return;
    }
    e.lsn = *r;
    w->journal.push_back(std::move(e));
  };
  auto beat = [&](uint32_t id, Layer l, uint64_t seq) {
    add(s->Beat(id, l, seq), MakeEntry(RecordKind::kBeat, l, std::nullopt, id));
  };
  auto status = [&](uint32_t id, const std::string& name, Layer l, ComponentState st,
                    const std::string& detail) {
    add(s->ComponentStatus(id, name, l, st, detail),
        MakeEntry(RecordKind::kComponentStatus, l, std::nullopt, id, name, "component",
                  storage::ComponentStateName(st), detail));
  };
  auto open = [&](uint64_t sid, Layer l, uint32_t id, const std::string& name,
                  const std::vector<uint8_t>& st) {
    add(s->OpenSession(sid, l, id, name, st),
        MakeEntry(RecordKind::kSessionOpen, l, sid, id, name));
  };
  auto down = [&](Layer l, const std::string& reason) {
    add(s->ChakraDown(l, reason),
        MakeEntry(RecordKind::kChakraDown, l, std::nullopt, 0, "", "chakra_down", "", reason));
  };
  auto up = [&](Layer l) {
    add(s->ChakraUp(l), MakeEntry(RecordKind::kChakraUp, l, std::nullopt, 0, "", "chakra_up"));
  };
  auto pulse = [&](Layer l, const std::string& comp, const std::string& kind, uint32_t ms) {
    RecordEncoder::Encoded e = enc.FailurePulse(l, comp, kind, ms);
    add(s->Append(e.type, e.payload), MakeEntry(RecordKind::kFailurePulse, l, std::nullopt, 0, comp,
                                                "pulse", kind, std::to_string(ms) + " ms"));
  };

  // A beat of db before any record names it: a name filter must not claim it.
  beat(1, Layer::root, 0);
  for (const Comp& c : kComps) status(c.id, c.name, c.layer, ComponentState::starting, "boot");
  std::map<uint64_t, Layer> open_sessions;
  std::map<uint64_t, uint64_t> pending;  // event -> session
  for (int r = 0; r < kRounds && err.empty(); ++r) {
    for (const Comp& c : kComps) beat(c.id, c.layer, static_cast<uint64_t>(r) + 1);
    const Comp& c = kComps[r % 4];
    const uint64_t sid = 100 + static_cast<uint64_t>(r);
    open(sid, c.layer, c.id, c.name, PatternBytes(static_cast<uint64_t>(r), 8 + r % 16));
    open_sessions[sid] = c.layer;
    if (open_sessions.count(sid - 1)) {
      add(s->UpdateSession(sid - 1, PatternBytes(1000 + static_cast<uint64_t>(r), 12)),
          MakeEntry(RecordKind::kSessionUpdate, open_sessions[sid - 1], sid - 1));
    }
    const uint64_t ev = 5000 + static_cast<uint64_t>(r);
    add(s->EventPending(ev, sid, PatternBytes(2000 + static_cast<uint64_t>(r), 10)),
        MakeEntry(RecordKind::kEventPending, c.layer, sid));
    pending[ev] = sid;
    if (r % 3 == 2 && pending.count(ev - 1) && open_sessions.count(pending[ev - 1])) {
      const uint64_t es = pending[ev - 1];
      add(s->EventDone(ev - 1, es), MakeEntry(RecordKind::kEventDone, open_sessions[es], es));
      pending.erase(ev - 1);
    }
    if (r % 5 == 4 && open_sessions.count(sid - 4)) {
      add(s->CloseSession(sid - 4),
          MakeEntry(RecordKind::kSessionClose, open_sessions[sid - 4], sid - 4));
      open_sessions.erase(sid - 4);
    }
    if (r % 4 == 1) {
      const Comp& sc = kComps[(r / 4) % 4];
      status(sc.id, sc.name, sc.layer,
             r % 8 == 1 ? ComponentState::failed : ComponentState::healthy,
             "round " + std::to_string(r));
    }
    if (r == 7) down(Layer::heart, "api lost");
    if (r == 8) pulse(Layer::heart, "api", "kill", 250);
    if (r == 9) up(Layer::heart);
    if (r == 11) {
      status(5, "worker", Layer::throat, ComponentState::healthy, "first name");
      beat(5, Layer::throat, 1);
    }
    if (r == 12) {  // component 5 is renamed
      status(5, "worker-v2", Layer::throat, ComponentState::patched, "renamed");
      open(900, Layer::throat, 5, "worker-v2", PatternBytes(900, 20));
      beat(5, Layer::throat, 2);
    }
    if (r == kRounds / 2) {
      w->last_before_snapshot = w->journal.back().lsn;
      auto reps = s->SnapshotAll();
      if (!reps.ok()) return "SnapshotAll: " + reps.status().ToString();
      for (const auto& rep : *reps) {
        const int li = static_cast<int>(rep.layer);
        w->snap_ids[li] = rep.snapshot_id;
        w->snap_sessions[li] = rep.sessions;
        w->snap_events[li] = rep.events;
      }
    }
    if (r == kRounds - 3) {
      down(Layer::root, "db gone");
      pulse(Layer::root, "db", "timeout", 1200);
    }
  }
  if (!err.empty()) return err;
  w->live = std::make_unique<State>(s->CopyState());
  Status cs = s->Close();
  if (!cs.ok()) return "Close: " + cs.ToString();
  ReadResult rr = ReadLog(w->spine + "/log", RecoveryMode::kAbsoluteConsistency);
  if (!rr.status.ok()) return "reading the log back: " + rr.status.ToString();
  w->records = std::move(rr.records);
  if (w->records.size() != w->journal.size()) {
    return "log holds " + std::to_string(w->records.size()) + " records, " +
           std::to_string(w->journal.size()) + " were appended";
  }
  for (size_t i = 0; i < w->journal.size(); ++i) {
    if (w->records[i].lsn != w->journal[i].lsn) return "journal and log LSNs disagree";
    w->journal[i].ts = w->records[i].timestamp_ns;
  }
  return "";
}

// The clean spine, written once and shared by the read-only tests (which
// never write to it); removed at exit.
struct CleanSpineHolder {
  WrittenSpine w;
  std::string error;
};
const WrittenSpine& CleanSpine(std::string* error) {
  static CleanSpineHolder h;
  static const bool written = [] {
    h.error = WriteScriptedSpine(&h.w);
    return true;
  }();
  (void)written;
  *error = h.error;
  return h.w;
}

#define RAZAR_CLEAN_SPINE(var)                              \
  RAZAR_SKIP_WITHOUT_URING();                               \
  std::string clean_spine_error;                            \
  const WrittenSpine& var = CleanSpine(&clean_spine_error); \
  ASSERT_EQ(clean_spine_error, "") << "cannot build the test spine"

// ---------------------------------------------------------------------------
// Reference states and comparisons.

// Applies, in log order, the records `take` accepts.
State ApplyRecords(const std::vector<OwnedRecord>& recs,
                   const std::function<bool(const OwnedRecord&)>& take) {
  State st;
  for (const OwnedRecord& r : recs) {
    if (!take(r)) continue;
    Result<storage::DecodedRecord> d = storage::DecodeRecord(r.type, r.payload);
    EXPECT_TRUE(d.ok()) << "LSN " << r.lsn << ": " << d.status().ToString();
    if (d.ok()) st.Apply(r.lsn, r.timestamp_ns, *d);
  }
  return st;
}

State PrefixState(const std::vector<OwnedRecord>& recs, Lsn last) {
  return ApplyRecords(recs, [last](const OwnedRecord& r) { return r.lsn <= last; });
}

struct LayerCounts {
  uint64_t sessions = 0, events = 0, components = 0;
  bool down = false;
  bool operator==(const LayerCounts&) const = default;
};

std::array<LayerCounts, kLayerCount> CountsOf(const State& st) {
  std::array<LayerCounts, kLayerCount> out;
  for (int li = 0; li < kLayerCount; ++li) {
    const LayerState& ls = st.layer(static_cast<Layer>(li));
    for (const auto& sh : ls.shards) {
      out[li].sessions += sh.sessions.size();
      out[li].events += sh.events.size();
    }
    out[li].components = ls.components.size();
    out[li].down = ls.meta.down;
  }
  return out;
}

// Compares `rebuild --format json` counts with a state; "" or the difference.
std::string RebuildCountsDiff(const json& j, const State& st) {
  if (!j.is_object()) return "no JSON";
  if (j.value("sessions", uint64_t{0}) != st.session_count()) {
    return "sessions " + j["sessions"].dump() + ", expected " + std::to_string(st.session_count());
  }
  if (j.value("pending_events", uint64_t{0}) != st.event_count()) {
    return "pending_events " + j["pending_events"].dump() + ", expected " +
           std::to_string(st.event_count());
  }
  const auto want = CountsOf(st);
  for (int li = 0; li < kLayerCount; ++li) {
    const char* ln = LayerName(static_cast<Layer>(li));
    if (!j.contains("layers") || !j["layers"].contains(ln)) return std::string("no layer ") + ln;
    const json& l = j["layers"][ln];
    LayerCounts got{l.value("sessions", uint64_t{0}), l.value("pending_events", uint64_t{0}),
                    l.value("components", uint64_t{0}), l.value("down", false)};
    if (!(got == want[li])) return std::string("layer ") + ln + " counts differ: " + l.dump();
  }
  return "";
}

// Compares a `rebuild --export` document with a state, field by field;
// "" or the first difference.
std::string ExportDiff(const json& j, const State& st) {
  if (!j.is_object() || j.value("format", "") != "razar-state") return "not a razar-state export";
  for (Layer l : kAllLayers) {
    const std::string ln = LayerName(l);
    if (!j["layers"].contains(ln)) return "no layer " + ln;
    const json& jl = j["layers"][ln];
    const LayerState& ls = st.layer(l);
    std::map<uint64_t, const storage::Session*> sessions;
    std::map<uint64_t, const storage::PendingEvent*> events;
    for (const auto& sh : ls.shards) {
      for (const auto& [id, p] : sh.sessions) sessions[id] = p.get();
      for (const auto& [id, p] : sh.events) events[id] = p.get();
    }
    if (jl["sessions"].size() != sessions.size()) {
      return ln + ": " + std::to_string(jl["sessions"].size()) + " sessions exported, " +
             std::to_string(sessions.size()) + " expected";
    }
    for (const json& e : jl["sessions"]) {
      const uint64_t id = e.value("session_id", uint64_t{0});
      auto it = sessions.find(id);
      const std::string w = ln + " session " + std::to_string(id);
      if (it == sessions.end()) return w + ": not expected";
      const storage::Session& s = *it->second;
      if (e.value("component_id", uint32_t{0}) != s.component_id) return w + ": component_id";
      if (e.value("component", "") != s.component) return w + ": component";
      if (e.value("state", "") != HexOf(s.state)) return w + ": state bytes differ";
      if (e.value("opened_lsn", Lsn{0}) != s.opened_lsn) return w + ": opened_lsn";
      if (e.value("updated_lsn", Lsn{0}) != s.updated_lsn) return w + ": updated_lsn";
      json kv = json::object();
      for (const auto& [k, v] : s.kv) kv[k] = HexOf(v);
      if (e["kv"] != kv) return w + ": kv";
    }
    if (jl["pending_events"].size() != events.size()) {
      return ln + ": " + std::to_string(jl["pending_events"].size()) + " events exported, " +
             std::to_string(events.size()) + " expected";
    }
    for (const json& e : jl["pending_events"]) {
      const uint64_t id = e.value("event_id", uint64_t{0});
      auto it = events.find(id);
      const std::string w = ln + " event " + std::to_string(id);
      if (it == events.end()) return w + ": not expected";
      if (e.value("session_id", uint64_t{0}) != it->second->session_id) return w + ": session";
      if (e.value("payload", "") != HexOf(it->second->payload)) return w + ": payload differs";
      if (e.value("lsn", Lsn{0}) != it->second->lsn) return w + ": lsn";
    }
    if (jl["components"].size() != ls.components.size()) return ln + ": component count";
    for (const json& e : jl["components"]) {
      const uint32_t id = e.value("component_id", uint32_t{0});
      auto it = ls.components.find(id);
      const std::string w = ln + " component " + std::to_string(id);
      if (it == ls.components.end()) return w + ": not expected";
      const storage::Component& c = it->second;
      if (e.value("name", "") != c.name) return w + ": name";
      if (e.value("last_beat_seq", uint64_t{0}) != c.last_beat_seq) return w + ": last_beat_seq";
      if (e.value("last_beat_lsn", Lsn{0}) != c.last_beat_lsn) return w + ": last_beat_lsn";
      if (c.has_state != e.contains("state")) return w + ": has_state";
      if (c.has_state && e.value("state", "") != storage::ComponentStateName(c.state)) {
        return w + ": state";
      }
      if (c.has_state && e.value("detail", "") != c.detail) return w + ": detail";
    }
    if (jl.value("down", false) != ls.meta.down) return ln + ": down";
    if (jl.value("reason", "") != ls.meta.reason) return ln + ": reason";
    if (jl.value("pulses", uint64_t{0}) != ls.meta.pulses) return ln + ": pulses";
  }
  return "";
}

// ---------------------------------------------------------------------------
// Log surgery.

struct RecordAt {
  uint64_t offset;
  Lsn lsn;
  uint32_t payload_len;
};

// Walks a segment file record by record (as the writer laid it out).
std::vector<RecordAt> RecordsInSegment(const std::string& path) {
  std::vector<RecordAt> out;
  Lsn seed = 0;
  EXPECT_TRUE(lf::ParseSegmentFileName(fs::path(path).filename().string(), &seed)) << path;
  const std::vector<uint8_t> bytes = ReadFileBytes(path);
  uint64_t pos = lf::kSegmentHeaderBytes;
  storage::RecordView v;
  uint64_t fp = 0;
  while (storage::VerifyRecordAt(bytes.data(), bytes.size(), pos, seed, &v, &fp)) {
    out.push_back({pos, v.lsn, static_cast<uint32_t>(v.payload.size())});
    pos += fp;
  }
  return out;
}

// A spine with only a log (no snapshot, so no segment is ever deleted) of
// `ops` random operations in 64 KiB segments.
std::string WriteLogOnlySpine(const std::string& spine, uint64_t seed, int ops) {
  auto sp = Spine::Open(TestSpineOptions(spine, SnapshotWriteMethod::kSstIngest));
  if (!sp.ok()) return "Spine::Open: " + sp.status().ToString();
  RecordEncoder enc;
  OpGen gen(seed, 0, 300);
  for (int i = 0; i < ops; ++i) {
    Result<Lsn> l = RunOp(sp->get(), enc, gen.Next());
    if (!l.ok()) return "op " + std::to_string(i) + ": " + l.status().ToString();
  }
  Status cs = (*sp)->Close();
  return cs.ok() ? "" : "Close: " + cs.ToString();
}

// ---------------------------------------------------------------------------
// Fingerprint of a directory tree: every entry's relative path, type, size,
// mtime and XXH3 of the content.

struct FileFp {
  bool dir = false;
  uint64_t size = 0;
  uint64_t hash = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileFp&) const = default;
};
using TreeFp = std::map<std::string, FileFp>;

TreeFp Fingerprint(const std::string& root) {
  TreeFp out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string rel = fs::relative(e.path(), root).string();
    struct stat st {};
    EXPECT_EQ(::lstat(e.path().c_str(), &st), 0) << e.path();
    FileFp f;
    f.dir = S_ISDIR(st.st_mode);
    f.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (S_ISREG(st.st_mode)) {
      const std::vector<uint8_t> bytes = ReadFileBytes(e.path().string());
      f.size = bytes.size();
      f.hash = XXH3_64bits(bytes.data(), bytes.size());
    }
    out[rel] = f;
  }
  return out;
}

std::string TreeDiff(const TreeFp& before, const TreeFp& after) {
  std::string d;
  for (const auto& [k, v] : before) {
    auto it = after.find(k);
    if (it == after.end()) {
      d += "  removed: " + k + "\n";
    } else if (!(it->second == v)) {
      d += "  changed: " + k + " (size " + std::to_string(v.size) + " -> " +
           std::to_string(it->second.size) + (v.hash != it->second.hash ? ", content" : "") +
           (v.mtime_ns != it->second.mtime_ns ? ", mtime" : "") + ")\n";
    }
  }
  for (const auto& [k, v] : after) {
    if (!before.count(k)) d += "  new: " + k + "\n";
  }
  return d;
}

// ---------------------------------------------------------------------------
// Bad input: exit 2, nothing on out, one error line on err naming the
// problem. CLI11 parse errors add the usage hint "Run with --help for
// usage." as a second line; that hint is the only extra line allowed.

void ExpectUsageError(const ToolRun& r, const std::vector<std::string>& must_name) {
  EXPECT_EQ(r.code, kExitUsage) << Show(r);
  EXPECT_EQ(r.out, "") << Show(r);
  std::vector<std::string> lines = Lines(r.err);
  if (lines.size() == 2 && lines[1] == "Run with --help for usage.") lines.pop_back();
  ASSERT_EQ(lines.size(), 1u) << "want exactly one error line\n" << Show(r);
  EXPECT_EQ(lines[0].rfind("razar-replay: ", 0), 0u) << Show(r);
  for (const std::string& s : must_name) {
    EXPECT_NE(lines[0].find(s), std::string::npos) << "error should name '" << s << "'\n"
                                                   << Show(r);
  }
}

const std::vector<std::string> kSubcommands = {"info", "verify", "dump", "timeline", "rebuild"};

// ===========================================================================
// 1. A clean spine.

TEST(ReplayToolCleanSpineTest, InfoJsonReportsRecordsLsnsAndOneSnapshotPerLayer) {
  RAZAR_CLEAN_SPINE(w);
  const ToolRun r = Tool({"info", "--spine", w.spine, "--format", "json"});
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  EXPECT_EQ(r.err, "") << Show(r);
  const json j = ParseJson(r.out, "info --format json");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["records"], w.journal.size());
  EXPECT_EQ(j["first_lsn"], 1u);
  EXPECT_EQ(j["last_lsn"], w.journal.back().lsn);
  EXPECT_EQ(j["first_time"], FormatTime(w.journal.front().ts));
  EXPECT_EQ(j["last_time"], FormatTime(w.journal.back().ts));
  EXPECT_EQ(j["live"], false);
  EXPECT_TRUE(j["damages"].empty()) << j["damages"].dump();
  EXPECT_TRUE(j["problems"].empty()) << j["problems"].dump();
  ASSERT_EQ(j["segments"].size(), 1u);
  EXPECT_EQ(j["segments"][0]["name"], "00000000000000000001.hblog");
  EXPECT_EQ(j["segments"][0]["records"], w.journal.size());
  EXPECT_EQ(j["segments"][0]["damaged"], false);
  for (int li = 0; li < kLayerCount; ++li) {
    const char* ln = LayerName(static_cast<Layer>(li));
    ASSERT_TRUE(j["snapshots"].contains(ln)) << ln;
    const json& a = j["snapshots"][ln];
    ASSERT_EQ(a.size(), 1u) << ln << ": " << a.dump();
    EXPECT_EQ(a[0]["id"], w.snap_ids[li]) << ln;
    EXPECT_EQ(a[0]["sessions"], w.snap_sessions[li]) << ln;
    EXPECT_EQ(a[0]["events"], w.snap_events[li]) << ln;
    EXPECT_EQ(a[0]["max_lsn"], w.last_before_snapshot) << ln;
  }
}

TEST(ReplayToolCleanSpineTest, InfoTableNamesTheSegmentAndEveryLayer) {
  RAZAR_CLEAN_SPINE(w);
  const ToolRun r = Tool({"info", "--spine", w.spine});
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  EXPECT_NE(r.out.find(std::to_string(w.journal.size()) + " records"), std::string::npos)
      << Show(r);
  EXPECT_NE(r.out.find("00000000000000000001.hblog"), std::string::npos) << Show(r);
  for (Layer l : kAllLayers) EXPECT_NE(r.out.find(LayerName(l)), std::string::npos) << Show(r);
}

TEST(ReplayToolCleanSpineTest, VerifyExitsZeroAndSaysClean) {
  RAZAR_CLEAN_SPINE(w);
  const ToolRun t = Tool({"verify", "--spine", w.spine});
  EXPECT_EQ(t.code, kExitOk) << Show(t);
  EXPECT_NE(t.out.find("clean"), std::string::npos) << Show(t);
  EXPECT_NE(t.out.find(std::to_string(w.journal.size()) + " records"), std::string::npos)
      << Show(t);
  const ToolRun r = Tool({"verify", "--spine", w.spine, "--format", "json"});
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  const json j = ParseJson(r.out, "verify --format json");
  EXPECT_EQ(j["clean"], true);
  EXPECT_EQ(j["live"], false);
  EXPECT_EQ(j["records"], w.journal.size());
  EXPECT_EQ(j["segments"], 1u);
  EXPECT_EQ(j["snapshots"], static_cast<uint64_t>(kLayerCount));
  EXPECT_TRUE(j["damages"].empty()) << j["damages"].dump();
}

// Expected dump for a predicate over the journal.
std::vector<Lsn> Expected(const WrittenSpine& w, const std::function<bool(const Entry&)>& pred) {
  std::vector<Lsn> out;
  for (const Entry& e : w.journal) {
    if (pred(e)) out.push_back(e.lsn);
  }
  return out;
}

// The documented name rule (forensics.h, DumpFilter::component): records
// that carry the name, and beats of the ids seen with it earlier in the log.
std::vector<Lsn> ExpectedByName(const WrittenSpine& w, const std::string& name) {
  std::vector<Lsn> out;
  std::set<uint32_t> ids;
  for (const Entry& e : w.journal) {
    if (e.comp_name == name) {
      if (e.comp_id != 0) ids.insert(e.comp_id);
      out.push_back(e.lsn);
    } else if (e.kind == RecordKind::kBeat && ids.count(e.comp_id)) {
      out.push_back(e.lsn);
    }
  }
  return out;
}

TEST(ReplayToolCleanSpineTest, DumpJsonPrintsOneLinePerRecordWithItsKindAndLayer) {
  RAZAR_CLEAN_SPINE(w);
  const ToolRun r = Tool({"dump", "--spine", w.spine, "--format", "json"});
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  EXPECT_EQ(r.err, "");
  const std::vector<json> lines = ParseJsonLines(r);
  ASSERT_EQ(lines.size(), w.journal.size()) << "one JSON line per record, nothing else";
  for (size_t i = 0; i < lines.size(); ++i) {
    const Entry& e = w.journal[i];
    EXPECT_EQ(lines[i]["lsn"], e.lsn);
    EXPECT_EQ(lines[i]["kind"], RecordKindName(e.kind)) << "LSN " << e.lsn;
    EXPECT_EQ(lines[i]["layer"], LayerName(e.layer)) << "LSN " << e.lsn;
    EXPECT_EQ(lines[i]["time"], FormatTime(e.ts)) << "LSN " << e.lsn;
    if (e.session) {
      EXPECT_EQ(lines[i]["session_id"], *e.session) << "LSN " << e.lsn;
    }
    if (e.kind == RecordKind::kSessionOpen && *e.session == 103) {
      EXPECT_EQ(lines[i]["state"], HexOf(PatternBytes(3, 11))) << "session 103's opening state";
      EXPECT_EQ(lines[i]["component"], "cache");
    }
  }
  const ToolRun t = Tool({"dump", "--spine", w.spine});
  ASSERT_EQ(t.code, kExitOk) << Show(t);
  const std::string n = std::to_string(w.journal.size());
  EXPECT_NE(t.out.find(n + " of " + n + " records matched"), std::string::npos) << Show(t);
}

TEST(ReplayToolCleanSpineTest, DumpFiltersSelectExactlyTheMatchingRecords) {
  RAZAR_CLEAN_SPINE(w);
  const Lsn last = w.journal.back().lsn;
  const int64_t t_from = w.journal[w.journal.size() / 4].ts;
  const int64_t t_to = w.journal[w.journal.size() / 2].ts;
  struct Case {
    std::vector<std::string> args;
    std::vector<Lsn> want;
  };
  const std::vector<Case> cases = {
      {{"--layer", "heart"}, Expected(w, [](const Entry& e) { return e.layer == Layer::heart; })},
      {{"--layer", "third_eye"}, {}},
      {{"--session", "103"}, Expected(w, [](const Entry& e) { return e.session == 103u; })},
      {{"--component", "2"}, Expected(w, [](const Entry& e) { return e.comp_id == 2; })},
      {{"--component", "api"}, ExpectedByName(w, "api")},
      {{"--component", "db"}, ExpectedByName(w, "db")},
      {{"--kind", "component_status"},
       Expected(w, [](const Entry& e) { return e.kind == RecordKind::kComponentStatus; })},
      {{"--kind", "failure_pulse"},
       Expected(w, [](const Entry& e) { return e.kind == RecordKind::kFailurePulse; })},
      {{"--from", "40", "--to", "90"},
       Expected(w, [](const Entry& e) { return e.lsn >= 40 && e.lsn <= 90; })},
      {{"--from", "lsn:" + std::to_string(last - 5)},
       Expected(w, [last](const Entry& e) { return e.lsn >= last - 5; })},
      {{"--to", "7"}, Expected(w, [](const Entry& e) { return e.lsn <= 7; })},
      {{"--from", FormatTime(t_from), "--to", FormatTime(t_to)},
       Expected(w, [&](const Entry& e) { return e.ts >= t_from && e.ts <= t_to; })},
      {{"--layer", "heart", "--kind", "beat", "--from", "100"},
       Expected(w,
                [](const Entry& e) {
                  return e.layer == Layer::heart && e.kind == RecordKind::kBeat && e.lsn >= 100;
                })},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"dump", "--spine", w.spine, "--format", "json"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const ToolRun r = Tool(args);
    ASSERT_EQ(r.code, kExitOk) << Show(r);
    EXPECT_EQ(LsnsOf(ParseJsonLines(r)), c.want) << Show(r);
  }
  // Sanity of the expectations themselves: every case selects something
  // but not everything, except the empty layer.
  EXPECT_GT(cases[0].want.size(), 10u);
  EXPECT_LT(cases[0].want.size(), w.journal.size());
  EXPECT_FALSE(cases[4].want.empty());
  EXPECT_EQ(
      cases[5].want.size() + 1,
      Expected(w, [](const Entry& e) { return e.comp_id == 1 || e.comp_name == "db"; }).size())
      << "the beat of db before its name is excluded, nothing else";
}

TEST(ReplayToolCleanSpineTest, DumpLimitStopsAfterThatManyRecords) {
  RAZAR_CLEAN_SPINE(w);
  const ToolRun r = Tool({"dump", "--spine", w.spine, "--format", "json", "--limit", "5"});
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  EXPECT_EQ(LsnsOf(ParseJsonLines(r)), (std::vector<Lsn>{1, 2, 3, 4, 5}));
  const std::vector<Lsn> downs =
      Expected(w, [](const Entry& e) { return e.kind == RecordKind::kChakraDown; });
  ASSERT_EQ(downs.size(), 2u);
  const ToolRun k = Tool(
      {"dump", "--spine", w.spine, "--format", "json", "--kind", "chakra_down", "--limit", "1"});
  ASSERT_EQ(k.code, kExitOk) << Show(k);
  EXPECT_EQ(LsnsOf(ParseJsonLines(k)), std::vector<Lsn>{downs.front()});
}

// forensics.h: "a name matches records that carry it and beats of the ids
// seen with it earlier in the log". Component 5 is "worker", then renamed
// "worker-v2" (a status and a session open carry the new name): those two
// records carry another name and are not beats.
TEST(ReplayToolCleanSpineTest, ComponentNameFilterSkipsRecordsCarryingAnotherNameOfTheSameId) {
  RAZAR_CLEAN_SPINE(w);
  const ToolRun r = Tool({"dump", "--spine", w.spine, "--format", "json", "--component", "worker"});
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  const std::vector<Lsn> want = ExpectedByName(w, "worker");
  ASSERT_EQ(want.size(), 3u) << "status 'worker', beat 1 and beat 2 of id 5";
  EXPECT_EQ(LsnsOf(ParseJsonLines(r)), want)
      << "records named 'worker-v2' must not match --component worker\n"
      << Show(r);
}

TEST(ReplayToolCleanSpineTest, TimelineListsStatusChangesChakraEventsAndPulsesInTimeOrder) {
  RAZAR_CLEAN_SPINE(w);
  std::vector<const Entry*> want;
  for (const Entry& e : w.journal) {
    if (!e.what.empty()) want.push_back(&e);
  }
  std::stable_sort(want.begin(), want.end(),
                   [](const Entry* a, const Entry* b) { return a->ts < b->ts; });
  ASSERT_GE(want.size(), 20u);
  const ToolRun r = Tool({"timeline", "--spine", w.spine, "--format", "json"});
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  const json j = ParseJson(r.out, "timeline --format json");
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), want.size()) << Show(r);
  for (size_t i = 0; i < want.size(); ++i) {
    const Entry& e = *want[i];
    const json& t = j[i];
    EXPECT_EQ(t["lsn"], e.lsn) << "event #" << i;
    EXPECT_EQ(t["event"], e.what) << "LSN " << e.lsn;
    EXPECT_EQ(t["layer"], LayerName(e.layer)) << "LSN " << e.lsn;
    EXPECT_EQ(t["component"], e.comp_name) << "LSN " << e.lsn;
    EXPECT_EQ(t["state"], e.state) << "LSN " << e.lsn;
    EXPECT_EQ(t["detail"], e.detail) << "LSN " << e.lsn;
    EXPECT_EQ(t["time"], FormatTime(e.ts)) << "LSN " << e.lsn;
    if (i > 0) {
      EXPECT_LE(j[i - 1]["time"], t["time"]) << "time order at #" << i;
    }
  }
  // The pulse and both chakra events of heart, in order.
  const ToolRun h = Tool({"timeline", "--spine", w.spine, "--format", "json", "--layer", "heart"});
  ASSERT_EQ(h.code, kExitOk) << Show(h);
  const json hj = ParseJson(h.out, "timeline --layer heart");
  std::vector<std::string> heart_events;
  for (const json& t : hj) {
    if (t["event"] != "component") heart_events.push_back(t["event"].get<std::string>());
  }
  EXPECT_EQ(heart_events, (std::vector<std::string>{"chakra_down", "pulse", "chakra_up"}));
  const ToolRun tt = Tool({"timeline", "--spine", w.spine});
  ASSERT_EQ(tt.code, kExitOk) << Show(tt);
  EXPECT_NE(tt.out.find("api lost"), std::string::npos) << Show(tt);
  EXPECT_NE(tt.out.find("1200 ms"), std::string::npos) << Show(tt);
}

TEST(ReplayToolCleanSpineTest, RebuildJsonCountsEqualTheLiveStateAndUseTheSnapshots) {
  RAZAR_CLEAN_SPINE(w);
  const ToolRun r = Tool({"rebuild", "--spine", w.spine, "--format", "json"});
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  EXPECT_EQ(r.err, "") << Show(r);
  const json j = ParseJson(r.out, "rebuild --format json");
  EXPECT_EQ(RebuildCountsDiff(j, *w.live), "") << Show(r);
  EXPECT_EQ(j["last_lsn"], w.journal.back().lsn);
  EXPECT_EQ(j["records_read"], w.journal.size());
  EXPECT_EQ(j["records_skipped"], w.last_before_snapshot) << "records held by the snapshots";
  EXPECT_EQ(j["records_applied"], w.journal.size() - w.last_before_snapshot);
  EXPECT_TRUE(j["problems"].empty()) << j["problems"].dump();
  EXPECT_EQ(j["target"], "end of log");
  for (int li = 0; li < kLayerCount; ++li) {
    EXPECT_EQ(j["layers"][LayerName(static_cast<Layer>(li))]["snapshot_id"], w.snap_ids[li]);
  }
  EXPECT_GT(w.live->session_count(), 20u);
  EXPECT_GT(w.live->event_count(), 5u);
  EXPECT_TRUE(w.live->layer(Layer::root).meta.down) << "the script leaves root down";
}

TEST(ReplayToolCleanSpineTest, RebuildExportEqualsTheLiveStateSessionBySession) {
  RAZAR_CLEAN_SPINE(w);
  TempDir out_dir("razar-tooltest-export");
  const std::string path = out_dir.Sub("state.json");
  const ToolRun r = Tool({"rebuild", "--spine", w.spine, "--export", path});
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  const json j = ParseJson(ReadText(path), "the export");
  EXPECT_EQ(ExportDiff(j, *w.live), "");
  // Sessions by id and state bytes, spelled out.
  std::map<uint64_t, std::string> exported, live;
  for (const auto& [ln, l] : j["layers"].items()) {
    for (const json& s : l["sessions"]) {
      exported[s["session_id"].get<uint64_t>()] = s["state"].get<std::string>();
    }
  }
  for (Layer l : kAllLayers) {
    for (const auto& sh : w.live->layer(l).shards) {
      for (const auto& [id, s] : sh.sessions) live[id] = HexOf(s->state);
    }
  }
  EXPECT_EQ(exported, live);
  EXPECT_TRUE(exported.count(900)) << "the session of the renamed component";
}

TEST(ReplayToolCleanSpineTest, RebuildAtAnLsnEqualsTheLogReplayedToThatLsn) {
  RAZAR_CLEAN_SPINE(w);
  TempDir out_dir("razar-tooltest-at");
  const Lsn last = w.journal.back().lsn;
  // Before the snapshots (log alone), exactly at them, and after them.
  for (Lsn at : {w.last_before_snapshot - 10, w.last_before_snapshot, last - 3, Lsn{1}}) {
    const std::string path = out_dir.Sub("at-" + std::to_string(at) + ".json");
    const ToolRun r = Tool({"rebuild", "--spine", w.spine, "--format", "json", "--at",
                            std::to_string(at), "--export", path});
    ASSERT_EQ(r.code, kExitOk) << Show(r);
    const State want = PrefixState(w.records, at);
    const json j = ParseJson(r.out, "rebuild --at");
    EXPECT_EQ(RebuildCountsDiff(j, want), "") << "at " << at << "\n" << Show(r);
    EXPECT_EQ(j["last_lsn"], at);
    EXPECT_EQ(j["target"], "LSN " + std::to_string(at));
    EXPECT_EQ(ExportDiff(ParseJson(ReadText(path), "export"), want), "") << "at " << at;
    const uint64_t heart_snap = j["layers"]["heart"]["snapshot_id"];
    EXPECT_EQ(heart_snap, at >= w.last_before_snapshot ? w.snap_ids[3] : 0u)
        << "a snapshot is used only when it does not reach beyond the target";
  }
}

TEST(ReplayToolCleanSpineTest, RebuildAtATimeEqualsTheLogPrefixUpToThatTime) {
  RAZAR_CLEAN_SPINE(w);
  TempDir out_dir("razar-tooltest-attime");
  for (size_t i : {w.journal.size() / 5, w.journal.size() * 4 / 5}) {
    const int64_t t = w.journal[i].ts;
    // The prefix that ends before the first record stamped later than t.
    Lsn bound = 0;
    for (const Entry& e : w.journal) {
      if (e.ts > t) break;
      bound = e.lsn;
    }
    const std::string path = out_dir.Sub("t" + std::to_string(i) + ".json");
    const ToolRun r = Tool({"rebuild", "--spine", w.spine, "--format", "json", "--at",
                            FormatTime(t), "--export", path});
    ASSERT_EQ(r.code, kExitOk) << Show(r);
    const json j = ParseJson(r.out, "rebuild --at TIME");
    EXPECT_EQ(j["last_lsn"], bound) << Show(r);
    EXPECT_EQ(ExportDiff(ParseJson(ReadText(path), "export"), PrefixState(w.records, bound)), "")
        << "at " << FormatTime(t);
  }
}

TEST(ReplayToolCleanSpineTest, SequentialAndEveryThreadCountGiveIdenticalResults) {
  RAZAR_CLEAN_SPINE(w);
  TempDir out_dir("razar-tooltest-threads");
  const std::vector<std::vector<std::string>> variants = {
      {"--sequential"}, {"--threads", "1"}, {"--threads", "2"}, {"--threads", "4"}};
  std::optional<json> first;
  std::string first_export;
  for (size_t v = 0; v < variants.size(); ++v) {
    const std::string path = out_dir.Sub("v" + std::to_string(v) + ".json");
    std::vector<std::string> args = {"rebuild", "--spine",  w.spine, "--format",
                                     "json",    "--export", path};
    args.insert(args.end(), variants[v].begin(), variants[v].end());
    const ToolRun r = Tool(args);
    ASSERT_EQ(r.code, kExitOk) << Show(r);
    const json j = ParseJson(r.out, "rebuild");
    json counts;
    for (const char* k : {"sessions", "pending_events", "layers", "records_read", "records_applied",
                          "records_skipped", "last_lsn", "problems", "target"}) {
      counts[k] = j[k];
    }
    if (v >= 1) {
      EXPECT_EQ(j["threads"], std::stoi(variants[v][1])) << Show(r);
    }
    const std::string exported = ReadText(path);
    if (!first) {
      first = counts;
      first_export = exported;
      EXPECT_EQ(RebuildCountsDiff(j, *w.live), "");
    } else {
      EXPECT_EQ(counts, *first) << "variant " << variants[v][0];
      EXPECT_EQ(exported, first_export) << "export differs for " << variants[v][0];
    }
  }
}

// ===========================================================================
// 6. Progress.

TEST(ReplayToolProgressTest, RebuildOnATerminalDrawsABarEndingInANewline) {
  RAZAR_CLEAN_SPINE(w);
  for (const char* replayer : {"--sequential", "--threads=2"}) {
    const ToolRun r = Tool({"rebuild", "--spine", w.spine, replayer}, /*err_is_tty=*/true);
    ASSERT_EQ(r.code, kExitOk) << Show(r);
    EXPECT_NE(r.err.find("\r["), std::string::npos) << Show(r);
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.back(), '\n') << Show(r);
    EXPECT_NE(r.err.find(std::to_string(w.journal.size()) + " records"), std::string::npos)
        << "the last bar counts every record\n"
        << Show(r);
    EXPECT_EQ(r.out.find('\r'), std::string::npos) << "the bar goes to err only";
  }
}

// The parallel replayer ends with total = bytes read (a full bar); the
// sequential one ends through ProgressTicker, whose total is the size of
// the segment files (replay.h: "an upper bound"): segments are
// preallocated, so a finished replay of a 4 MiB segment holding a few KiB of
// records ends on an almost empty bar.
TEST(ReplayToolProgressTest, ProgressBarIsFullWhenTheRebuildIsDoneWithEitherReplayer) {
  RAZAR_CLEAN_SPINE(w);
  for (const char* replayer : {"--threads=2", "--sequential"}) {
    const ToolRun r = Tool({"rebuild", "--spine", w.spine, replayer}, /*err_is_tty=*/true);
    ASSERT_EQ(r.code, kExitOk) << Show(r);
    const size_t last_bar = r.err.rfind("\r[");
    ASSERT_NE(last_bar, std::string::npos) << Show(r);
    const std::string bar = r.err.substr(last_bar + 1);
    EXPECT_EQ(bar.rfind("[" + std::string(30, '#') + "] 100%", 0), 0u)
        << replayer << ": the final bar of a finished rebuild should read 100%: " << bar;
  }
}

TEST(ReplayToolProgressTest, RebuildNotOnATerminalWritesNoBar) {
  RAZAR_CLEAN_SPINE(w);
  const ToolRun r = Tool({"rebuild", "--spine", w.spine}, /*err_is_tty=*/false);
  ASSERT_EQ(r.code, kExitOk) << Show(r);
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << Show(r);
  EXPECT_EQ(r.err.find("[#"), std::string::npos) << Show(r);
  EXPECT_EQ(r.err.find("[."), std::string::npos) << Show(r);
  EXPECT_EQ(r.err, "");
}

// ===========================================================================
// 2. Evidence is never modified.

// Points TMPDIR at a private directory for the test, so the tool's scratch
// directories (its RocksDB secondary files) can be seen and must be gone
// after each command.
class ScopedTmpdir {
 public:
  explicit ScopedTmpdir(const std::string& dir) {
    if (const char* old = std::getenv("TMPDIR")) old_ = old;
    ::setenv("TMPDIR", dir.c_str(), 1);
  }
  ~ScopedTmpdir() {
    if (old_) {
      ::setenv("TMPDIR", old_->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(ReplayToolEvidenceTest, EveryCommandLeavesEveryFileOfTheSpineUnchanged) {
  RAZAR_CLEAN_SPINE(w);
  TempDir out_dir("razar-tooltest-evidence");
  TempDir tmp("razar-tooltest-tmpdir");
  const TreeFp first = Fingerprint(w.spine);
  // The fingerprint covers the RocksDB store's own files, not only ours.
  std::set<std::string> names;
  for (const auto& [k, v] : first) names.insert(fs::path(k).filename().string());
  EXPECT_TRUE(names.count("SPINE"));
  EXPECT_TRUE(names.count("LOCK"));
  EXPECT_TRUE(names.count("CURRENT"));
  EXPECT_TRUE(std::any_of(names.begin(), names.end(),
                          [](const std::string& n) { return n.rfind("MANIFEST-", 0) == 0; }));
  EXPECT_TRUE(names.count("LOG")) << "RocksDB's info log of the writer";
  EXPECT_TRUE(first.count("log/00000000000000000001.hblog"));

  const std::string exp = out_dir.Sub("export.json");
  const std::vector<std::vector<std::string>> commands = {
      {"info"},
      {"info", "--format", "json"},
      {"verify"},
      {"verify", "--format", "json"},
      {"dump"},
      {"dump", "--format", "json", "--component", "api", "--from", "10"},
      {"timeline"},
      {"timeline", "--format", "json", "--layer", "root"},
      {"rebuild"},
      {"rebuild", "--format", "json", "--sequential"},
      {"rebuild", "--at", std::to_string(w.last_before_snapshot - 1)},
      {"rebuild", "--export", exp},
  };
  ScopedTmpdir scoped(tmp.path());
  for (const auto& c : commands) {
    std::vector<std::string> args = c;
    args.insert(args.begin() + 1, {"--spine", w.spine});
    const TreeFp before = Fingerprint(w.spine);
    const ToolRun r = Tool(args);
    EXPECT_EQ(r.code, kExitOk) << Show(r);
    const TreeFp after = Fingerprint(w.spine);
    EXPECT_EQ(TreeDiff(before, after), "") << "`" << r.cmd << "` modified the spine";
    EXPECT_EQ(ListNames(tmp.path()), std::vector<std::string>{})
        << "`" << r.cmd << "` left scratch files behind in TMPDIR";
  }
  EXPECT_EQ(TreeDiff(first, Fingerprint(w.spine)), "");
  EXPECT_GT(FileSizeOf(exp), 100u) << "the export went to its own path";
}

// ===========================================================================
// 3. Bad input.

TEST(ReplayToolUsageTest, MissingDirectoryIsAOneLineErrorForEverySubcommand) {
  TempDir dir("razar-tooltest-usage");
  const std::string missing = dir.Sub("no-such-spine");
  for (const std::string& sub : kSubcommands) {
    ExpectUsageError(Tool({sub, "--spine", missing}), {"no such directory", missing});
  }
  EXPECT_FALSE(fs::exists(missing)) << "the tool must not create the directory";
}

TEST(ReplayToolUsageTest, DirectoryThatIsNotASpineIsAOneLineError) {
  TempDir dir("razar-tooltest-notspine");
  const std::string empty = dir.Sub("empty");
  const std::string garbage = dir.Sub("garbage");
  fs::create_directories(empty);
  fs::create_directories(garbage + "/log");
  {
    std::ofstream f(garbage + "/SPINE");
    f << "definitely not json\n";
  }
  for (const std::string& sub : kSubcommands) {
    ExpectUsageError(Tool({sub, "--spine", empty}), {"not a RAZAR spine", "SPINE"});
    ExpectUsageError(Tool({sub, "--spine", garbage}), {"not a RAZAR spine", "SPINE"});
  }
  EXPECT_EQ(ListNames(empty), std::vector<std::string>{});
  EXPECT_EQ(ListNames(garbage), (std::vector<std::string>{"SPINE", "log"}));
  EXPECT_EQ(ListNames(garbage + "/log"), std::vector<std::string>{});
}

TEST(ReplayToolUsageTest, BadOptionValuesAreOneLineErrorsNamingTheValue) {
  RAZAR_CLEAN_SPINE(w);
  const std::string& s = w.spine;
  ExpectUsageError(Tool({"dump", "--spine", s, "--layer", "kidney"}), {"layer", "kidney"});
  ExpectUsageError(Tool({"timeline", "--spine", s, "--layer", "kidney"}), {"layer", "kidney"});
  ExpectUsageError(Tool({"rebuild", "--spine", s, "--at", "yesterday"}), {"--at", "yesterday"});
  ExpectUsageError(Tool({"rebuild", "--spine", s, "--at", "2026-13-45T10:00:00Z"}),
                   {"--at", "2026-13-45T10:00:00Z"});
  ExpectUsageError(Tool({"rebuild", "--spine", s, "--at", "12345678901234567890123"}),
                   {"12345678901234567890123"});
  ExpectUsageError(Tool({"dump", "--spine", s, "--kind", "heartbeat"}), {"kind", "heartbeat"});
  ExpectUsageError(Tool({"dump", "--spine", s, "--session", "abc"}), {"--session", "abc"});
  ExpectUsageError(Tool({"dump", "--spine", s, "--session", "-5"}), {"-5"});
  ExpectUsageError(Tool({"dump", "--spine", s, "--from", "soon"}), {"soon"});
  ExpectUsageError(Tool({"rebuild", "--spine", s, "--mode", "yolo"}), {"--mode", "yolo"});
  ExpectUsageError(Tool({"info", "--spine", s, "--format", "xml"}), {"xml"});
}

// --session takes a u64; 20 digits can exceed it. The check in
// replay_cli.cc MakeFilter admits up to 20 digits, then std::stoull throws.
TEST(ReplayToolUsageTest, SessionIdBeyondUint64IsAUsageErrorNotAnException) {
  RAZAR_CLEAN_SPINE(w);
  ExpectUsageError(Tool({"dump", "--spine", w.spine, "--session", "99999999999999999999"}),
                   {"99999999999999999999"});
  ExpectUsageError(Tool({"timeline", "--spine", w.spine, "--session", "18446744073709551616"}),
                   {"18446744073709551616"});
}

// Component ids are u32. forensics.cc Matcher: std::stoul throws beyond
// unsigned long, and static_cast<uint32_t> wraps 4294967297 to 1.
TEST(ReplayToolUsageTest, ComponentIdBeyondUint32NeitherThrowsNorMatchesAWrappedId) {
  RAZAR_CLEAN_SPINE(w);
  const ToolRun wrapped =
      Tool({"dump", "--spine", w.spine, "--format", "json", "--component", "4294967297"});
  EXPECT_NE(wrapped.code, -1) << Show(wrapped);
  for (const json& j : ParseJsonLines(wrapped)) {
    EXPECT_NE(j.value("component_id", 0u), 1u)
        << "component 4294967297 matched records of component 1: " << j.dump();
  }
  const ToolRun huge =
      Tool({"dump", "--spine", w.spine, "--format", "json", "--component", "99999999999999999999"});
  EXPECT_NE(huge.code, -1) << Show(huge);
  EXPECT_TRUE(huge.code == kExitUsage || (huge.code == kExitOk && huge.out.empty())) << Show(huge);
}

TEST(ReplayToolUsageTest, MissingSubcommandOrUnknownOptionIsAOneLineError) {
  ExpectUsageError(Tool({}), {"subcommand"});
  ExpectUsageError(Tool({"--spine", "/tmp"}), {"subcommand"});
  ExpectUsageError(Tool({"dump", "--spine", "/tmp", "--bogus"}), {"--bogus"});
}

// `razar-replay frobnicate` answers "A subcommand is required": CLI11
// checks require_subcommand(1) before reporting the unexpected positional.
TEST(ReplayToolUsageTest, UnknownSubcommandErrorNamesTheWordGiven) {
  ExpectUsageError(Tool({"frobnicate", "--spine", "/tmp"}), {"frobnicate"});
  ExpectUsageError(Tool({"dumpp"}), {"dumpp"});
}

TEST(ReplayToolUsageTest, HelpOnTheAppAndEachSubcommandPrintsItsUsageAndExitsZero) {
  const ToolRun app = Tool({"--help"});
  EXPECT_EQ(app.code, kExitOk) << Show(app);
  EXPECT_EQ(app.err, "");
  for (const std::string& sub : kSubcommands) {
    EXPECT_NE(app.out.find(sub), std::string::npos) << Show(app);
  }
  const std::map<std::string, std::vector<std::string>> options = {
      {"info", {"--spine", "--format"}},
      {"verify", {"--spine", "--format"}},
      {"dump",
       {"--spine", "--layer", "--session", "--component", "--kind", "--from", "--to", "--limit"}},
      {"timeline", {"--spine", "--layer", "--component", "--from", "--to"}},
      {"rebuild", {"--spine", "--at", "--threads", "--sequential", "--mode", "--export"}},
  };
  for (const auto& [sub, opts] : options) {
    const ToolRun r = Tool({sub, "--help"});
    EXPECT_EQ(r.code, kExitOk) << Show(r);
    EXPECT_EQ(r.err, "") << Show(r);
    for (const std::string& o : opts) {
      EXPECT_NE(r.out.find(o), std::string::npos) << sub << " --help should list " << o << "\n"
                                                  << Show(r);
    }
  }
  const ToolRun t = Tool({"timeline", "--help"});
  EXPECT_EQ(t.out.find("--limit"), std::string::npos) << "timeline has no --limit\n" << Show(t);
}

// ===========================================================================
// 4. Damaged spines.

class ReplayToolDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RAZAR_SKIP_WITHOUT_URING();
    spine_ = dir_.Sub("spine");
    ASSERT_EQ(WriteLogOnlySpine(spine_, 4711, 3500), "");
    ReadResult rr = ReadLog(spine_ + "/log", RecoveryMode::kAbsoluteConsistency);
    ASSERT_TRUE(rr.status.ok()) << rr.status.ToString();
    records_ = std::move(rr.records);
    segs_ = SegmentNames(spine_ + "/log");
    ASSERT_GE(segs_.size(), 3u) << "the damage tests need 3+ segments";
  }
  std::string Seg(size_t i) const { return spine_ + "/log/" + segs_[i]; }
  std::vector<Lsn> AllLsnsExcept(const std::function<bool(Lsn)>& drop) const {
    std::vector<Lsn> out;
    for (const auto& r : records_) {
      if (!drop(r.lsn)) out.push_back(r.lsn);
    }
    return out;
  }

  TempDir dir_{"razar-tooltest-damage"};
  TempDir out_{"razar-tooltest-damage-out"};
  std::string spine_;
  std::vector<OwnedRecord> records_;  // the log before the damage
  std::vector<std::string> segs_;
};

// A torn tail (newest segment cut inside a record) is damage: the reader
// reports kTornTail and stops there in every mode but absolute; the tool
// exits 1 for any reported damage (replay_cli.h), so rebuild exits 1 too.
TEST_F(ReplayToolDamageTest, TruncatedNewestSegmentIsReportedAndEverythingBeforeItIsUsed) {
  const std::string seg = Seg(segs_.size() - 1);
  const std::vector<RecordAt> recs = RecordsInSegment(seg);
  ASSERT_GE(recs.size(), 6u);
  const RecordAt cut = recs[recs.size() / 2];
  TruncateFile(seg, cut.offset + 20);  // inside the record's header
  const Lsn last_good = cut.lsn - 1;

  const ToolRun v = Tool({"verify", "--spine", spine_, "--format", "json"});
  EXPECT_EQ(v.code, kExitDamaged) << Show(v);
  const json vj = ParseJson(v.out, "verify");
  ASSERT_EQ(vj["damages"].size(), 1u) << Show(v);
  const json& d = vj["damages"][0];
  EXPECT_EQ(d["file"], "log/" + segs_.back());
  EXPECT_EQ(d["offset"], cut.offset);
  EXPECT_EQ(d["kind"], "torn-tail");
  EXPECT_EQ(d["lsn"], last_good);
  EXPECT_EQ(vj["records"], last_good);
  const ToolRun vt = Tool({"verify", "--spine", spine_});
  EXPECT_EQ(vt.code, kExitDamaged);
  EXPECT_NE(vt.out.find(segs_.back()), std::string::npos) << Show(vt);
  EXPECT_NE(vt.out.find(std::to_string(cut.offset)), std::string::npos) << Show(vt);
  EXPECT_NE(vt.out.find("torn-tail"), std::string::npos) << Show(vt);

  const ToolRun du = Tool({"dump", "--spine", spine_, "--format", "json"});
  EXPECT_EQ(du.code, kExitDamaged) << Show(du);
  EXPECT_EQ(LsnsOf(ParseJsonLines(du)), AllLsnsExcept([&](Lsn l) { return l > last_good; }));
  EXPECT_NE(du.err.find(segs_.back()), std::string::npos) << "damage named on err\n" << Show(du);

  const ToolRun in = Tool({"info", "--spine", spine_, "--format", "json"});
  EXPECT_EQ(in.code, kExitDamaged) << Show(in);
  EXPECT_EQ(ParseJson(in.out, "info")["last_lsn"], last_good);

  const State want = PrefixState(records_, last_good);
  for (const char* mode : {"point-in-time", "tolerate-torn-tail", "skip-corrupted"}) {
    const std::string path = out_.Sub(std::string("torn-") + mode + ".json");
    const ToolRun r =
        Tool({"rebuild", "--spine", spine_, "--format", "json", "--mode", mode, "--export", path});
    EXPECT_EQ(r.code, kExitDamaged) << Show(r);
    const json j = ParseJson(r.out, "rebuild");
    EXPECT_EQ(j["last_lsn"], last_good) << mode;
    EXPECT_EQ(RebuildCountsDiff(j, want), "") << mode;
    EXPECT_EQ(ExportDiff(ParseJson(ReadText(path), "export"), want), "") << mode;
    EXPECT_NE(r.err.find("torn-tail"), std::string::npos) << Show(r);
  }
}

// A flipped byte inside a record of an older segment is a hole: valid
// records follow, so the reader classifies it kCorruption.
TEST_F(ReplayToolDamageTest, FlippedByteInAnOlderSegmentIsAHoleAndRecordsAfterItAreStillDumped) {
  const std::string seg = Seg(1);
  const std::vector<RecordAt> recs = RecordsInSegment(seg);
  ASSERT_GE(recs.size(), 10u);
  size_t k = recs.size() / 2;
  while (k < recs.size() && recs[k].payload_len < 8) ++k;
  ASSERT_LT(k, recs.size() - 1);
  const RecordAt hit = recs[k];
  FlipBit(seg, hit.offset + lf::kRecordHeaderBytes + hit.payload_len / 2, 3);

  const ToolRun v = Tool({"verify", "--spine", spine_, "--format", "json"});
  EXPECT_EQ(v.code, kExitDamaged) << Show(v);
  const json vj = ParseJson(v.out, "verify");
  ASSERT_EQ(vj["damages"].size(), 1u) << Show(v);
  const json& d = vj["damages"][0];
  EXPECT_EQ(d["file"], "log/" + segs_[1]);
  EXPECT_EQ(d["kind"], "corruption");
  EXPECT_EQ(d["offset"], hit.offset);
  EXPECT_LT(d["offset"].get<uint64_t>(), FileSizeOf(seg));
  EXPECT_EQ(d["lsn"], hit.lsn - 1);
  EXPECT_NE(d["detail"].get<std::string>().find("checksum"), std::string::npos) << d.dump();
  EXPECT_EQ(vj["records"], records_.size() - 1);

  const ToolRun du = Tool({"dump", "--spine", spine_, "--format", "json"});
  EXPECT_EQ(du.code, kExitDamaged) << Show(du);
  EXPECT_EQ(LsnsOf(ParseJsonLines(du)), AllLsnsExcept([&](Lsn l) { return l == hit.lsn; }))
      << "every record but the damaged one, those after the hole included";

  const ToolRun tl = Tool({"timeline", "--spine", spine_, "--format", "json"});
  EXPECT_EQ(tl.code, kExitDamaged) << Show(tl);

  // Point-in-time: the prefix before the hole. Skip-corrupted: all the rest.
  const std::string pit = out_.Sub("pit.json");
  const ToolRun r = Tool({"rebuild", "--spine", spine_, "--format", "json", "--export", pit});
  EXPECT_EQ(r.code, kExitDamaged) << Show(r);
  EXPECT_EQ(ParseJson(r.out, "rebuild")["last_lsn"], hit.lsn - 1);
  EXPECT_EQ(ExportDiff(ParseJson(ReadText(pit), "export"), PrefixState(records_, hit.lsn - 1)), "");
  const std::string skip = out_.Sub("skip.json");
  const ToolRun s = Tool({"rebuild", "--spine", spine_, "--format", "json", "--mode",
                          "skip-corrupted", "--export", skip});
  EXPECT_EQ(s.code, kExitDamaged) << Show(s);
  EXPECT_EQ(ParseJson(s.out, "rebuild")["last_lsn"], records_.back().lsn);
  const State rest =
      ApplyRecords(records_, [&](const OwnedRecord& rec) { return rec.lsn != hit.lsn; });
  EXPECT_EQ(ExportDiff(ParseJson(ReadText(skip), "export"), rest), "");
}

// A corrupt snapshot value: verify names the layer and the snapshot id;
// rebuild reports the problem, falls back to the older snapshot of that
// layer and, the log covering it, still rebuilds the live state.
TEST(ReplayToolSnapshotDamageTest, CorruptSnapshotIsNamedAndRebuildFallsBackToTheLiveState) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir dir("razar-tooltest-snapdmg");
  TempDir out("razar-tooltest-snapdmg-out");
  const std::string spine = dir.Sub("spine");
  State live;
  std::array<uint64_t, kLayerCount> first_ids{};
  uint64_t newest_heart = 0;
  {
    auto o = TestSpineOptions(spine, SnapshotWriteMethod::kSstIngest, Durability::kNone, 4u << 20);
    auto sp = Spine::Open(o);
    ASSERT_TRUE(sp.ok()) << sp.status().ToString();
    RecordEncoder enc;
    OpGen gen(99, 0, 300);
    ASSERT_NO_FATAL_FAILURE(RunOps(sp->get(), enc, gen, 600));
    auto all = (*sp)->SnapshotAll();
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    for (const auto& rep : *all) first_ids[static_cast<int>(rep.layer)] = rep.snapshot_id;
    ASSERT_NO_FATAL_FAILURE(RunOps(sp->get(), enc, gen, 400));
    auto h = (*sp)->Snapshot(Layer::heart);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    ASSERT_GT(h->sessions, 0u);
    newest_heart = h->snapshot_id;
    ASSERT_NO_FATAL_FAILURE(RunOps(sp->get(), enc, gen, 300));
    live = (*sp)->CopyState();
    ASSERT_TRUE((*sp)->Close().ok());
  }
  std::string err;
  ASSERT_NE(FlipSnapshotValueByte(spine + "/snapshots", Layer::heart, newest_heart, &err), "")
      << err;

  const std::string where = "snapshots/heart #" + std::to_string(newest_heart);
  const ToolRun v = Tool({"verify", "--spine", spine, "--format", "json"});
  EXPECT_EQ(v.code, kExitDamaged) << Show(v);
  const json vj = ParseJson(v.out, "verify");
  ASSERT_EQ(vj["damages"].size(), 1u) << Show(v);
  EXPECT_EQ(vj["damages"][0]["file"], where);
  EXPECT_EQ(vj["damages"][0]["kind"], "snapshot");
  EXPECT_EQ(vj["snapshots"], static_cast<uint64_t>(kLayerCount + 1));
  const ToolRun vt = Tool({"verify", "--spine", spine});
  EXPECT_EQ(vt.code, kExitDamaged);
  EXPECT_NE(vt.out.find(where), std::string::npos) << Show(vt);

  for (const char* replayer : {"--sequential", "--threads=2"}) {
    const std::string path = out.Sub(std::string("fallback") + replayer + ".json");
    const ToolRun r =
        Tool({"rebuild", "--spine", spine, "--format", "json", "--export", path, replayer});
    EXPECT_EQ(r.code, kExitDamaged) << "a skipped snapshot is a problem: exit 1\n" << Show(r);
    const json j = ParseJson(r.out, "rebuild");
    ASSERT_EQ(j["problems"].size(), 1u) << Show(r);
    EXPECT_NE(j["problems"][0].get<std::string>().find("falling back"), std::string::npos)
        << Show(r);
    EXPECT_EQ(j["layers"]["heart"]["snapshot_id"], first_ids[3]) << "the older heart snapshot";
    EXPECT_EQ(j["layers"]["root"]["snapshot_id"], first_ids[0]);
    EXPECT_EQ(RebuildCountsDiff(j, live), "") << Show(r);
    EXPECT_EQ(ExportDiff(ParseJson(ReadText(path), "export"), live), "") << replayer;
  }
}

// ===========================================================================
// 5. A live spine: a child process appends and snapshots until SIGKILLed
// (razar_replay_live_writer).

// forensics.h: "Safe while a live RAZAR writes the spine"; on a live spine
// only a torn tail of the newest segment may be reported, as a note. A
// snapshot the writer has published is not damage, whatever moment the
// tool's read-only view of the store was taken at.
TEST(ReplayToolLiveTest, EveryCommandWorksWhileAChildWritesAndAfterItIsKilled) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir dir("razar-tooltest-live");
  const std::string spine = dir.Sub("spine");
  const std::string child_log = dir.Sub("child.out");
  ChildProcess child;
  ASSERT_NO_FATAL_FAILURE(child.Start({RAZAR_REPLAY_LIVE_WRITER, spine}, child_log));

  // Wait until the spine exists and holds records.
  int status = 0;
  uint64_t records = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (records < 2000) {
    ASSERT_TRUE(child.Running(&status)) << "the writer exited early, status " << status << "\n"
                                        << ReadText(child_log);
    ASSERT_LT(Clock::now(), deadline) << "no records within 15 s\n" << ReadText(child_log);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const ToolRun r = Tool({"info", "--spine", spine, "--format", "json"});
    if (r.code == kExitUsage) continue;  // not a spine yet
    const json j = json::parse(r.out, nullptr, false);
    // The last LSN, not the records still in the log: retention deletes
    // covered segments, and a slow writer (sanitizers) may never hold 2000
    // records at once.
    if (j.is_object()) records = j.value("last_lsn", uint64_t{0});
  }

  Lsn previous_last = 0;
  std::string damage_reports;
  for (int round = 0; round < 3; ++round) {
    const ToolRun in = Tool({"info", "--spine", spine, "--format", "json"});
    EXPECT_NE(in.code, kExitUsage) << Show(in);
    const json ij = ParseJson(in.out, "info");
    EXPECT_EQ(ij["live"], true) << "the child holds the spine open\n" << Show(in);
    EXPECT_EQ(ij["live_pid"], child.pid());
    if (in.code != kExitOk) {
      damage_reports += "info: " + in.err + ij.value("problems", json::array()).dump() + "\n";
    }

    const ToolRun v = Tool({"verify", "--spine", spine, "--format", "json"});
    const json vj = ParseJson(v.out, "verify");
    EXPECT_EQ(v.code, kExitOk) << "only the documented live notes are allowed\n" << Show(v);
    EXPECT_EQ(vj["live"], true);
    EXPECT_TRUE(vj["damages"].empty()) << vj["damages"].dump(2);
    // The two documented notes of a live spine: a tail in flight, and a
    // snapshot retention deleted while verify was reading it.
    for (const json& n : vj["notes"]) {
      const std::string text = n.get<std::string>();
      EXPECT_TRUE(text.find("live spine") != std::string::npos ||
                  text.find("deleted by retention while being verified") != std::string::npos)
          << n;
    }

    const ToolRun du = Tool({"dump", "--spine", spine, "--format", "json", "--limit", "100"});
    EXPECT_NE(du.code, kExitUsage) << Show(du);
    EXPECT_EQ(ParseJsonLines(du).size(), 100u) << Show(du);
    if (du.code != kExitOk) damage_reports += "dump: " + du.err;

    const ToolRun tl = Tool({"timeline", "--spine", spine, "--format", "json"});
    EXPECT_NE(tl.code, kExitUsage) << Show(tl);
    EXPECT_TRUE(ParseJson(tl.out, "timeline").is_array());
    if (tl.code != kExitOk) damage_reports += "timeline: " + tl.err;

    const ToolRun rb = Tool({"rebuild", "--spine", spine, "--format", "json"});
    EXPECT_NE(rb.code, kExitUsage) << Show(rb);
    const json rj = ParseJson(rb.out, "rebuild");
    const Lsn last = rj.value("last_lsn", Lsn{0});
    EXPECT_GT(last, previous_last) << "round " << round << ": the rebuild follows the writer\n"
                                   << Show(rb);
    previous_last = std::max(previous_last, last);
    if (rb.code != kExitOk) {
      damage_reports += "rebuild: " + rb.err + rj.value("problems", json::array()).dump() + "\n";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(damage_reports, "") << "damage reported on a healthy live spine";

  ASSERT_TRUE(child.Running(&status)) << "the writer died on its own, status " << status << "\n"
                                      << ReadText(child_log);
  const int killed = child.Kill();
  ASSERT_TRUE(WIFSIGNALED(killed) && WTERMSIG(killed) == SIGKILL)
      << "wait status " << killed << "\n"
      << ReadText(child_log);

  // The crashed spine: no writer, everything written is still there.
  const ToolRun v = Tool({"verify", "--spine", spine, "--format", "json"});
  EXPECT_EQ(v.code, kExitOk) << Show(v);
  EXPECT_EQ(ParseJson(v.out, "verify")["live"], false);
  const std::string exp = dir.Sub("crashed.json");
  const ToolRun rb = Tool({"rebuild", "--spine", spine, "--format", "json", "--export", exp});
  EXPECT_EQ(rb.code, kExitOk) << Show(rb);
  const json rj = ParseJson(rb.out, "rebuild");
  EXPECT_GE(rj.value("last_lsn", Lsn{0}), previous_last);
  EXPECT_TRUE(rj["problems"].empty()) << Show(rb);

  // And it equals what the spine's own recovery rebuilds.
  auto sp = Spine::Open(TestSpineOptions(spine, SnapshotWriteMethod::kSstIngest));
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  EXPECT_EQ(ExportDiff(ParseJson(ReadText(exp), "export"), (*sp)->CopyState()), "");
  EXPECT_TRUE((*sp)->Close().ok());
}

}  // namespace
}  // namespace razar::replay
