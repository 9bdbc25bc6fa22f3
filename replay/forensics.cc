#include "replay/forensics.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "replay/spine_dir.h"
#include "storage/spine.h"

namespace razar::replay {

using storage::DecodedRecord;
using storage::Layer;
using storage::LogReader;
using storage::RecordKind;
using storage::RecordView;
using storage::SnapshotManifest;
namespace fb = ::razar::fb;

namespace {

// Sizes by stat, not through the Env: opening and closing RocksDB's LOCK
// would drop a POSIX lock this process may hold on it.
uint64_t TreeBytes(const std::string& dir) {
  std::error_code ec;
  uint64_t n = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) n += it->file_size(ec);
  }
  return n;
}

Result<std::unique_ptr<LogReader>> SkippingReader(storage::Env* env, const std::string& spine) {
  storage::LogReaderOptions ro;
  ro.env = env;
  ro.dir = storage::SpineLogDir(spine);
  ro.mode = storage::RecoveryMode::kSkipAnyCorruptedRecords;
  return LogReader::Open(ro);
}

bool InRange(const DumpFilter& f, Lsn lsn, int64_t ts) {
  if (f.from) {
    if (f.from->kind == Target::Kind::kLsn && lsn < f.from->lsn) return false;
    if (f.from->kind == Target::Kind::kTime && ts < f.from->unix_ns) return false;
  }
  if (f.to && f.to->Beyond(lsn, ts)) return false;
  return true;
}

// Session id a record is about (0 and false if none).
bool SessionOf(const DecodedRecord& d, uint64_t* sid) {
  const fb::Record* r = d.record;
  switch (d.kind) {
    case RecordKind::kSessionOpen:
      *sid = r->body_as_SessionOpen()->session_id();
      return true;
    case RecordKind::kSessionUpdate:
      *sid = r->body_as_SessionUpdate()->session_id();
      return true;
    case RecordKind::kSessionClose:
      *sid = r->body_as_SessionClose()->session_id();
      return true;
    case RecordKind::kEventPending:
      *sid = r->body_as_EventPending()->session_id();
      return true;
    case RecordKind::kEventDone:
      *sid = r->body_as_EventDone()->session_id();
      return true;
    default:
      return false;
  }
}

// (component id, name) a record carries; id 0 / empty when it has none.
void ComponentOf(const DecodedRecord& d, uint32_t* id, std::string* name) {
  *id = 0;
  name->clear();
  switch (d.kind) {
    case RecordKind::kBeat:
      *id = d.beat.component_id();
      break;
    case RecordKind::kSessionOpen: {
      const auto* b = d.record->body_as_SessionOpen();
      *id = b->component_id();
      if (b->component()) *name = b->component()->str();
      break;
    }
    case RecordKind::kComponentStatus: {
      const auto* b = d.record->body_as_ComponentStatus();
      *id = b->component_id();
      if (b->component()) *name = b->component()->str();
      break;
    }
    case RecordKind::kFailurePulse: {
      const auto* b = d.record->body_as_FailurePulse();
      if (b->component()) *name = b->component()->str();
      break;
    }
    default:
      break;
  }
}

// Matches records against a filter; learns component names as it goes.
class Matcher {
 public:
  explicit Matcher(const DumpFilter& f) : f_(f) {
    uint32_t id = 0;
    if (f.component && !f.component->empty()) {
      const char* b = f.component->data();
      const char* e = b + f.component->size();
      auto [p, ec] = std::from_chars(b, e, id);
      if (ec == std::errc() && p == e) want_id_ = id;  // all digits, in range: an id
    }
  }
  bool Match(Lsn lsn, int64_t ts, const DecodedRecord& d) {
    uint32_t id;
    std::string name;
    ComponentOf(d, &id, &name);
    if (f_.component && !want_id_ && id != 0 && name == *f_.component) ids_.insert(id);
    if (!InRange(f_, lsn, ts)) return false;
    if (f_.kind && d.kind != *f_.kind) return false;
    if (f_.layer && storage::RouteOf(d).layer != *f_.layer) return false;
    if (f_.session) {
      uint64_t sid;
      if (!SessionOf(d, &sid) || sid != *f_.session) return false;
    }
    if (f_.component) {
      if (want_id_) return id == *want_id_;
      // By name: records that carry it, and beats (which carry only an
      // id) of the ids seen with that name earlier in the log.
      if (d.kind == RecordKind::kBeat) return ids_.count(id) > 0;
      return name == *f_.component;
    }
    return true;
  }

