#include "testing/spine_test_util.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>

namespace razar::storage::testing {

namespace {

std::string BytesStr(const Bytes& b) {
  static const char* kHex = "0123456789abcdef";
  std::string s = std::to_string(b.size()) + "B:";
  for (size_t i = 0; i < b.size() && i < 16; ++i) {
    s += kHex[b[i] >> 4];
    s += kHex[b[i] & 15];
  }
  if (b.size() > 16) s += "...";
  return s;
}

#define RAZAR_CMP_FIELD(what, a, b, field)               \
  do {                                                   \
    if (!((a).field == (b).field)) {                     \
      return std::string(what) + ": " #field " differs"; \
    }                                                    \
  } while (0)

std::string SessionFieldDiff(const std::string& where, const Session& a, const Session& b,
                                    bool with_time) {
  RAZAR_CMP_FIELD(where, a, b, session_id);
  RAZAR_CMP_FIELD(where, a, b, layer);
  RAZAR_CMP_FIELD(where, a, b, component_id);
  RAZAR_CMP_FIELD(where, a, b, component);
  if (a.state != b.state) {
    return where + ": state differs (" + BytesStr(a.state) + " vs " + BytesStr(b.state) + ")";
  }
  if (a.kv != b.kv) {
    return where + ": kv differs (" + std::to_string(a.kv.size()) + " vs " +
           std::to_string(b.kv.size()) + " keys)";
  }
  RAZAR_CMP_FIELD(where, a, b, opened_lsn);
  RAZAR_CMP_FIELD(where, a, b, updated_lsn);
  if (with_time) {
    RAZAR_CMP_FIELD(where, a, b, opened_unix_ns);
    RAZAR_CMP_FIELD(where, a, b, updated_unix_ns);
  }
  return "";
}

std::string EventFieldDiff(const std::string& where, const PendingEvent& a,
                                  const PendingEvent& b, bool with_time) {
  RAZAR_CMP_FIELD(where, a, b, event_id);
  RAZAR_CMP_FIELD(where, a, b, session_id);
  if (a.payload != b.payload) return where + ": payload differs";
  RAZAR_CMP_FIELD(where, a, b, lsn);
  if (with_time) RAZAR_CMP_FIELD(where, a, b, unix_ns);
  return "";
}

std::string ComponentFieldDiff(const std::string& where, const Component& a,
                                      const Component& b, bool with_time) {
  RAZAR_CMP_FIELD(where, a, b, component_id);
  RAZAR_CMP_FIELD(where, a, b, name);
  RAZAR_CMP_FIELD(where, a, b, state);
  RAZAR_CMP_FIELD(where, a, b, has_state);
  RAZAR_CMP_FIELD(where, a, b, detail);
  RAZAR_CMP_FIELD(where, a, b, status_lsn);
  RAZAR_CMP_FIELD(where, a, b, last_beat_seq);
  RAZAR_CMP_FIELD(where, a, b, last_beat_lsn);
  if (with_time) RAZAR_CMP_FIELD(where, a, b, last_beat_unix_ns);
  return "";
}

std::string MetaFieldDiff(const std::string& where, const LayerMeta& a, const LayerMeta& b,
                                 bool with_time) {
  RAZAR_CMP_FIELD(where, a, b, down);
  RAZAR_CMP_FIELD(where, a, b, reason);
  RAZAR_CMP_FIELD(where, a, b, changed_lsn);
  RAZAR_CMP_FIELD(where, a, b, pulses);
  RAZAR_CMP_FIELD(where, a, b, last_pulse_lsn);
  if (with_time) RAZAR_CMP_FIELD(where, a, b, changed_unix_ns);
  return "";
}

#undef RAZAR_CMP_FIELD

template <typename Map, typename Fn>
std::string MapDiff(const std::string& where, const char* what, const Map& a, const Map& b,
                    Fn field_diff) {
  for (const auto& [id, pa] : a) {
    auto it = b.find(id);
    std::string w = where + " " + what + " " + std::to_string(id);
    if (it == b.end()) return w + ": only in the first state";
    if (pa == nullptr || it->second == nullptr) return w + ": null value";
    std::string d = field_diff(w, *pa, *it->second);
    if (!d.empty()) return d;
  }
  for (const auto& [id, pb] : b) {
    if (a.find(id) == a.end()) {
      return where + " " + what + " " + std::to_string(id) + ": only in the second state";
    }
  }
  return "";
}

}  // namespace

std::string LayerStateDiff(Layer l, const LayerState& a, const LayerState& b,
                                  bool with_time) {
  const std::string ln = LayerName(l);
  for (uint32_t s = 0; s < kShardCount; ++s) {
    const std::string where = ln + " shard " + std::to_string(s);
    std::string d = MapDiff(where, "session", a.shards[s].sessions, b.shards[s].sessions,
                            [&](const std::string& w, const Session& x, const Session& y) {
                              return SessionFieldDiff(w, x, y, with_time);
                            });
    if (!d.empty()) return d;
    d = MapDiff(where, "event", a.shards[s].events, b.shards[s].events,
                [&](const std::string& w, const PendingEvent& x, const PendingEvent& y) {
                  return EventFieldDiff(w, x, y, with_time);
                });
    if (!d.empty()) return d;
  }
  for (const auto& [id, ca] : a.components) {
    auto it = b.components.find(id);
    std::string w = ln + " component " + std::to_string(id);
    if (it == b.components.end()) return w + ": only in the first state";
    std::string d = ComponentFieldDiff(w, ca, it->second, with_time);
    if (!d.empty()) return d;
  }
  for (const auto& [id, cb] : b.components) {
    if (a.components.find(id) == a.components.end()) {
      return ln + " component " + std::to_string(id) + ": only in the second state";
    }
  }
  return MetaFieldDiff(ln + " meta", a.meta, b.meta, with_time);
}

std::string StateDiffOf(const State& a, const State& b, bool with_time) {
  for (Layer l : kAllLayers) {
    std::string d = LayerStateDiff(l, a.layer(l), b.layer(l), with_time);
    if (!d.empty()) return d;
  }
  return "";
}

std::string PlacementProblem(const State& st) {
  for (Layer l : kAllLayers) {
    const LayerState& ls = st.layer(l);
    for (uint32_t s = 0; s < kShardCount; ++s) {
      for (const auto& [id, p] : ls.shards[s].sessions) {
        if (p == nullptr) return "null session";
        if (p->session_id != id) return "session keyed " + std::to_string(id) + " has another id";
        if (ShardOfSession(id) != s) return "session " + std::to_string(id) + " in wrong shard";
        if (p->layer != l) return "session " + std::to_string(id) + " in wrong layer";
      }
      for (const auto& [id, p] : ls.shards[s].events) {
        if (p == nullptr) return "null event";
        if (p->event_id != id) return "event keyed " + std::to_string(id) + " has another id";
        if (ShardOfSession(p->session_id) != s) {
          return "event " + std::to_string(id) + " not in its session's shard";
        }
      }
    }
    for (const auto& [id, c] : ls.components) {
      if (c.component_id != id) return "component keyed " + std::to_string(id) + " has another id";
    }
  }
  return "";
}

// A canonical rendering of one (layer, shard) — sessions and events in id
// order, or for the layer shard the components and the meta — to detect
// which shards a record changed.
std::string ShardImage(const LayerState& ls, uint32_t shard) {
  std::string out;
  auto add = [&out](uint64_t v) { out += std::to_string(v) + ","; };
  auto add_bytes = [&out](const Bytes& b) { out += BytesStr(b) + ";"; };
  if (shard == kLayerShard) {
    for (const auto& [id, c] : ls.components) {
      add(id);
      out += c.name + "|" + c.detail + "|";
      add(static_cast<uint64_t>(c.state));
      add(c.has_state);
      add(c.status_lsn);
      add(c.last_beat_seq);
      add(static_cast<uint64_t>(c.last_beat_unix_ns));
      add(c.last_beat_lsn);
    }
    const LayerMeta& m = ls.meta;
    add(m.down);
    out += m.reason + "|";
    add(m.changed_lsn);
    add(static_cast<uint64_t>(m.changed_unix_ns));
    add(m.pulses);
    add(m.last_pulse_lsn);
    return out;
  }
  std::map<uint64_t, const Session*> sessions;
  for (const auto& [id, p] : ls.shards[shard].sessions) sessions[id] = p.get();
  for (const auto& [id, p] : sessions) {
    add(id);
    add(p->component_id);
    out += p->component + "|";
    add_bytes(p->state);
    for (const auto& [k, v] : p->kv) {
      out += k + "=";
      add_bytes(v);
    }
    add(p->opened_lsn);
    add(p->updated_lsn);
    add(static_cast<uint64_t>(p->opened_unix_ns));
    add(static_cast<uint64_t>(p->updated_unix_ns));
  }
  out += "#";
  std::map<uint64_t, const PendingEvent*> events;
  for (const auto& [id, p] : ls.shards[shard].events) events[id] = p.get();
  for (const auto& [id, p] : events) {
    add(id);
    add(p->session_id);
    add_bytes(p->payload);
    add(p->lsn);
    add(static_cast<uint64_t>(p->unix_ns));
  }
  return out;
}

// Decodes and applies an encoder's output (the span must still be valid).
void ApplyEncoded(State* st, Lsn lsn, int64_t unix_ns, const RecordEncoder::Encoded& e) {
  auto d = DecodeRecord(e.type, e.payload);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  st->Apply(lsn, unix_ns, *d);
}

// Replays a whole log directory into a fresh State with State::Apply — the
// reference for what a restart must rebuild when the log is complete.
Status ReplayLogInto(const std::string& log_dir, State* st, uint64_t* records) {
  LogReaderOptions o;
  o.dir = log_dir;
  auto r = LogReader::Open(o);
  if (!r.ok()) return r.status();
  *records = 0;
  for (;;) {
    RecordView v;
    auto more = (*r)->Next(&v);
    if (!more.ok()) return more.status();
    if (!*more) break;
    RAZAR_RETURN_IF_ERROR(st->Apply(v));
    ++*records;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Raw RocksDB access.

std::string BigEndian64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}
uint64_t ReadBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t ReadLittleEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

namespace {

Status FromRocks(const rocksdb::Status& s) {
  return s.ok() ? Status::Ok() : Status::IoError(s.ToString());
}

}  // namespace

std::unique_ptr<RawSnapshotDb> RawSnapshotDb::Open(const std::string& path, bool read_only,
                                                   std::string* err) {
  std::vector<std::string> names;
  rocksdb::DBOptions dbo;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(dbo, path, &names);
  if (!s.ok()) {
    *err = "ListColumnFamilies: " + s.ToString();
    return nullptr;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& n : names) descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  auto out = std::unique_ptr<RawSnapshotDb>(new RawSnapshotDb());
  rocksdb::Options opts;
  if (read_only) {
    s = rocksdb::DB::OpenForReadOnly(opts, path, descs, &out->handles_, &out->db_);
  } else {
    s = rocksdb::DB::Open(opts, path, descs, &out->handles_, &out->db_);
  }
  if (!s.ok()) {
    *err = "open " + path + ": " + s.ToString();
    return nullptr;
  }
  for (size_t i = 0; i < names.size(); ++i) out->by_name_[names[i]] = out->handles_[i];
  return out;
}

RawSnapshotDb::~RawSnapshotDb() {
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  if (db_ != nullptr) {
    db_->Close().PermitUncheckedError();
    delete db_;
  }
}

rocksdb::ColumnFamilyHandle* RawSnapshotDb::cf(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> RawSnapshotDb::cf_names() const {
  std::vector<std::string> out;
  for (const auto& [n, h] : by_name_) out.push_back(n);
  return out;
}

std::vector<std::pair<std::string, std::string>> RawSnapshotDb::Entries(
    const std::string& cf_name) const {
  std::vector<std::pair<std::string, std::string>> out;
  rocksdb::ColumnFamilyHandle* h = cf(cf_name);
  if (h == nullptr) return out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), h));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  return out;
}

