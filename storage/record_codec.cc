#include "storage/record_codec.h"

#include <cstdio>
#include <cstring>

namespace razar::storage {

namespace {

constexpr const char* kRecordKindNames[kRecordKindCount] = {
    "beat",       "session_open",     "session_update", "session_close", "event_pending",
    "event_done", "component_status", "chakra_down",    "chakra_up",     "failure_pulse",
};

bool LayerInRange(Layer layer) {
  return !flatbuffers::IsOutRange(layer, fb::Layer::MIN, fb::Layer::MAX);
}

bool StateInRange(ComponentState state) {
  return !flatbuffers::IsOutRange(state, fb::ComponentState::MIN, fb::ComponentState::MAX);
}

// Maps a union member to its record kind; nullopt for NONE and for members
// appended by a newer writer.
std::optional<RecordKind> KindOfBody(fb::Body body) {
  switch (body) {
    case fb::Body::SessionOpen:
      return RecordKind::kSessionOpen;
    case fb::Body::SessionUpdate:
      return RecordKind::kSessionUpdate;
    case fb::Body::SessionClose:
      return RecordKind::kSessionClose;
    case fb::Body::EventPending:
      return RecordKind::kEventPending;
    case fb::Body::EventDone:
      return RecordKind::kEventDone;
    case fb::Body::ComponentStatus:
      return RecordKind::kComponentStatus;
    case fb::Body::ChakraDown:
      return RecordKind::kChakraDown;
    case fb::Body::ChakraUp:
      return RecordKind::kChakraUp;
    case fb::Body::FailurePulse:
      return RecordKind::kFailurePulse;
    case fb::Body::NONE:
      break;
  }
  return std::nullopt;
}

// The Verifier checks structure only: enum fields may still hold values this
// schema never defined, and every reader after us switches on them.
Status CheckEnums(const fb::Record& rec) {
  auto bad_layer = [](Layer l) { return !LayerInRange(l); };
  bool bad = false;
  switch (rec.body_type()) {
    case fb::Body::SessionOpen:
      bad = bad_layer(rec.body_as_SessionOpen()->layer());
      break;
    case fb::Body::ComponentStatus: {
      const fb::ComponentStatus* cs = rec.body_as_ComponentStatus();
      bad = bad_layer(cs->layer());
      if (!StateInRange(cs->state())) return Status::Corruption("component state out of range");
      break;
    }
    case fb::Body::ChakraDown:
      bad = bad_layer(rec.body_as_ChakraDown()->layer());
      break;
    case fb::Body::ChakraUp:
      bad = bad_layer(rec.body_as_ChakraUp()->layer());
      break;
    case fb::Body::FailurePulse:
      bad = bad_layer(rec.body_as_FailurePulse()->layer());
      break;
    case fb::Body::SessionUpdate:
      bad = bad_layer(rec.body_as_SessionUpdate()->layer());
      break;
    case fb::Body::SessionClose:
      bad = bad_layer(rec.body_as_SessionClose()->layer());
      break;
    case fb::Body::EventPending:
      bad = bad_layer(rec.body_as_EventPending()->layer());
      break;
    case fb::Body::EventDone:
      bad = bad_layer(rec.body_as_EventDone()->layer());
      break;
    default:
      break;
  }
  if (bad) return Status::Corruption("layer out of range");
  return Status::Ok();
}

Result<DecodedRecord> DecodeBeat(std::span<const uint8_t> payload) {
  if (payload.size() != sizeof(fb::Beat)) {
    return Status::Corruption("beat payload is " + std::to_string(payload.size()) +
                              " bytes, expected " + std::to_string(sizeof(fb::Beat)));
  }
  DecodedRecord out;
  out.kind = RecordKind::kBeat;
  std::memcpy(&out.beat, payload.data(), sizeof(fb::Beat));
  if (!LayerInRange(out.beat.layer())) return Status::Corruption("beat layer out of range");
  return out;
}

Result<DecodedRecord> DecodeTable(std::span<const uint8_t> payload) {
  // The Verifier's constructor asserts on oversized buffers instead of
  // failing, so reject those before it sees them.
  if (payload.size() < sizeof(flatbuffers::uoffset_t) ||
      payload.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return Status::Corruption("record payload size " + std::to_string(payload.size()) +
                              " cannot hold a FlatBuffer");
  }
  flatbuffers::Verifier verifier(payload.data(), payload.size());
  if (!verifier.VerifyBuffer<fb::Record>(nullptr)) {
    return Status::Corruption("record fails FlatBuffers verification");
  }
  const fb::Record* rec = flatbuffers::GetRoot<fb::Record>(payload.data());
  std::optional<RecordKind> kind = KindOfBody(rec->body_type());
  if (!kind.has_value()) {
    if (rec->body_type() == fb::Body::NONE) return Status::Corruption("record has no body");
    // Union members are only ever appended: a newer writer's record.
    return Status::NotSupported("unknown record body type " +
                                std::to_string(static_cast<int>(rec->body_type())));
  }
  // A known type with an absent table passes the Verifier (offsets may be
  // null) but would be dereferenced by every consumer.
  if (rec->body() == nullptr) return Status::Corruption("record body type set but body missing");
  RAZAR_RETURN_IF_ERROR(CheckEnums(*rec));
  DecodedRecord out;
  out.kind = *kind;
  out.record = rec;
  return out;
}

// Renders a string field for a one-line dump: bare when it is a plain token,
// otherwise quoted with escapes so that the line stays one line.
void AppendText(std::string* out, const flatbuffers::String* s) {
  if (s == nullptr) {
    out->append("-");
    return;
  }
  std::string_view v(s->c_str(), s->size());
  bool plain = !v.empty();
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == '=') plain = false;
  }
  if (plain) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out->append(buf);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

void AppendLayer(std::string* out, Layer layer) {
  const char* name = LayerName(layer);
  if (name != nullptr) {
    out->append(name);
  } else {
    out->append("?" + std::to_string(static_cast<int>(layer)));
  }
}

template <typename V>
size_t SizeOf(const V* v) {
  return v == nullptr ? 0 : v->size();
}

void DescribeTable(const fb::Record& rec, std::string* out) {
  using std::to_string;
  switch (rec.body_type()) {
    case fb::Body::SessionOpen: {
      const fb::SessionOpen* b = rec.body_as_SessionOpen();
      *out += " id=" + to_string(b->session_id()) + " layer=";
      AppendLayer(out, b->layer());
      *out += " component=";
      AppendText(out, b->component());
      *out += " state=" + to_string(SizeOf(b->state())) + "B kv=" + to_string(SizeOf(b->kv()));
      break;
    }
    case fb::Body::SessionUpdate: {
      const fb::SessionUpdate* b = rec.body_as_SessionUpdate();
      *out += " id=" + to_string(b->session_id()) + " layer=";
      AppendLayer(out, b->layer());
      *out += b->state() == nullptr ? std::string(" state=unchanged")
                                    : " state=" + to_string(b->state()->size()) + "B";
      *out += " kv=" + to_string(SizeOf(b->kv()));
      break;
    }
    case fb::Body::SessionClose:
      *out += " id=" + to_string(rec.body_as_SessionClose()->session_id()) + " layer=";
      AppendLayer(out, rec.body_as_SessionClose()->layer());
      break;
    case fb::Body::EventPending: {
      const fb::EventPending* b = rec.body_as_EventPending();
      *out += " event=" + to_string(b->event_id()) + " session=" + to_string(b->session_id()) +
              " layer=";
      AppendLayer(out, b->layer());
      *out += " payload=" + to_string(SizeOf(b->payload())) + "B";
      break;
    }
    case fb::Body::EventDone: {
      const fb::EventDone* b = rec.body_as_EventDone();
      *out += " event=" + to_string(b->event_id()) + " session=" + to_string(b->session_id()) +
              " layer=";
      AppendLayer(out, b->layer());
      break;
    }
    case fb::Body::ComponentStatus: {
      const fb::ComponentStatus* b = rec.body_as_ComponentStatus();
      *out += " component=";
      AppendText(out, b->component());
      *out += " component_id=" + to_string(b->component_id()) + " layer=";
      AppendLayer(out, b->layer());
      const char* state = ComponentStateName(b->state());
      *out += " state=";
      *out += state != nullptr ? std::string(state) : "?" + to_string(static_cast<int>(b->state()));
      *out += " detail=";
      AppendText(out, b->detail());
      break;
    }
    case fb::Body::ChakraDown: {
      const fb::ChakraDown* b = rec.body_as_ChakraDown();
      *out += " layer=";
      AppendLayer(out, b->layer());
      *out += " reason=";
      AppendText(out, b->reason());
      break;
    }
    case fb::Body::ChakraUp:
      *out += " layer=";
      AppendLayer(out, rec.body_as_ChakraUp()->layer());
      break;
    case fb::Body::FailurePulse: {
      const fb::FailurePulse* b = rec.body_as_FailurePulse();
      *out += " layer=";
      AppendLayer(out, b->layer());
      *out += " component=";
      AppendText(out, b->component());
      *out += " kind=";
      AppendText(out, b->kind());
      *out += " duration_ms=" + to_string(b->duration_ms());
      break;
    }
    case fb::Body::NONE:
      break;
  }
}

}  // namespace