 private:
  const DumpFilter& f_;
  std::optional<uint32_t> want_id_;
  std::set<uint32_t> ids_;
};

// On a live spine a torn record at the very end of the newest segment is a
// group commit still in flight, not damage.
bool IsLiveTail(bool live, const storage::Damage& d, const storage::ReadReport& r) {
  return live && d.kind == storage::DamageKind::kTornTail && !r.segments.empty() &&
         d.segment == r.segments.back().name;
}

std::string LiveTailNote(int pid, const storage::Damage& d) {
  return "live spine (pid " + std::to_string(pid) +
         "): tail of the newest segment still in flight at offset " + std::to_string(d.offset);
}

// The damages of `report`, without the torn tail of a live spine's newest
// segment, which goes to *notes instead.
std::vector<storage::Damage> SplitLiveTail(bool live, int pid, const storage::ReadReport& report,
                                           std::vector<std::string>* notes) {
  std::vector<storage::Damage> out;
  for (const storage::Damage& d : report.damages) {
    if (IsLiveTail(live, d, report)) {
      notes->push_back(LiveTailNote(pid, d));
    } else {
      out.push_back(d);
    }
  }
  return out;
}

Finding FromDamage(const storage::Damage& d) {
  Finding f;
  f.where = "log/" + d.segment;
  f.offset = d.offset;
  f.lsn = d.last_good_lsn;
  f.kind = storage::DamageKindName(d.kind);
  f.detail = storage::DescribeDamage(d);
  return f;
}

}  // namespace

std::vector<storage::Damage> DamagesOf(const std::string& spine_dir,
                                       const storage::ReadReport& report,
                                       std::vector<std::string>* notes) {
  int pid = 0;
  const bool live = !report.damages.empty() && SpineIsLive(spine_dir, &pid);
  return SplitLiveTail(live, pid, report, notes);
}

Result<SpineInfo> Inspect(const std::string& spine_dir, storage::Env* env) {
  RAZAR_RETURN_IF_ERROR(CheckSpineDir(spine_dir, env));
  SpineInfo info;
  info.dir = spine_dir;
  info.live = SpineIsLive(spine_dir, &info.live_pid);
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> reader, SkippingReader(env, spine_dir));
  RecordView v;
  const auto& segs = reader->report().segments;                  // listed at open, in LSN order
  std::vector<std::pair<int64_t, int64_t>> stamps(segs.size());  // first / last per segment
  for (;;) {
    RAZAR_ASSIGN_OR_RETURN(bool more, reader->Next(&v));
    if (!more) break;
    // A record lives in the last segment named with an LSN not above its own.
    const auto it =
        std::upper_bound(segs.begin(), segs.end(), v.lsn,
                         [](Lsn l, const storage::SegmentSummary& s) { return l < s.first_lsn; });
    if (it != segs.begin()) {
      auto& s = stamps[static_cast<size_t>(it - segs.begin()) - 1];
      if (s.first == 0) s.first = v.timestamp_ns;
      s.second = v.timestamp_ns;
    }
    if (info.first_unix_ns == 0) info.first_unix_ns = v.timestamp_ns;
    info.last_unix_ns = v.timestamp_ns;
  }
  const storage::ReadReport& rep = reader->report();
  info.records = rep.records;
  info.first_lsn = rep.first_lsn;
  info.last_lsn = rep.last_lsn;
  info.damages = SplitLiveTail(info.live, info.live_pid, rep, &info.notes);
  for (size_t i = 0; i < rep.segments.size(); ++i) {
    const storage::SegmentSummary& s = rep.segments[i];
    SegmentInfo si;
    si.summary = s;
    std::tie(si.first_unix_ns, si.last_unix_ns) = stamps[i];
    info.log_bytes += s.file_bytes;
    info.segments.push_back(si);
  }
  info.snapshot_bytes = TreeBytes(storage::SpineSnapshotDir(spine_dir));
  Result<std::unique_ptr<ReadOnlySnapshotStore>> store = ReadOnlySnapshotStore::OpenFor(spine_dir);
  if (!store.ok()) {
    info.problems.push_back("snapshot store unreadable: " + store.status().ToString());
    return info;
  }
  for (int li = 0; li < storage::kLayerCount; ++li) {
    std::vector<std::string> damaged;
    Result<std::vector<SnapshotManifest>> list =
        (*store)->get()->List(static_cast<Layer>(li), &damaged);
    if (!list.ok()) {
      info.problems.push_back(list.status().ToString());
      continue;
    }
    info.snapshots[li] = std::move(*list);
    for (auto& d : damaged) info.problems.push_back(std::move(d));
  }
  return info;
}