Status RawSnapshotDb::Put(const std::string& cf_name, const std::string& key,
                          const std::string& value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, cf(cf_name), key, value));
}

Status RawSnapshotDb::Delete(const std::string& cf_name, const std::string& key) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Delete(wo, cf(cf_name), key));
}

// Snapshot ids that have at least one entry in a layer column family.
std::map<uint64_t, uint64_t> EntryCountsById(const RawSnapshotDb& db, Layer l) {
  std::map<uint64_t, uint64_t> out;
  for (const auto& [k, v] : db.Entries(LayerName(l))) {
    if (k.size() >= 8) ++out[ReadBigEndian64(k.data())];
  }
  return out;
}

// Overwrites one value of snapshot `snapshot_id` of `layer` (preferring a
// session entry) with a copy whose middle byte has one bit flipped. Returns
// the key that was damaged, or "" with *err set.
std::string FlipSnapshotValueByte(const std::string& db_path, Layer layer,
                                         uint64_t snapshot_id, std::string* err) {
  auto db = RawSnapshotDb::Open(db_path, /*read_only=*/false, err);
  if (db == nullptr) return "";
  const std::string prefix = BigEndian64(snapshot_id);
  std::string key, value;
  for (const auto& [k, v] : db->Entries(LayerName(layer))) {
    if (k.compare(0, 8, prefix) != 0) continue;
    if (key.empty() || (k.size() > 10 && k[10] == 1 && (key.size() <= 10 || key[10] != 1))) {
      key = k;
      value = v;
    }
  }
  if (key.empty()) {
    *err = "no entry of snapshot " + std::to_string(snapshot_id) + " in " + LayerName(layer);
    return "";
  }
  value[value.size() / 2] = static_cast<char>(value[value.size() / 2] ^ 0x10);
  Status s = db->Put(LayerName(layer), key, value);
  if (!s.ok()) {
    *err = "put: " + s.ToString();
    return "";
  }
  return key;
}

