#include "storage/record_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace razar::storage {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Copies an encoder's output: its span is only valid until the next call.
struct Frame {
  uint16_t type;
  Bytes payload;
};
Frame Copy(const RecordEncoder::Encoded& e) {
  return Frame{e.type, Bytes(e.payload.begin(), e.payload.end())};
}

std::string Str(const flatbuffers::String* s) {
  return s == nullptr ? std::string("<null>") : std::string(s->c_str(), s->size());
}
Bytes Vec(const flatbuffers::Vector<uint8_t>* v) {
  return v == nullptr ? Bytes{} : Bytes(v->begin(), v->end());
}

const DecodedRecord& MustDecode(const Frame& f, Result<DecodedRecord>* holder) {
  *holder = DecodeRecord(f.type, f.payload);
  EXPECT_TRUE(holder->ok()) << holder->status().ToString();
  return holder->value();
}

// Reads every field a consumer could touch; under ASan this is what proves
// an accepted (verified) buffer is safe to use.
void TouchEverything(const DecodedRecord& rec) {
  std::string line = DescribeRecord(rec);
  EXPECT_FALSE(line.empty());
  if (rec.record == nullptr) return;
  auto touch_kv = [](const flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>>* kv) {
    if (kv == nullptr) return;
    for (const fb::KeyValue* e : *kv) {
      Str(e->key());
      Vec(e->value());
    }
  };
  if (auto* b = rec.record->body_as_SessionOpen()) {
    Str(b->component());
    Vec(b->state());
    touch_kv(b->kv());
  } else if (auto* b = rec.record->body_as_SessionUpdate()) {
    Vec(b->state());
    touch_kv(b->kv());
  } else if (auto* b = rec.record->body_as_EventPending()) {
    Vec(b->payload());
  } else if (auto* b = rec.record->body_as_ComponentStatus()) {
    Str(b->component());
    Str(b->detail());
  } else if (auto* b = rec.record->body_as_ChakraDown()) {
    Str(b->reason());
  } else if (auto* b = rec.record->body_as_FailurePulse()) {
    Str(b->component());
    Str(b->kind());
  }
}

// One payload of every record kind, with every field set to a non-default.
std::vector<Frame> SampleOfEveryKind() {
  RecordEncoder enc;
  Bytes state = ToBytes("state-bytes!");
  Bytes v1 = ToBytes("value-one");
  KeyValueArg kv[] = {{"k1", std::span<const uint8_t>(v1)}, {"k2", std::nullopt}};
  Bytes payload = ToBytes("event payload");
  std::vector<Frame> out;
  out.push_back(Copy(enc.Beat(7, Layer::throat, 123456789)));
  out.push_back(Copy(enc.SessionOpen(42, Layer::heart, 3, "api", state, kv)));
  out.push_back(Copy(enc.SessionUpdate(42, Layer::heart, std::span<const uint8_t>(state), kv)));
  out.push_back(Copy(enc.SessionClose(42, Layer::heart)));
  out.push_back(Copy(enc.EventPending(9, 42, Layer::heart, payload)));
  out.push_back(Copy(enc.EventDone(9, 42, Layer::heart)));
  out.push_back(Copy(enc.ComponentStatus(3, "api", Layer::solar, ComponentState::patched, "ok")));
  out.push_back(Copy(enc.ChakraDown(Layer::crown, "3 missed beats")));
  out.push_back(Copy(enc.ChakraUp(Layer::sacral)));
  out.push_back(Copy(enc.FailurePulse(Layer::third_eye, "db", "kill", 1500)));
  return out;
}