namespace {

Finding FindingAt(std::string where, std::string kind, std::string detail, Lsn lsn = 0) {
  Finding f;
  f.where = std::move(where);
  f.kind = std::move(kind);
  f.detail = std::move(detail);
  f.lsn = lsn;
  return f;
}

// Verify's log half: every record read (skipping damage) and decoded.
Status VerifyLog(storage::Env* env, const std::string& spine_dir, int live_pid, VerifyReport* out) {
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> reader, SkippingReader(env, spine_dir));
  RecordView v;
  for (;;) {
    RAZAR_ASSIGN_OR_RETURN(bool more, reader->Next(&v));
    if (!more) break;
    Result<DecodedRecord> d = storage::DecodeRecord(v.type, v.payload);
    if (!d.ok()) {
      out->damages.push_back(
          FindingAt("log", "undecodable-record",
                    "LSN " + std::to_string(v.lsn) + ": " + d.status().ToString(), v.lsn));
    }
  }
  const storage::ReadReport& rep = reader->report();
  out->records = rep.records;
  out->segments = rep.segments.size();
  for (const storage::Damage& d : SplitLiveTail(out->live, live_pid, rep, &out->notes)) {
    out->damages.push_back(FromDamage(d));
  }
  return Status::Ok();
}

// Whether snapshot `id` of `layer` is still published (a live writer's
// retention may have deleted it). True when that cannot be told.
bool StillListed(storage::SnapshotStore* store, Layer layer, uint64_t id) {
  Result<std::vector<SnapshotManifest>> now = store->List(layer);
  return !now.ok() || std::any_of(now->begin(), now->end(),
                                  [&](const SnapshotManifest& x) { return x.snapshot_id == id; });
}

// Verify's snapshot half for one layer: every manifest entry checked, every
// published snapshot loaded.
Status VerifyLayerSnapshots(storage::SnapshotStore* store, Layer layer, VerifyReport* out) {
  const std::string where = std::string("snapshots/") + storage::LayerName(layer);
  std::vector<std::string> damaged;
  RAZAR_ASSIGN_OR_RETURN(std::vector<SnapshotManifest> list, store->List(layer, &damaged));
  for (const std::string& d : damaged)
    out->damages.push_back(FindingAt(where, "snapshot-manifest", d));
  for (const SnapshotManifest& m : list) {
    ++out->snapshots;
    const std::string name = where + " #" + std::to_string(m.snapshot_id);
    storage::LayerState ls;
    Status st = store->Load(m, &ls);
    if (!st.ok() && out->live && store->CatchUp().ok()) {
      // A live spine: this reader may lag the writer, or retention may
      // have deleted the snapshot meanwhile. Look again before judging.
      if (!StillListed(store, layer, m.snapshot_id)) {
        out->notes.push_back(std::string("snapshot ") + storage::LayerName(layer) + " #" +
                             std::to_string(m.snapshot_id) +
                             " was deleted by retention while being verified");
        continue;
      }
      st = store->Load(m, &ls);
    }
    if (!st.ok()) out->damages.push_back(FindingAt(name, "snapshot", st.ToString(), m.max_lsn()));
  }
  return Status::Ok();
}

}  // namespace

Result<VerifyReport> Verify(const std::string& spine_dir, storage::Env* env) {
  RAZAR_RETURN_IF_ERROR(CheckSpineDir(spine_dir, env));
  VerifyReport out;
  int pid = 0;
  out.live = SpineIsLive(spine_dir, &pid);
  RAZAR_RETURN_IF_ERROR(VerifyLog(env, spine_dir, pid, &out));
  Result<std::unique_ptr<ReadOnlySnapshotStore>> store = ReadOnlySnapshotStore::OpenFor(spine_dir);
  if (!store.ok()) {
    out.damages.push_back(FindingAt("snapshots/", "snapshot-store", store.status().ToString()));
    return out;
  }
  for (int li = 0; li < storage::kLayerCount; ++li) {
    RAZAR_RETURN_IF_ERROR(VerifyLayerSnapshots((*store)->get(), static_cast<Layer>(li), &out));
  }
  return out;
}