// ---------------------------------------------------------------------------
// The op generator.

Op OpGen::Next() {
  Op op = Pick();
  if (allow_append_ && op.kind <= OpKind::kDone && op.kind != OpKind::kUpdateKv) {
    op.via_append = rng_() % 10 == 0;
  }
  return op;
}

// k (0..99) picks the kind: 16% open, 40% an op on an open session, 4% an
// event done, the rest layer ops; a pick that is impossible now draws again.
Op OpGen::Pick() {
  for (;;) {
    const int k = static_cast<int>(rng_() % 100);
    Op op;
    if (k < 16) {
      if (PickOpen(&op)) return op;
    } else if (k < 56) {
      if (PickSessionOp(k, &op)) return op;
    } else if (k < 60) {
      if (PickDone(&op)) return op;
    } else {
      PickLayerOp(k, &op);
      return op;
    }
  }
}

bool OpGen::PickOpen(Op* op) {
  if (open_.size() >= max_sessions_) return false;
  op->kind = OpKind::kOpen;
  op->session_id = ++next_session_;
  op->layer = RandomLayer();
  op->component_id = RandomComponent();
  op->name = "comp-" + std::to_string(op->component_id);
  op->bytes = RandomBytes(48);
  open_[op->session_id] = op->layer;
  open_ids_.push_back(op->session_id);
  return true;
}