const char* LayerName(Layer layer) {
  if (!LayerInRange(layer)) return nullptr;
  return fb::EnumNameLayer(layer);
}

std::optional<Layer> ParseLayer(std::string_view name) {
  for (Layer layer : fb::EnumValuesLayer()) {
    if (name == fb::EnumNameLayer(layer)) return layer;
  }
  return std::nullopt;
}

const char* ComponentStateName(ComponentState state) {
  if (!StateInRange(state)) return nullptr;
  return fb::EnumNameComponentState(state);
}

const char* RecordKindName(RecordKind kind) {
  auto i = static_cast<size_t>(kind);
  return i < kRecordKindCount ? kRecordKindNames[i] : nullptr;
}

std::optional<RecordKind> ParseRecordKind(std::string_view name) {
  for (int i = 0; i < kRecordKindCount; ++i) {
    if (name == kRecordKindNames[i]) return static_cast<RecordKind>(i);
  }
  return std::nullopt;
}

// ---- RecordEncoder ----

RecordEncoder::Encoded RecordEncoder::Beat(uint32_t component_id, Layer layer, uint64_t sequence) {
  fb::Beat beat(component_id, layer, sequence);
  static_assert(sizeof(beat) == sizeof(beat_));
  std::memcpy(beat_.data(), &beat, sizeof(beat));
  return {log_format::kBeat, std::span<const uint8_t>(beat_.data(), beat_.size())};
}