Result<DumpStats> Dump(const std::string& spine_dir, const DumpFilter& filter,
                       const std::function<bool(const DumpedRecord&)>& fn, storage::Env* env) {
  RAZAR_RETURN_IF_ERROR(CheckSpineDir(spine_dir, env));
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> reader, SkippingReader(env, spine_dir));
  DumpStats stats;
  Matcher m(filter);
  RecordView v;
  for (;;) {
    RAZAR_ASSIGN_OR_RETURN(bool more, reader->Next(&v));
    if (!more) break;
    ++stats.scanned;
    // Past the upper bound nothing can match: stop reading.
    if (filter.to && filter.to->kind == Target::Kind::kLsn && v.lsn > filter.to->lsn) break;
    Result<DecodedRecord> d = storage::DecodeRecord(v.type, v.payload);
    if (!d.ok()) {
      ++stats.undecodable;
      continue;
    }
    if (!m.Match(v.lsn, v.timestamp_ns, *d)) continue;
    ++stats.matched;
    if (!fn(DumpedRecord{v.lsn, v.timestamp_ns, *d})) break;
  }
  stats.damages = DamagesOf(spine_dir, reader->report(), &stats.notes);
  return stats;
}

Result<std::vector<TimelineEvent>> Timeline(const std::string& spine_dir, const DumpFilter& filter,
                                            DumpStats* stats, storage::Env* env) {
  std::vector<TimelineEvent> out;
  auto collect = [&](const DumpedRecord& r) {
    TimelineEvent e;
    e.lsn = r.lsn;
    e.unix_ns = r.unix_ns;
    e.layer = storage::RouteOf(r.rec).layer;
    const fb::Record* rec = r.rec.record;
    switch (r.rec.kind) {
      case RecordKind::kComponentStatus: {
        const auto* b = rec->body_as_ComponentStatus();
        e.what = "component";
        e.component = b->component() ? b->component()->str() : "";
        e.state = storage::ComponentStateName(b->state());
        e.detail = b->detail() ? b->detail()->str() : "";
        break;
      }
      case RecordKind::kChakraDown:
        e.what = "chakra_down";
        e.detail =
            rec->body_as_ChakraDown()->reason() ? rec->body_as_ChakraDown()->reason()->str() : "";
        break;
      case RecordKind::kChakraUp:
        e.what = "chakra_up";
        break;
      case RecordKind::kFailurePulse: {
        const auto* b = rec->body_as_FailurePulse();
        e.what = "pulse";
        e.component = b->component() ? b->component()->str() : "";
        e.state = b->kind() ? b->kind()->str() : "";
        e.detail = std::to_string(b->duration_ms()) + " ms";
        break;
      }
      default:
        return true;
    }
    out.push_back(std::move(e));
    return true;
  };
  RAZAR_ASSIGN_OR_RETURN(*stats, Dump(spine_dir, filter, collect, env));
  std::stable_sort(out.begin(), out.end(), [](const TimelineEvent& a, const TimelineEvent& b) {
    return a.unix_ns < b.unix_ns;
  });
  return out;
}