// A Record whose body type and body are chosen by the test, for payloads
// the encoder refuses to produce.
Bytes BuildRecord(fb::Body type, bool with_body, Layer layer = Layer::root,
                  ComponentState state = ComponentState::starting) {
  flatbuffers::FlatBufferBuilder fbb;
  flatbuffers::Offset<void> body = 0;
  if (with_body) {
    if (type == fb::Body::ComponentStatus) {
      body = fb::CreateComponentStatus(fbb, 1, fbb.CreateString("c"), layer, state).Union();
    } else {
      body = fb::CreateChakraUp(fbb, layer).Union();
    }
  }
  fb::RecordBuilder rb(fbb);
  if (with_body) rb.add_body(body);
  rb.add_body_type(type);
  fbb.Finish(rb.Finish());
  return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

TEST(RecordCodecTest, BeatRoundTripsEveryField) {
  RecordEncoder enc;
  Frame f = Copy(enc.Beat(0xDEADBEEF, Layer::crown, 0x0123456789ABCDEFull));
  EXPECT_EQ(f.type, log_format::kBeat);
  ASSERT_EQ(f.payload.size(), 16u);
  Result<DecodedRecord> r = DecodedRecord{};
  const DecodedRecord& rec = MustDecode(f, &r);
  EXPECT_EQ(rec.kind, RecordKind::kBeat);
  EXPECT_EQ(rec.record, nullptr);
  EXPECT_EQ(rec.beat.component_id(), 0xDEADBEEFu);
  EXPECT_EQ(rec.beat.layer(), Layer::crown);
  EXPECT_EQ(rec.beat.sequence(), 0x0123456789ABCDEFull);
}

TEST(RecordCodecTest, BeatBytesMatchTheDocumentedLayout) {
  RecordEncoder enc;
  Frame f = Copy(enc.Beat(0x04030201, Layer::heart, 0x0C0B0A0908070605ull));
  // component_id u32, layer u8, 3 zero bytes, sequence u64, little-endian.
  Bytes want = {1, 2, 3, 4, 3, 0, 0, 0, 5, 6, 7, 8, 9, 10, 11, 12};
  EXPECT_EQ(f.payload, want);
}

TEST(RecordCodecTest, SessionOpenRoundTripsEveryField) {
  RecordEncoder enc;
  Bytes state = ToBytes("twelve bytes");
  Bytes v = ToBytes("v");
  Bytes empty;
  KeyValueArg kv[] = {{"user", std::span<const uint8_t>(v)},
                      {"cart", std::span<const uint8_t>(empty)},
                      {"gone", std::nullopt}};
  Frame f = Copy(enc.SessionOpen(42, Layer::heart, 17, "api", state, kv));
  EXPECT_EQ(f.type, log_format::kRecord);
  Result<DecodedRecord> r = DecodedRecord{};
  const DecodedRecord& rec = MustDecode(f, &r);
  ASSERT_EQ(rec.kind, RecordKind::kSessionOpen);
  const fb::SessionOpen* b = rec.record->body_as_SessionOpen();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->session_id(), 42u);
  EXPECT_EQ(b->layer(), Layer::heart);
  EXPECT_EQ(b->component_id(), 17u);
  EXPECT_EQ(Str(b->component()), "api");
  EXPECT_EQ(Vec(b->state()), state);
  ASSERT_NE(b->kv(), nullptr);
  ASSERT_EQ(b->kv()->size(), 3u);
  // Sorted by key (the schema's `key` attribute), so LookupByKey works.
  EXPECT_EQ(Str(b->kv()->Get(0)->key()), "cart");
  EXPECT_EQ(Str(b->kv()->Get(1)->key()), "gone");
  EXPECT_EQ(Str(b->kv()->Get(2)->key()), "user");
  const fb::KeyValue* cart = b->kv()->Get(0);
  const fb::KeyValue* gone = b->kv()->Get(1);
  const fb::KeyValue* user = b->kv()->Get(2);
  ASSERT_TRUE(cart && gone && user);
  ASSERT_NE(cart->value(), nullptr);  // empty value is a set, not a delete
  EXPECT_EQ(cart->value()->size(), 0u);
  EXPECT_EQ(gone->value(), nullptr);  // absent value is a delete
  EXPECT_EQ(Vec(user->value()), v);
}

