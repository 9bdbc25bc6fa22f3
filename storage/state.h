// The state model: what a restart must rebuild, bit for bit — per chakra
// layer, the open sessions with their latest state, the pending events, the
// components (last beat, status) and the layer's chakra status.
//
// State::Apply is the one definition of what a log record means; the live
// spine, replay and the forensic tool all call it. Every record belongs to
// exactly one (layer, shard), computed from the record alone (Route), and
// Apply changes nothing else — which is what lets a layer be snapshotted
// shard by shard at per-shard LSNs (docs/formats/spine.md).
//
// Session and event values are immutable and shared (shared_ptr<const>):
// an update replaces the pointer, so a snapshot freezes a shard by copying
// pointers, in microseconds, while appends go on.
//
// Thread safety: none inside. The Spine guards each layer with its own
// mutex; replay applies each shard from one thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/record_codec.h"
#include "storage/status.h"

namespace razar::storage {

// 4096 shards keep a freeze short: it copies one shard's pointers under the
// layer lock, ~380 ns per session here, so ~90 us at 1M sessions per layer.
inline constexpr uint32_t kShardCount = 4096;
inline constexpr uint32_t kLayerShard = kShardCount;  // components and chakra status
inline constexpr uint32_t kShardSlots = kShardCount + 1;

// splitmix64(session_id) % kShardCount.
uint32_t ShardOfSession(uint64_t session_id);

struct Session {
  uint64_t session_id = 0;
  Layer layer = Layer::root;
  uint32_t component_id = 0;
  std::string component;
  std::vector<uint8_t> state;
  std::map<std::string, std::vector<uint8_t>> kv;
  Lsn opened_lsn = 0;
  Lsn updated_lsn = 0;
  int64_t opened_unix_ns = 0;
  int64_t updated_unix_ns = 0;
  bool operator==(const Session&) const = default;
};

struct PendingEvent {
  uint64_t event_id = 0;
  uint64_t session_id = 0;
  std::vector<uint8_t> payload;
  Lsn lsn = 0;
  int64_t unix_ns = 0;
  bool operator==(const PendingEvent&) const = default;
};

struct Component {
  uint32_t component_id = 0;
  std::string name;
  ComponentState state = ComponentState::starting;
  bool has_state = false;  // a status record was seen
  std::string detail;
  Lsn status_lsn = 0;
  uint64_t last_beat_seq = 0;
  int64_t last_beat_unix_ns = 0;
  Lsn last_beat_lsn = 0;
  bool operator==(const Component&) const = default;
};

struct LayerMeta {
  bool down = false;
  std::string reason;
  Lsn changed_lsn = 0;
  int64_t changed_unix_ns = 0;
  uint64_t pulses = 0;
  Lsn last_pulse_lsn = 0;
  bool operator==(const LayerMeta&) const = default;
};

struct Shard {
  std::unordered_map<uint64_t, std::shared_ptr<const Session>> sessions;
  std::unordered_map<uint64_t, std::shared_ptr<const PendingEvent>> events;
};

struct LayerState {
  std::vector<Shard> shards = std::vector<Shard>(kShardCount);  // on the heap: 4096 shards
  std::map<uint32_t, Component> components;
  LayerMeta meta;
  Lsn applied_lsn = 0;  // highest LSN applied to this layer (0: none)
};

// Where a record belongs.
struct Route {
  Layer layer = Layer::root;
  uint32_t shard = kLayerShard;
};
Route RouteOf(const DecodedRecord& rec);

class State {
 public:
  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  State(State&&) = default;
  State& operator=(State&&) = default;

  // Applies a decoded record with its LSN and timestamp. Records that refer
  // to a session or event the layer does not hold (an update of an unknown
  // session, a done for an unknown event) change nothing but are counted.
  void Apply(Lsn lsn, int64_t unix_ns, const DecodedRecord& rec);
  // Decodes (verifying) and applies a log record.
  Status Apply(const RecordView& rec);
  // The body of Apply: changes only the record's own slot — shard
  // `route.shard` of `*layer_state` (its components and meta for the layer
  // shard) — and counts an orphan in *orphans; leaves applied_lsn alone.
  // This is what lets parallel replay give each thread its own slots.
  // REQUIRES: route == RouteOf(rec), layer_state is that layer's state.
  static void ApplyRouted(const Route& route, Lsn lsn, int64_t unix_ns, const DecodedRecord& rec,
                          LayerState* layer_state, uint64_t* orphans);
  void AddOrphans(uint64_t n) { orphans_ += n; }

  LayerState& layer(Layer l) { return layers_[static_cast<int>(l)]; }
  const LayerState& layer(Layer l) const { return layers_[static_cast<int>(l)]; }

  uint64_t session_count() const;
  uint64_t event_count() const;
  uint64_t orphans() const { return orphans_; }

  // Equality of everything a restart must rebuild (not the orphan count and
  // not applied_lsn bookkeeping). Diff names the first difference, or "".
  bool Equals(const State& other) const { return Diff(other).empty(); }
  std::string Diff(const State& other) const;

 private:
  std::array<LayerState, kLayerCount> layers_;
  uint64_t orphans_ = 0;
};

}  // namespace razar::storage