bool OpGen::PickSessionOp(int k, Op* op) {
  if (open_ids_.empty()) return false;
  const uint64_t sid = open_ids_[rng_() % open_ids_.size()];
  op->session_id = sid;
  op->layer = open_.at(sid);
  if (k < 30) {
    op->kind = OpKind::kUpdate;
    op->bytes = RandomBytes(64);
  } else if (k < 36) {
    op->kind = OpKind::kUpdateKv;
    op->keep_state = (rng_() % 2) == 0;
    if (!op->keep_state) op->bytes = RandomBytes(16);
    const int n = 1 + static_cast<int>(rng_() % 3);
    for (int i = 0; i < n; ++i) {
      std::string key = "k" + std::to_string(rng_() % 6);
      if (rng_() % 4 == 0) {
        op->kv.emplace_back(key, std::nullopt);
      } else {
        op->kv.emplace_back(key, RandomBytes(12));
      }
    }
  } else if (k < 48) {
    op->kind = OpKind::kPending;
    op->event_id = ++next_event_;
    op->bytes = RandomBytes(40);
    pending_.emplace_back(op->event_id, sid);
  } else {
    op->kind = OpKind::kClose;
    open_.erase(sid);
    open_ids_.erase(std::find(open_ids_.begin(), open_ids_.end(), sid));
    std::erase_if(pending_, [sid](const auto& p) { return p.second == sid; });
  }
  return true;
}

