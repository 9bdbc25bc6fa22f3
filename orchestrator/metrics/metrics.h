// Metrics: RAZAR's Prometheus metrics, served as text by GET /metrics.
//
//   razar_component_up{component,layer}            gauge: 1 healthy, 0 otherwise
//   razar_component_restarts_total{component}      counter: relaunches after the first try
//   razar_probe_duration_seconds{component,kind}   histogram: probe latency (1 ms .. 10 s buckets)
//   razar_probe_failures_total{component,kind}     counter: failed probes
//   razar_quarantined_components                   gauge: components in quarantine
//   razar_spine_appends_total                      counter: records appended to the spine
//   razar_spine_fsync_seconds                      histogram: spine fsync latency
//   razar_boot_stage                               gauge: 1-based stage being booted
//                                                  (0 before boot; stages+1 when done)
//
// The exposition text comes from prometheus-cpp's TextSerializer (format
// 0.0.4), never hand-written. Label values are component names from the
// config, so cardinality is bounded by the config.
//
// Thread safety: every method may be called from any thread concurrently
// (prometheus-cpp metrics are atomic; families lock internally).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "orchestrator/config/spec.h"
#include "storage/record_codec.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace razar::orchestrator {

class Metrics {
 public:
  // Content-Type of Serialize()'s output.
  static constexpr const char* kContentType = "text/plain; version=0.0.4";

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Creates the component's series at zero (up = 0, restarts = 0, and its
  // probe kind's failures / duration), so every configured component is
  // visible before anything happens to it. Idempotent.
  void RegisterComponent(const ComponentSpec& spec);

  void SetComponentUp(std::string_view component, storage::Layer layer, bool up);
  void IncrementRestarts(std::string_view component);
  // One probe run: its latency, and a failure count when !success.
  void ObserveProbe(std::string_view component, ProbeKind kind, double seconds, bool success);
  void SetQuarantinedCount(size_t count);
  // Spine figures, fed by whoever appends (the boot loop owns the spine).
  void AddSpineAppends(uint64_t count);
  void ObserveSpineFsync(double seconds);
  void SetBootStage(int64_t stage);

  // The Prometheus text exposition of every metric above.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* component_up_;
  prometheus::Family<prometheus::Counter>* restarts_;
  prometheus::Family<prometheus::Histogram>* probe_duration_;
  prometheus::Family<prometheus::Counter>* probe_failures_;
  prometheus::Gauge* quarantined_;
  prometheus::Counter* spine_appends_;
  prometheus::Histogram* spine_fsync_;
  prometheus::Gauge* boot_stage_;
};

}  // namespace razar::orchestrator