TEST(RecordCodecTest, SessionUpdateWithStateRoundTripsEveryField) {
  RecordEncoder enc;
  Bytes state = ToBytes("new state");
  Bytes v = ToBytes("1");
  KeyValueArg kv[] = {{"a", std::span<const uint8_t>(v)}};
  Frame f = Copy(enc.SessionUpdate(7, Layer::heart, std::span<const uint8_t>(state), kv));
  Result<DecodedRecord> r = DecodedRecord{};
  const DecodedRecord& rec = MustDecode(f, &r);
  ASSERT_EQ(rec.kind, RecordKind::kSessionUpdate);
  const fb::SessionUpdate* b = rec.record->body_as_SessionUpdate();
  EXPECT_EQ(b->session_id(), 7u);
  EXPECT_EQ(b->layer(), Layer::heart);
  EXPECT_EQ(Vec(b->state()), state);
  ASSERT_NE(b->kv(), nullptr);
  ASSERT_EQ(b->kv()->size(), 1u);
  EXPECT_EQ(Str(b->kv()->Get(0)->key()), "a");
  EXPECT_EQ(Vec(b->kv()->Get(0)->value()), v);
}

TEST(RecordCodecTest, SessionUpdateWithoutStateLeavesStateAbsent) {
  RecordEncoder enc;
  Frame f = Copy(enc.SessionUpdate(7, Layer::heart, std::nullopt));
  Result<DecodedRecord> r = DecodedRecord{};
  const fb::SessionUpdate* b = MustDecode(f, &r).record->body_as_SessionUpdate();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->state(), nullptr);
  EXPECT_EQ(b->kv(), nullptr);
}

TEST(RecordCodecTest, SessionUpdateWithEmptyStateKeepsAnEmptyVector) {
  RecordEncoder enc;
  Frame f = Copy(enc.SessionUpdate(7, Layer::heart, std::span<const uint8_t>()));
  Result<DecodedRecord> r = DecodedRecord{};
  const fb::SessionUpdate* b = MustDecode(f, &r).record->body_as_SessionUpdate();
  ASSERT_NE(b->state(), nullptr);
  EXPECT_EQ(b->state()->size(), 0u);
}

TEST(RecordCodecTest, RepeatedKvKeysKeepTheirOrder) {
  RecordEncoder enc;
  Bytes one = ToBytes("1"), two = ToBytes("2");
  KeyValueArg kv[] = {{"z", std::span<const uint8_t>(one)},
                      {"k", std::span<const uint8_t>(one)},
                      {"k", std::nullopt},
                      {"k", std::span<const uint8_t>(two)}};
  Frame f = Copy(enc.SessionUpdate(1, Layer::heart, std::nullopt, kv));
  Result<DecodedRecord> r = DecodedRecord{};
  auto* list = MustDecode(f, &r).record->body_as_SessionUpdate()->kv();
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ(Str(list->Get(0)->key()), "k");
  EXPECT_EQ(Vec(list->Get(0)->value()), one);
  EXPECT_EQ(list->Get(1)->value(), nullptr);
  EXPECT_EQ(Vec(list->Get(2)->value()), two);
  EXPECT_EQ(Str(list->Get(3)->key()), "z");
}

TEST(RecordCodecTest, SessionCloseRoundTrips) {
  RecordEncoder enc;
  Frame f = Copy(enc.SessionClose(0xFFFFFFFFFFFFFFFFull, Layer::heart));
  Result<DecodedRecord> r = DecodedRecord{};
  const DecodedRecord& rec = MustDecode(f, &r);
  ASSERT_EQ(rec.kind, RecordKind::kSessionClose);
  EXPECT_EQ(rec.record->body_as_SessionClose()->session_id(), 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(rec.record->body_as_SessionClose()->layer(), Layer::heart);
}

TEST(RecordCodecTest, EventPendingRoundTripsEveryField) {
  RecordEncoder enc;
  Bytes payload(300);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7);
  Frame f = Copy(enc.EventPending(5, 42, Layer::heart, payload));
  Result<DecodedRecord> r = DecodedRecord{};
  const DecodedRecord& rec = MustDecode(f, &r);
  ASSERT_EQ(rec.kind, RecordKind::kEventPending);
  const fb::EventPending* b = rec.record->body_as_EventPending();
  EXPECT_EQ(b->event_id(), 5u);
  EXPECT_EQ(b->session_id(), 42u);
  EXPECT_EQ(b->layer(), Layer::heart);
  EXPECT_EQ(Vec(b->payload()), payload);
}