bool OpGen::PickDone(Op* op) {
  if (pending_.empty()) return false;
  const size_t i = rng_() % pending_.size();
  op->kind = OpKind::kDone;
  op->event_id = pending_[i].first;
  op->session_id = pending_[i].second;
  op->layer = open_.at(op->session_id);
  pending_.erase(pending_.begin() + static_cast<ptrdiff_t>(i));
  return true;
}

void OpGen::PickLayerOp(int k, Op* op) {
  op->layer = RandomLayer();
  if (k < 84) {
    op->kind = OpKind::kBeat;
    op->component_id = RandomComponent();
    op->seq = ++beat_seq_;
  } else if (k < 92) {
    op->kind = OpKind::kStatus;
    op->component_id = RandomComponent();
    op->name = "comp-" + std::to_string(op->component_id);
    op->cstate = static_cast<ComponentState>(rng_() % 7);
    op->name += (rng_() % 2) ? "" : "-v2";
    op->bytes = RandomBytes(8);  // detail is derived from it
  } else if (k < 95) {
    op->kind = OpKind::kDown;
    op->name = "reason-" + std::to_string(rng_() % 100);
  } else if (k < 98) {
    op->kind = OpKind::kUp;
  } else {
    op->kind = OpKind::kPulse;
    op->name = "comp-" + std::to_string(RandomComponent());
  }
}

Layer OpGen::RandomLayer() { return kAllLayers[rng_() % kLayerCount]; }
uint32_t OpGen::RandomComponent() { return 1 + static_cast<uint32_t>(rng_() % components_); }
Bytes OpGen::RandomBytes(size_t max) { return PatternBytes(rng_(), rng_() % (max + 1)); }

namespace {
std::string DetailOf(const Op& op) { return "detail-" + BytesStr(op.bytes); }
}  // namespace

// The record an op stands for.
RecordEncoder::Encoded EncodeOp(RecordEncoder& enc, const Op& op,
                                       std::vector<KeyValueArg>* kv_scratch) {
  switch (op.kind) {
    case OpKind::kOpen:
      return enc.SessionOpen(op.session_id, op.layer, op.component_id, op.name, op.bytes);
    case OpKind::kUpdate:
      return enc.SessionUpdate(op.session_id, op.layer, std::span<const uint8_t>(op.bytes));
    case OpKind::kUpdateKv: {
      kv_scratch->clear();
      for (const auto& [k, v] : op.kv) {
        KeyValueArg a;
        a.key = k;
        if (v.has_value()) a.value = std::span<const uint8_t>(*v);
        kv_scratch->push_back(a);
      }
      std::optional<std::span<const uint8_t>> st;
      if (!op.keep_state) st = std::span<const uint8_t>(op.bytes);
      return enc.SessionUpdate(op.session_id, op.layer, st, *kv_scratch);
    }
    case OpKind::kClose:
      return enc.SessionClose(op.session_id, op.layer);
    case OpKind::kPending:
      return enc.EventPending(op.event_id, op.session_id, op.layer, op.bytes);
    case OpKind::kDone:
      return enc.EventDone(op.event_id, op.session_id, op.layer);
    case OpKind::kBeat:
      return enc.Beat(op.component_id, op.layer, op.seq);
    case OpKind::kStatus:
      return enc.ComponentStatus(op.component_id, op.name, op.layer, op.cstate, DetailOf(op));
    case OpKind::kDown:
      return enc.ChakraDown(op.layer, op.name);
    case OpKind::kUp:
      return enc.ChakraUp(op.layer);
    case OpKind::kPulse:
      return enc.FailurePulse(op.layer, op.name, "kill", 250);
  }
  return enc.ChakraUp(op.layer);
}

