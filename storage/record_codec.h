// Encoding and decoding of heartbeat-log payloads (formats/log_record.fbs).
//
// Encoders produce the (frame type, payload bytes) pair to hand to
// LogWriter::Append. DecodeRecord checks a payload before anything reads
// it: a beat must be exactly 16 bytes with a valid layer; a kRecord payload
// must pass the FlatBuffers Verifier and carry a known union member.
//
// Thread safety: RecordEncoder is single-threaded (one per producer thread);
// the free functions are thread-safe.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "razar/formats/log_record_generated.h"
#include "storage/log_format.h"
#include "storage/status.h"

namespace razar::storage {

using Layer = fb::Layer;
using ComponentState = fb::ComponentState;
inline constexpr int kLayerCount = 7;
static_assert(static_cast<int>(fb::Layer::MAX) + 1 == kLayerCount);

// "root" ... "crown"; nullptr for an out-of-range value.
const char* LayerName(Layer layer);
std::optional<Layer> ParseLayer(std::string_view name);
const char* ComponentStateName(ComponentState state);

// Every record kind of DESIGN.md's data model.
enum class RecordKind : uint8_t {
  kBeat,
  kSessionOpen,
  kSessionUpdate,
  kSessionClose,
  kEventPending,
  kEventDone,
  kComponentStatus,
  kChakraDown,
  kChakraUp,
  kFailurePulse,
};
inline constexpr int kRecordKindCount = 10;
const char* RecordKindName(RecordKind kind);
std::optional<RecordKind> ParseRecordKind(std::string_view name);

struct KeyValueArg {
  std::string_view key;
  std::optional<std::span<const uint8_t>> value;  // nullopt: delete the key
};

// Builds payloads. The returned span points into the encoder and is valid
// until its next call.
class RecordEncoder {
 public:
  struct Encoded {
    uint16_t type;
    std::span<const uint8_t> payload;
  };

  RecordEncoder() : fbb_(1024) {}

  Encoded Beat(uint32_t component_id, Layer layer, uint64_t sequence);
  Encoded SessionOpen(uint64_t session_id, Layer layer, uint32_t component_id,
                      std::string_view component, std::span<const uint8_t> state,
                      std::span<const KeyValueArg> kv = {});
  // `layer` is the session's layer. `state` nullopt leaves the state bytes
  // unchanged.
  Encoded SessionUpdate(uint64_t session_id, Layer layer,
                        std::optional<std::span<const uint8_t>> state,
                        std::span<const KeyValueArg> kv = {});
  Encoded SessionClose(uint64_t session_id, Layer layer);
  Encoded EventPending(uint64_t event_id, uint64_t session_id, Layer layer,
                       std::span<const uint8_t> payload);
  Encoded EventDone(uint64_t event_id, uint64_t session_id, Layer layer);
  Encoded ComponentStatus(uint32_t component_id, std::string_view component, Layer layer,
                          ComponentState state, std::string_view detail);
  Encoded ChakraDown(Layer layer, std::string_view reason);
  Encoded ChakraUp(Layer layer);
  Encoded FailurePulse(Layer layer, std::string_view component, std::string_view kind,
                       uint32_t duration_ms);

 private:
  Encoded Finish(fb::Body type, flatbuffers::Offset<void> body);
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>>> BuildKv(
      std::span<const KeyValueArg> kv);

  flatbuffers::FlatBufferBuilder fbb_;
  std::array<uint8_t, sizeof(fb::Beat)> beat_{};
};

// A verified, decoded payload. For kBeat, `beat` holds a copy; otherwise
// `record` points into the payload bytes (valid as long as they are).
struct DecodedRecord {
  RecordKind kind = RecordKind::kBeat;
  fb::Beat beat;
  const fb::Record* record = nullptr;
};

// Verifies and decodes. FlatBuffers reads offsets as aligned words: pass
// 8-aligned payload bytes (log records and FlatBufferBuilder output are).
// Errors: Corruption (fails verification, bad layer
// or state enum, wrong beat size), NotSupported (a frame type or union
// member this build does not know).
Result<DecodedRecord> DecodeRecord(uint16_t type, std::span<const uint8_t> payload);

// A one-line human-readable rendering of a decoded record (for dumps).
std::string DescribeRecord(const DecodedRecord& rec);

}  // namespace razar::storage