TEST(RecordCodecTest, EventDoneRoundTripsEveryField) {
  RecordEncoder enc;
  Frame f = Copy(enc.EventDone(5, 42, Layer::heart));
  Result<DecodedRecord> r = DecodedRecord{};
  const DecodedRecord& rec = MustDecode(f, &r);
  ASSERT_EQ(rec.kind, RecordKind::kEventDone);
  EXPECT_EQ(rec.record->body_as_EventDone()->event_id(), 5u);
  EXPECT_EQ(rec.record->body_as_EventDone()->session_id(), 42u);
  EXPECT_EQ(rec.record->body_as_EventDone()->layer(), Layer::heart);
}

TEST(RecordCodecTest, ComponentStatusRoundTripsEveryStateAndField) {
  RecordEncoder enc;
  for (ComponentState s : fb::EnumValuesComponentState()) {
    Frame f = Copy(enc.ComponentStatus(11, "db", Layer::throat, s, "exit code 3"));
    Result<DecodedRecord> r = DecodedRecord{};
    const DecodedRecord& rec = MustDecode(f, &r);
    ASSERT_EQ(rec.kind, RecordKind::kComponentStatus);
    const fb::ComponentStatus* b = rec.record->body_as_ComponentStatus();
    EXPECT_EQ(b->component_id(), 11u);
    EXPECT_EQ(Str(b->component()), "db");
    EXPECT_EQ(b->layer(), Layer::throat);
    EXPECT_EQ(b->state(), s);
    EXPECT_EQ(Str(b->detail()), "exit code 3");
  }
}

TEST(RecordCodecTest, ChakraDownRoundTripsEveryField) {
  RecordEncoder enc;
  Frame f = Copy(enc.ChakraDown(Layer::root, "3 missed beats"));
  Result<DecodedRecord> r = DecodedRecord{};
  const DecodedRecord& rec = MustDecode(f, &r);
  ASSERT_EQ(rec.kind, RecordKind::kChakraDown);
  EXPECT_EQ(rec.record->body_as_ChakraDown()->layer(), Layer::root);
  EXPECT_EQ(Str(rec.record->body_as_ChakraDown()->reason()), "3 missed beats");
}

TEST(RecordCodecTest, ChakraUpRoundTripsEveryLayer) {
  RecordEncoder enc;
  for (Layer l : fb::EnumValuesLayer()) {
    Frame f = Copy(enc.ChakraUp(l));
    Result<DecodedRecord> r = DecodedRecord{};
    const DecodedRecord& rec = MustDecode(f, &r);
    ASSERT_EQ(rec.kind, RecordKind::kChakraUp);
    EXPECT_EQ(rec.record->body_as_ChakraUp()->layer(), l);
  }
}

TEST(RecordCodecTest, FailurePulseRoundTripsEveryField) {
  RecordEncoder enc;
  Frame f = Copy(enc.FailurePulse(Layer::third_eye, "db", "kill", 1500));
  Result<DecodedRecord> r = DecodedRecord{};
  const DecodedRecord& rec = MustDecode(f, &r);
  ASSERT_EQ(rec.kind, RecordKind::kFailurePulse);
  const fb::FailurePulse* b = rec.record->body_as_FailurePulse();
  EXPECT_EQ(b->layer(), Layer::third_eye);
  EXPECT_EQ(Str(b->component()), "db");
  EXPECT_EQ(Str(b->kind()), "kill");
  EXPECT_EQ(b->duration_ms(), 1500u);
}