// Runs an op through the typed Spine API (kv updates and failure pulses,
// which have no typed call, through Spine::Append).
Result<Lsn> RunOp(Spine* spine, RecordEncoder& enc, const Op& op) {
  if (op.via_append) {
    std::vector<KeyValueArg> scratch;
    RecordEncoder::Encoded e = EncodeOp(enc, op, &scratch);
    return spine->Append(e.type, e.payload);
  }
  switch (op.kind) {
    case OpKind::kOpen:
      return spine->OpenSession(op.session_id, op.layer, op.component_id, op.name, op.bytes);
    case OpKind::kUpdate:
      return spine->UpdateSession(op.session_id, op.bytes);
    case OpKind::kClose:
      return spine->CloseSession(op.session_id);
    case OpKind::kPending:
      return spine->EventPending(op.event_id, op.session_id, op.bytes);
    case OpKind::kDone:
      return spine->EventDone(op.event_id, op.session_id);
    case OpKind::kBeat:
      return spine->Beat(op.component_id, op.layer, op.seq);
    case OpKind::kStatus:
      return spine->ComponentStatus(op.component_id, op.name, op.layer, op.cstate, DetailOf(op));
    case OpKind::kDown:
      return spine->ChakraDown(op.layer, op.name);
    case OpKind::kUp:
      return spine->ChakraUp(op.layer);
    case OpKind::kUpdateKv:
    case OpKind::kPulse: {
      std::vector<KeyValueArg> scratch;
      RecordEncoder::Encoded e = EncodeOp(enc, op, &scratch);
      return spine->Append(e.type, e.payload);
    }
  }
  return Status::InvalidArgument("unknown op");
}

// Runs `n` ops of `gen`, failing the test at the first error; *last gets
// the LSN of the last one.
void RunOps(Spine* spine, RecordEncoder& enc, OpGen& gen, int n, Lsn* last) {
  for (int i = 0; i < n; ++i) {
    Result<Lsn> lsn = RunOp(spine, enc, gen.Next());
    ASSERT_TRUE(lsn.ok()) << "op #" << i << ": " << lsn.status().ToString();
    if (last != nullptr) *last = *lsn;
  }
}

// Applies an op to a model State at `lsn` with timestamp 0.
void ApplyOp(State* model, RecordEncoder& enc, const Op& op, Lsn lsn) {
  std::vector<KeyValueArg> scratch;
  ApplyEncoded(model, lsn, 0, EncodeOp(enc, op, &scratch));
}

SpineOptions TestSpineOptions(const std::string& dir, SnapshotWriteMethod method,
                              Durability durability, uint64_t segment_bytes) {
  SpineOptions o;
  o.dir = dir;
  o.log.segment_bytes = segment_bytes;
  o.log.durability = durability;
  o.log.buffer_bytes = 256u << 10;
  o.snapshot_method = method;
  o.snapshot_interval_s = 0;
  return o;
}

const char* MethodTag(SnapshotWriteMethod m) {
  return m == SnapshotWriteMethod::kSstIngest ? "SstIngest" : "WriteBatch";
}

}  // namespace razar::storage::testing
