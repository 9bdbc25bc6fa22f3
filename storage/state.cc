#include "storage/state.h"

namespace razar::storage {

uint32_t ShardOfSession(uint64_t session_id) {
  uint64_t z = session_id + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<uint32_t>(z % kShardCount);
}

Route RouteOf(const DecodedRecord& rec) {
  if (rec.kind == RecordKind::kBeat) return {rec.beat.layer(), kLayerShard};
  const fb::Record& r = *rec.record;
  switch (rec.kind) {
    case RecordKind::kSessionOpen: {
      const auto* b = r.body_as_SessionOpen();
      return {b->layer(), ShardOfSession(b->session_id())};
    }
    case RecordKind::kSessionUpdate: {
      const auto* b = r.body_as_SessionUpdate();
      return {b->layer(), ShardOfSession(b->session_id())};
    }
    case RecordKind::kSessionClose: {
      const auto* b = r.body_as_SessionClose();
      return {b->layer(), ShardOfSession(b->session_id())};
    }
    case RecordKind::kEventPending: {
      const auto* b = r.body_as_EventPending();
      return {b->layer(), ShardOfSession(b->session_id())};
    }
    case RecordKind::kEventDone: {
      const auto* b = r.body_as_EventDone();
      return {b->layer(), ShardOfSession(b->session_id())};
    }
    case RecordKind::kComponentStatus:
      return {r.body_as_ComponentStatus()->layer(), kLayerShard};
    case RecordKind::kChakraDown:
      return {r.body_as_ChakraDown()->layer(), kLayerShard};
    case RecordKind::kChakraUp:
      return {r.body_as_ChakraUp()->layer(), kLayerShard};
    case RecordKind::kFailurePulse:
      return {r.body_as_FailurePulse()->layer(), kLayerShard};
    case RecordKind::kBeat:
      break;
  }
  return {};
}

namespace {

std::vector<uint8_t> Bytes(const flatbuffers::Vector<uint8_t>* v) {
  if (v == nullptr) return {};
  return std::vector<uint8_t>(v->begin(), v->end());
}

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

void ApplyKv(const flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>>* kv,
             std::map<std::string, std::vector<uint8_t>>* out) {
  if (kv == nullptr) return;
  for (const fb::KeyValue* e : *kv) {
    if (e == nullptr || e->key() == nullptr) continue;
    if (e->value() == nullptr) {
      out->erase(e->key()->str());
    } else {
      (*out)[e->key()->str()] = Bytes(e->value());
    }
  }
}

}  // namespace

void State::Apply(Lsn lsn, int64_t unix_ns, const DecodedRecord& rec) {
  const Route route = RouteOf(rec);
  LayerState& ls = layer(route.layer);
  if (lsn > ls.applied_lsn) ls.applied_lsn = lsn;
  ApplyRouted(route, lsn, unix_ns, rec, &ls, &orphans_);
}

namespace {

// One function per record kind: each changes only the slot the record is
// routed to (a shard's sessions or events, or the layer shard's components
// and meta).

void ApplyBeat(const fb::Beat& b, Lsn lsn, int64_t unix_ns, LayerState* ls) {
  Component& c = ls->components[b.component_id()];
  c.component_id = b.component_id();
  c.last_beat_seq = b.sequence();
  c.last_beat_unix_ns = unix_ns;
  c.last_beat_lsn = lsn;
}

void ApplySessionOpen(const fb::SessionOpen& b, Lsn lsn, int64_t unix_ns, Shard* shard) {
  auto s = std::make_shared<Session>();
  s->session_id = b.session_id();
  s->layer = b.layer();
  s->component_id = b.component_id();
  s->component = Str(b.component());
  s->state = Bytes(b.state());
  ApplyKv(b.kv(), &s->kv);
  s->opened_lsn = s->updated_lsn = lsn;
  s->opened_unix_ns = s->updated_unix_ns = unix_ns;
  shard->sessions[s->session_id] = std::move(s);
}

// kSessionUpdate copies a Session field by field: a new field must be
// copied there too (this fires when the struct changes).
static_assert(sizeof(Session) == 8 + 8 + 32 + 24 + 48 + 32,
              "Session changed: update the copy in ApplySessionUpdate");

void ApplySessionUpdate(const fb::SessionUpdate& b, Lsn lsn, int64_t unix_ns, Shard* shard,
                        uint64_t* orphans) {
  auto it = shard->sessions.find(b.session_id());
  if (it == shard->sessions.end()) {
    ++*orphans;
    return;
  }
  // Values are immutable: copy on write, but never copy the state bytes
  // the update replaces.
  const Session& old = *it->second;
  auto s = std::make_shared<Session>();
  s->session_id = old.session_id;
  s->layer = old.layer;
  s->component_id = old.component_id;
  s->component = old.component;
  s->state = b.state() != nullptr ? Bytes(b.state()) : old.state;
  s->kv = old.kv;
  s->opened_lsn = old.opened_lsn;
  s->opened_unix_ns = old.opened_unix_ns;
  ApplyKv(b.kv(), &s->kv);
  s->updated_lsn = lsn;
  s->updated_unix_ns = unix_ns;
  it->second = std::move(s);
}

void ApplySessionClose(const fb::SessionClose& b, Shard* shard, uint64_t* orphans) {
  if (shard->sessions.erase(b.session_id()) == 0) ++*orphans;
}

void ApplyEventPending(const fb::EventPending& b, Lsn lsn, int64_t unix_ns, Shard* shard) {
  auto e = std::make_shared<PendingEvent>();
  e->event_id = b.event_id();
  e->session_id = b.session_id();
  e->payload = Bytes(b.payload());
  e->lsn = lsn;
  e->unix_ns = unix_ns;
  shard->events[e->event_id] = std::move(e);
}

void ApplyEventDone(const fb::EventDone& b, Shard* shard, uint64_t* orphans) {
  if (shard->events.erase(b.event_id()) == 0) ++*orphans;
}

void ApplyComponentStatus(const fb::ComponentStatus& b, Lsn lsn, LayerState* ls) {
  Component& c = ls->components[b.component_id()];
  c.component_id = b.component_id();
  c.name = Str(b.component());
  c.state = b.state();
  c.has_state = true;
  c.detail = Str(b.detail());
  c.status_lsn = lsn;
}

void ApplyChakra(bool down, std::string reason, Lsn lsn, int64_t unix_ns, LayerMeta* meta) {
  meta->down = down;
  meta->reason = std::move(reason);
  meta->changed_lsn = lsn;
  meta->changed_unix_ns = unix_ns;
}

void ApplyFailurePulse(Lsn lsn, LayerMeta* meta) {
  ++meta->pulses;
  meta->last_pulse_lsn = lsn;
}

}  // namespace

void State::ApplyRouted(const Route& route, Lsn lsn, int64_t unix_ns, const DecodedRecord& rec,
                        LayerState* layer_state, uint64_t* orphans) {
  LayerState& ls = *layer_state;
  if (rec.kind == RecordKind::kBeat) return ApplyBeat(rec.beat, lsn, unix_ns, &ls);
  const fb::Record& r = *rec.record;
  Shard* shard = route.shard < kShardCount ? &ls.shards[route.shard] : nullptr;
  switch (rec.kind) {
    case RecordKind::kSessionOpen:
      return ApplySessionOpen(*r.body_as_SessionOpen(), lsn, unix_ns, shard);
    case RecordKind::kSessionUpdate:
      return ApplySessionUpdate(*r.body_as_SessionUpdate(), lsn, unix_ns, shard, orphans);
    case RecordKind::kSessionClose:
      return ApplySessionClose(*r.body_as_SessionClose(), shard, orphans);
    case RecordKind::kEventPending:
      return ApplyEventPending(*r.body_as_EventPending(), lsn, unix_ns, shard);
    case RecordKind::kEventDone:
      return ApplyEventDone(*r.body_as_EventDone(), shard, orphans);
    case RecordKind::kComponentStatus:
      return ApplyComponentStatus(*r.body_as_ComponentStatus(), lsn, &ls);
    case RecordKind::kChakraDown:
      return ApplyChakra(true, Str(r.body_as_ChakraDown()->reason()), lsn, unix_ns, &ls.meta);
    case RecordKind::kChakraUp:
      return ApplyChakra(false, std::string(), lsn, unix_ns, &ls.meta);
    case RecordKind::kFailurePulse:
      return ApplyFailurePulse(lsn, &ls.meta);
    case RecordKind::kBeat:
      break;
  }
}

Status State::Apply(const RecordView& rec) {
  RAZAR_ASSIGN_OR_RETURN(DecodedRecord d, DecodeRecord(rec.type, rec.payload));
  Apply(rec.lsn, rec.timestamp_ns, d);
  return Status::Ok();
}

uint64_t State::session_count() const {
  uint64_t n = 0;
  for (const LayerState& l : layers_)
    for (const Shard& s : l.shards) n += s.sessions.size();
  return n;
}

uint64_t State::event_count() const {
  uint64_t n = 0;
  for (const LayerState& l : layers_)
    for (const Shard& s : l.shards) n += s.events.size();
  return n;
}

namespace {

template <typename Map>
std::string DiffMap(const Map& a, const Map& b, const std::string& what) {
  if (a.size() != b.size()) {
    return what + " count " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  }
  for (const auto& [id, va] : a) {
    auto it = b.find(id);
    if (it == b.end()) return what + " " + std::to_string(id) + " missing on the right";
    if (!(*va == *it->second)) return what + " " + std::to_string(id) + " differs";
  }
  return "";
}

}  // namespace

std::string State::Diff(const State& other) const {
  for (int li = 0; li < kLayerCount; ++li) {
    const LayerState& a = layers_[li];
    const LayerState& b = other.layers_[li];
    const std::string where = std::string("layer ") + LayerName(static_cast<Layer>(li)) + ": ";
    for (uint32_t s = 0; s < kShardCount; ++s) {
      std::string d = DiffMap(a.shards[s].sessions, b.shards[s].sessions, "session");
      if (d.empty()) d = DiffMap(a.shards[s].events, b.shards[s].events, "event");
      if (!d.empty()) return where + "shard " + std::to_string(s) + ": " + d;
    }
    if (a.components != b.components) {
      if (a.components.size() != b.components.size())
        return where + "component count " + std::to_string(a.components.size()) + " vs " +
               std::to_string(b.components.size());
      for (const auto& [id, c] : a.components) {
        auto it = b.components.find(id);
        if (it == b.components.end() || !(it->second == c))
          return where + "component " + std::to_string(id) + " differs";
      }
    }
    if (!(a.meta == b.meta)) return where + "chakra status differs";
  }
  return "";
}

}  // namespace razar::storage