RecordEncoder::Encoded RecordEncoder::Finish(fb::Body type, flatbuffers::Offset<void> body) {
  fb::RecordBuilder rb(fbb_);
  rb.add_body(body);
  rb.add_body_type(type);
  fbb_.Finish(rb.Finish());
  return {log_format::kRecord, std::span<const uint8_t>(fbb_.GetBufferPointer(), fbb_.GetSize())};
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>>> RecordEncoder::BuildKv(
    std::span<const KeyValueArg> kv) {
  if (kv.empty()) return 0;
  std::vector<flatbuffers::Offset<fb::KeyValue>> entries;
  entries.reserve(kv.size());
  for (const KeyValueArg& arg : kv) {
    auto key = fbb_.CreateString(arg.key.data(), arg.key.size());
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> value = 0;
    // An absent value (not an empty one) is what marks a delete.
    if (arg.value.has_value()) value = fbb_.CreateVector(arg.value->data(), arg.value->size());
    entries.push_back(fb::CreateKeyValue(fbb_, key, value));
  }
  // The schema declares `key`, so readers may binary-search (LookupByKey);
  // the sort is stable, so repeated keys still apply in the caller's order.
  return fbb_.CreateVectorOfSortedTables(&entries);
}

RecordEncoder::Encoded RecordEncoder::SessionOpen(uint64_t session_id, Layer layer,
                                                  uint32_t component_id, std::string_view component,
                                                  std::span<const uint8_t> state,
                                                  std::span<const KeyValueArg> kv) {
  fbb_.Clear();
  auto comp = fbb_.CreateString(component.data(), component.size());
  auto st = fbb_.CreateVector(state.data(), state.size());
  auto kvs = BuildKv(kv);
  auto body = fb::CreateSessionOpen(fbb_, session_id, layer, component_id, comp, st, kvs);
  return Finish(fb::Body::SessionOpen, body.Union());
}

RecordEncoder::Encoded RecordEncoder::SessionUpdate(uint64_t session_id, Layer layer,
                                                    std::optional<std::span<const uint8_t>> state,
                                                    std::span<const KeyValueArg> kv) {
  fbb_.Clear();
  // Absent `state` means "unchanged"; a present empty vector clears it.
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> st = 0;
  if (state.has_value()) st = fbb_.CreateVector(state->data(), state->size());
  auto kvs = BuildKv(kv);
  auto body = fb::CreateSessionUpdate(fbb_, session_id, st, kvs, layer);
  return Finish(fb::Body::SessionUpdate, body.Union());
}

RecordEncoder::Encoded RecordEncoder::SessionClose(uint64_t session_id, Layer layer) {
  fbb_.Clear();
  auto body = fb::CreateSessionClose(fbb_, session_id, layer);
  return Finish(fb::Body::SessionClose, body.Union());
}

RecordEncoder::Encoded RecordEncoder::EventPending(uint64_t event_id, uint64_t session_id,
                                                   Layer layer, std::span<const uint8_t> payload) {
  fbb_.Clear();
  auto data = fbb_.CreateVector(payload.data(), payload.size());
  auto body = fb::CreateEventPending(fbb_, event_id, session_id, data, layer);
  return Finish(fb::Body::EventPending, body.Union());
}

RecordEncoder::Encoded RecordEncoder::EventDone(uint64_t event_id, uint64_t session_id,
                                                Layer layer) {
  fbb_.Clear();
  auto body = fb::CreateEventDone(fbb_, event_id, session_id, layer);
  return Finish(fb::Body::EventDone, body.Union());
}

RecordEncoder::Encoded RecordEncoder::ComponentStatus(uint32_t component_id,
                                                      std::string_view component, Layer layer,
                                                      ComponentState state,
                                                      std::string_view detail) {
  fbb_.Clear();
  auto comp = fbb_.CreateString(component.data(), component.size());
  auto det = fbb_.CreateString(detail.data(), detail.size());
  auto body = fb::CreateComponentStatus(fbb_, component_id, comp, layer, state, det);
  return Finish(fb::Body::ComponentStatus, body.Union());
}

RecordEncoder::Encoded RecordEncoder::ChakraDown(Layer layer, std::string_view reason) {
  fbb_.Clear();
  auto why = fbb_.CreateString(reason.data(), reason.size());
  auto body = fb::CreateChakraDown(fbb_, layer, why);
  return Finish(fb::Body::ChakraDown, body.Union());
}

RecordEncoder::Encoded RecordEncoder::ChakraUp(Layer layer) {
  fbb_.Clear();
  auto body = fb::CreateChakraUp(fbb_, layer);
  return Finish(fb::Body::ChakraUp, body.Union());
}

RecordEncoder::Encoded RecordEncoder::FailurePulse(Layer layer, std::string_view component,
                                                   std::string_view kind, uint32_t duration_ms) {
  fbb_.Clear();
  auto comp = fbb_.CreateString(component.data(), component.size());
  auto k = fbb_.CreateString(kind.data(), kind.size());
  auto body = fb::CreateFailurePulse(fbb_, layer, comp, k, duration_ms);
  return Finish(fb::Body::FailurePulse, body.Union());
}

// ---- Decoding ----

Result<DecodedRecord> DecodeRecord(uint16_t type, std::span<const uint8_t> payload) {
  switch (type) {
    case log_format::kBeat:
      return DecodeBeat(payload);
    case log_format::kRecord:
      return DecodeTable(payload);
    case log_format::kNone:
      return Status::Corruption("frame type 0 is never a record");
    default:
      return Status::NotSupported("unknown frame type " + std::to_string(type));
  }
}

std::string DescribeRecord(const DecodedRecord& rec) {
  std::string out = RecordKindName(rec.kind) != nullptr ? RecordKindName(rec.kind) : "unknown";
  if (rec.kind == RecordKind::kBeat) {
    out += " component_id=" + std::to_string(rec.beat.component_id()) + " layer=";
    AppendLayer(&out, rec.beat.layer());
    out += " seq=" + std::to_string(rec.beat.sequence());
    return out;
  }
  if (rec.record == nullptr) return out + " (no record)";
  DescribeTable(*rec.record, &out);
  return out;
}

}  // namespace razar::storage