std::string Hex(const std::vector<uint8_t>& bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

namespace {

std::vector<uint8_t> VecOf(const flatbuffers::Vector<uint8_t>* v) {
  return v == nullptr ? std::vector<uint8_t>() : std::vector<uint8_t>(v->begin(), v->end());
}
std::string StrOf(const flatbuffers::String* s) { return s == nullptr ? "" : s->str(); }

nlohmann::json KvJson(const flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>>* kv) {
  nlohmann::json j = nlohmann::json::object();
  if (kv == nullptr) return j;
  for (const fb::KeyValue* e : *kv) {
    j[StrOf(e->key())] = e->value() ? nlohmann::json(Hex(VecOf(e->value()))) : nlohmann::json();
  }
  return j;
}

}  // namespace

nlohmann::json RecordToJson(const DumpedRecord& r) {
  nlohmann::json j;
  j["lsn"] = r.lsn;
  j["time"] = FormatTime(r.unix_ns);
  j["kind"] = storage::RecordKindName(r.rec.kind);
  j["layer"] = storage::LayerName(storage::RouteOf(r.rec).layer);
  const fb::Record* rec = r.rec.record;
  switch (r.rec.kind) {
    case RecordKind::kBeat:
      j["component_id"] = r.rec.beat.component_id();
      j["sequence"] = r.rec.beat.sequence();
      break;
    case RecordKind::kSessionOpen: {
      const auto* b = rec->body_as_SessionOpen();
      j["session_id"] = b->session_id();
      j["component_id"] = b->component_id();
      j["component"] = StrOf(b->component());
      j["state"] = Hex(VecOf(b->state()));
      j["kv"] = KvJson(b->kv());
      break;
    }
    case RecordKind::kSessionUpdate: {
      const auto* b = rec->body_as_SessionUpdate();
      j["session_id"] = b->session_id();
      if (b->state()) j["state"] = Hex(VecOf(b->state()));
      j["kv"] = KvJson(b->kv());
      break;
    }
    case RecordKind::kSessionClose:
      j["session_id"] = rec->body_as_SessionClose()->session_id();
      break;
    case RecordKind::kEventPending: {
      const auto* b = rec->body_as_EventPending();
      j["event_id"] = b->event_id();
      j["session_id"] = b->session_id();
      j["payload"] = Hex(VecOf(b->payload()));
      break;
    }
    case RecordKind::kEventDone: {
      const auto* b = rec->body_as_EventDone();
      j["event_id"] = b->event_id();
      j["session_id"] = b->session_id();
      break;
    }
    case RecordKind::kComponentStatus: {
      const auto* b = rec->body_as_ComponentStatus();
      j["component_id"] = b->component_id();
      j["component"] = StrOf(b->component());
      j["state"] = storage::ComponentStateName(b->state());
      j["detail"] = StrOf(b->detail());
      break;
    }
    case RecordKind::kChakraDown:
      j["reason"] = StrOf(rec->body_as_ChakraDown()->reason());
      break;
    case RecordKind::kChakraUp:
      break;
    case RecordKind::kFailurePulse: {
      const auto* b = rec->body_as_FailurePulse();
      j["component"] = StrOf(b->component());
      j["pulse"] = StrOf(b->kind());
      j["duration_ms"] = b->duration_ms();
      break;
    }
  }
  return j;
}

nlohmann::json StateToJson(const storage::State& state) {
  nlohmann::json layers = nlohmann::json::object();
  for (int li = 0; li < storage::kLayerCount; ++li) {
    const Layer layer = static_cast<Layer>(li);
    const storage::LayerState& ls = state.layer(layer);
    // Sorted by id: an export is deterministic, so two can be diffed.
    std::map<uint64_t, const storage::Session*> sessions;
    std::map<uint64_t, const storage::PendingEvent*> events;
    for (const storage::Shard& sh : ls.shards) {
      for (const auto& [id, s] : sh.sessions) sessions[id] = s.get();
      for (const auto& [id, e] : sh.events) events[id] = e.get();
    }
    nlohmann::json js = nlohmann::json::array();
    for (const auto& [id, s] : sessions) {
      nlohmann::json kv = nlohmann::json::object();
      for (const auto& [k, v] : s->kv) kv[k] = Hex(v);
      js.push_back({{"session_id", id},
                    {"component_id", s->component_id},
                    {"component", s->component},
                    {"state", Hex(s->state)},
                    {"kv", kv},
                    {"opened_lsn", s->opened_lsn},
                    {"updated_lsn", s->updated_lsn},
                    {"opened", FormatTime(s->opened_unix_ns)},
                    {"updated", FormatTime(s->updated_unix_ns)}});
    }
    nlohmann::json je = nlohmann::json::array();
    for (const auto& [id, e] : events) {
      je.push_back({{"event_id", id},
                    {"session_id", e->session_id},
                    {"payload", Hex(e->payload)},
                    {"lsn", e->lsn},
                    {"time", FormatTime(e->unix_ns)}});
    }
    nlohmann::json jc = nlohmann::json::array();
    for (const auto& [id, c] : ls.components) {
      nlohmann::json o = {{"component_id", id},
                          {"name", c.name},
                          {"last_beat_seq", c.last_beat_seq},
                          {"last_beat_lsn", c.last_beat_lsn}};
      if (c.last_beat_unix_ns != 0) o["last_beat"] = FormatTime(c.last_beat_unix_ns);
      if (c.has_state) {
        o["state"] = storage::ComponentStateName(c.state);
        o["detail"] = c.detail;
        o["status_lsn"] = c.status_lsn;
      }
      jc.push_back(o);
    }
    layers[storage::LayerName(layer)] = {
        {"down", ls.meta.down},     {"reason", ls.meta.reason},
        {"pulses", ls.meta.pulses}, {"applied_lsn", ls.applied_lsn},
        {"sessions", js},           {"pending_events", je},
        {"components", jc}};
  }
  return {{"format", "razar-state"}, {"version", 1}, {"layers", layers}};
}

}  // namespace razar::replay