TEST(RecordCodecTest, EncoderIsReusableAcrossKinds) {
  RecordEncoder enc;
  std::vector<Frame> frames = SampleOfEveryKind();
  ASSERT_EQ(frames.size(), static_cast<size_t>(kRecordKindCount));
  for (size_t i = 0; i < frames.size(); ++i) {
    Result<DecodedRecord> r = DecodedRecord{};
    EXPECT_EQ(static_cast<size_t>(MustDecode(frames[i], &r).kind), i);
  }
}

TEST(RecordCodecTest, EveryTruncationIsRejectedOrVerifiedNeverCrashes) {
  for (const Frame& f : SampleOfEveryKind()) {
    for (size_t len = 0; len < f.payload.size(); ++len) {
      // A fresh copy of exactly `len` bytes, so ASan sees any overread.
      Bytes cut(f.payload.begin(), f.payload.begin() + static_cast<ptrdiff_t>(len));
      Result<DecodedRecord> r = DecodeRecord(f.type, cut);
      if (r.ok()) {
        TouchEverything(*r);
        // Only the builder's trailing alignment padding is referenced by
        // nothing; cutting any byte that is referenced must be caught.
        for (size_t i = len; i < f.payload.size(); ++i) {
          EXPECT_EQ(f.payload[i], 0) << "type " << f.type << " accepted at length " << len;
        }
      } else {
        EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
      }
    }
  }
}

TEST(RecordCodecTest, EverySingleBitFlipIsRejectedOrVerifiedNeverCrashes) {
  size_t accepted = 0, total = 0;
  for (const Frame& f : SampleOfEveryKind()) {
    for (size_t bit = 0; bit < f.payload.size() * 8; ++bit) {
      Bytes b = f.payload;
      b[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      Result<DecodedRecord> r = DecodeRecord(f.type, b);
      ++total;
      if (r.ok()) {
        ++accepted;
        TouchEverything(*r);
      } else {
        EXPECT_TRUE(r.status().IsCorruption() || r.status().IsNotSupported())
            << r.status().ToString();
      }
    }
  }
  // Flips inside string or vector bytes verify; flips in offsets mostly do
  // not. Both must occur or the loop is not exercising the Verifier.
  EXPECT_GT(accepted, 0u);
  EXPECT_LT(accepted, total);
}

TEST(RecordCodecTest, RandomMultiByteCorruptionIsRejectedOrVerifiedNeverCrashes) {
  std::mt19937_64 rng(20240601);
  std::vector<Frame> frames = SampleOfEveryKind();
  for (int iter = 0; iter < 20000; ++iter) {
    const Frame& f = frames[rng() % frames.size()];
    Bytes b = f.payload;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
    Result<DecodedRecord> r = DecodeRecord(f.type, b);
    if (r.ok()) TouchEverything(*r);
  }
}

TEST(RecordCodecTest, BeatOfWrongSizeIsCorruption) {
  RecordEncoder enc;
  Frame f = Copy(enc.Beat(1, Layer::root, 1));
  for (size_t n : {0, 1, 8, 15, 17, 24, 32}) {
    Bytes b(n, 0);
    if (n > 0) std::memcpy(b.data(), f.payload.data(), std::min(n, f.payload.size()));
    Result<DecodedRecord> r = DecodeRecord(log_format::kBeat, b);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  }
}

TEST(RecordCodecTest, BeatWithLayerOutOfRangeIsCorruption) {
  RecordEncoder enc;
  Frame f = Copy(enc.Beat(1, Layer::root, 1));
  f.payload[4] = kLayerCount;
  Result<DecodedRecord> r = DecodeRecord(f.type, f.payload);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
}

TEST(RecordCodecTest, RecordWithLayerOutOfRangeIsCorruption) {
  Bytes b = BuildRecord(fb::Body::ChakraUp, true, static_cast<Layer>(kLayerCount));
  Result<DecodedRecord> r = DecodeRecord(log_format::kRecord, b);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST(RecordCodecTest, ComponentStateOutOfRangeIsCorruption) {
  Bytes b =
      BuildRecord(fb::Body::ComponentStatus, true, Layer::root, static_cast<ComponentState>(200));
  Result<DecodedRecord> r = DecodeRecord(log_format::kRecord, b);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST(RecordCodecTest, UnknownUnionMemberIsNotSupported) {
  Bytes b = BuildRecord(static_cast<fb::Body>(42), true);
  Result<DecodedRecord> r = DecodeRecord(log_format::kRecord, b);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotSupported()) << r.status().ToString();
}

TEST(RecordCodecTest, RecordWithoutBodyIsCorruption) {
  Result<DecodedRecord> r = DecodeRecord(log_format::kRecord, BuildRecord(fb::Body::NONE, false));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST(RecordCodecTest, KnownBodyTypeWithMissingBodyIsCorruption) {
  Result<DecodedRecord> r =
      DecodeRecord(log_format::kRecord, BuildRecord(fb::Body::ChakraUp, false));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST(RecordCodecTest, TinyOrEmptyRecordPayloadIsCorruption) {
  for (size_t n : {0, 1, 3}) {
    Bytes b(n, 0xFF);
    Result<DecodedRecord> r = DecodeRecord(log_format::kRecord, b);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  }
}

TEST(RecordCodecTest, UnknownFrameTypeIsNotSupported) {
  RecordEncoder enc;
  Frame f = Copy(enc.SessionClose(1, Layer::heart));
  for (uint16_t type : {uint16_t{3}, uint16_t{0x7FFF}, uint16_t{0x8000}, uint16_t{0xFFFF}}) {
    Result<DecodedRecord> r = DecodeRecord(type, f.payload);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsNotSupported()) << type << ": " << r.status().ToString();
  }
}

TEST(RecordCodecTest, FrameTypeZeroIsCorruption) {
  Result<DecodedRecord> r = DecodeRecord(log_format::kNone, Bytes(16, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST(RecordCodecTest, BeatPayloadUnderRecordTypeIsRejected) {
  RecordEncoder enc;
  Frame f = Copy(enc.Beat(1, Layer::heart, 2));
  EXPECT_FALSE(DecodeRecord(log_format::kRecord, f.payload).ok());
}

TEST(RecordCodecTest, LayerNamesRoundTrip) {
  const char* want[] = {"root", "sacral", "solar", "heart", "throat", "third_eye", "crown"};
  for (int i = 0; i < kLayerCount; ++i) {
    auto layer = static_cast<Layer>(i);
    ASSERT_NE(LayerName(layer), nullptr);
    EXPECT_STREQ(LayerName(layer), want[i]);
    EXPECT_EQ(ParseLayer(want[i]), layer);
  }
  EXPECT_EQ(LayerName(static_cast<Layer>(kLayerCount)), nullptr);
  EXPECT_EQ(LayerName(static_cast<Layer>(255)), nullptr);
  EXPECT_EQ(ParseLayer(""), std::nullopt);
  EXPECT_EQ(ParseLayer("Heart"), std::nullopt);
  EXPECT_EQ(ParseLayer("third-eye"), std::nullopt);
}

TEST(RecordCodecTest, RecordKindNamesRoundTrip) {
  for (int i = 0; i < kRecordKindCount; ++i) {
    auto kind = static_cast<RecordKind>(i);
    ASSERT_NE(RecordKindName(kind), nullptr);
    EXPECT_EQ(ParseRecordKind(RecordKindName(kind)), kind);
  }
  EXPECT_STREQ(RecordKindName(RecordKind::kSessionOpen), "session_open");
  EXPECT_STREQ(RecordKindName(RecordKind::kChakraDown), "chakra_down");
  EXPECT_EQ(RecordKindName(static_cast<RecordKind>(kRecordKindCount)), nullptr);
  EXPECT_EQ(ParseRecordKind("SessionOpen"), std::nullopt);
  EXPECT_EQ(ParseRecordKind(""), std::nullopt);
}

TEST(RecordCodecTest, ComponentStateNamesMatchTheSchema) {
  EXPECT_STREQ(ComponentStateName(ComponentState::starting), "starting");
  EXPECT_STREQ(ComponentStateName(ComponentState::quarantined), "quarantined");
  EXPECT_STREQ(ComponentStateName(ComponentState::reverted), "reverted");
  EXPECT_STREQ(ComponentStateName(ComponentState::stopped), "stopped");
  EXPECT_EQ(ComponentStateName(static_cast<ComponentState>(8)), nullptr);
}

// Schema evolution: `stopped` was appended to ComponentState. Records
// written before it (every older value) still decode unchanged, `stopped`
// round-trips, and a value past it is still refused.
TEST(RecordCodecTest, StoppedComponentStateRoundTripsAndOlderValuesStillDecode) {
  RecordEncoder enc;
  for (int v = 0; v <= static_cast<int>(ComponentState::stopped); ++v) {
    const auto state = static_cast<ComponentState>(v);
    Frame f = Copy(enc.ComponentStatus(9, "db", Layer::heart, state, "d"));
    Result<DecodedRecord> r = DecodeRecord(f.type, f.payload);
    ASSERT_TRUE(r.ok()) << v << ": " << r.status().ToString();
    EXPECT_EQ(r->record->body_as_ComponentStatus()->state(), state);
  }
  Frame newer = Copy(enc.ComponentStatus(9, "db", Layer::heart, static_cast<ComponentState>(8), ""));
  Result<DecodedRecord> r = DecodeRecord(newer.type, newer.payload);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

std::string DescribeFrame(const Frame& f) {
  Result<DecodedRecord> r = DecodeRecord(f.type, f.payload);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? DescribeRecord(*r) : std::string();
}

TEST(RecordCodecTest, DescribeRecordRendersOneLinePerKind) {
  RecordEncoder enc;
  Bytes state(12, 'x');
  Bytes v = ToBytes("v");
  KeyValueArg kv[] = {{"a", std::span<const uint8_t>(v)}, {"b", std::nullopt}};
  EXPECT_EQ(DescribeFrame(Copy(enc.SessionOpen(42, Layer::heart, 3, "api", state, kv))),
            "session_open id=42 layer=heart component=api state=12B kv=2");
  EXPECT_EQ(DescribeFrame(Copy(enc.Beat(7, Layer::root, 99))),
            "beat component_id=7 layer=root seq=99");
  EXPECT_EQ(DescribeFrame(Copy(enc.SessionUpdate(42, Layer::heart, std::nullopt, kv))),
            "session_update id=42 layer=heart state=unchanged kv=2");
  EXPECT_EQ(
      DescribeFrame(Copy(enc.SessionUpdate(42, Layer::heart, std::span<const uint8_t>(state)))),
      "session_update id=42 layer=heart state=12B kv=0");
  EXPECT_EQ(DescribeFrame(Copy(enc.SessionClose(42, Layer::heart))),
            "session_close id=42 layer=heart");
  EXPECT_EQ(DescribeFrame(Copy(enc.EventPending(5, 42, Layer::heart, state))),
            "event_pending event=5 session=42 layer=heart payload=12B");
  EXPECT_EQ(DescribeFrame(Copy(enc.EventDone(5, 42, Layer::heart))),
            "event_done event=5 session=42 layer=heart");
  EXPECT_EQ(DescribeFrame(Copy(
                enc.ComponentStatus(3, "api", Layer::solar, ComponentState::failed, "exit 1"))),
            "component_status component=api component_id=3 layer=solar state=failed "
            "detail=\"exit 1\"");
  EXPECT_EQ(DescribeFrame(Copy(enc.ChakraDown(Layer::crown, "line1\nline2"))),
            "chakra_down layer=crown reason=\"line1\\x0aline2\"");
  EXPECT_EQ(DescribeFrame(Copy(enc.ChakraUp(Layer::sacral))), "chakra_up layer=sacral");
  EXPECT_EQ(DescribeFrame(Copy(enc.FailurePulse(Layer::third_eye, "db", "kill", 1500))),
            "failure_pulse layer=third_eye component=db kind=kill duration_ms=1500");
}

}  // namespace
}  // namespace razar::storage
