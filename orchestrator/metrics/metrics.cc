#include "orchestrator/metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace razar::orchestrator {
namespace {

// Probes have a 1 s default timeout and may be configured up to seconds.
const prometheus::Histogram::BucketBoundaries& ProbeBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}

// fdatasync on SSDs is ~0.1-10 ms; slow disks reach the 100 ms range.
const prometheus::Histogram::BucketBoundaries& FsyncBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
  return kBuckets;
}

std::string Str(std::string_view s) { return std::string(s); }

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  // Names and label names are constants; prometheus-cpp throws only for
  // invalid ones, so nothing here can throw at run time.
  component_up_ = &prometheus::BuildGauge()
                       .Name("razar_component_up")
                       .Help("1 if the component is healthy, 0 otherwise")
                       .Register(*registry_);
  restarts_ = &prometheus::BuildCounter()
                   .Name("razar_component_restarts_total")
                   .Help("Relaunches of the component after its first start")
                   .Register(*registry_);
  probe_duration_ = &prometheus::BuildHistogram()
                         .Name("razar_probe_duration_seconds")
                         .Help("Health probe latency")
                         .Register(*registry_);
  probe_failures_ = &prometheus::BuildCounter()
                         .Name("razar_probe_failures_total")
                         .Help("Failed health probes")
                         .Register(*registry_);
  quarantined_ = &prometheus::BuildGauge()
                      .Name("razar_quarantined_components")
                      .Help("Components currently in quarantine")
                      .Register(*registry_)
                      .Add({});
  spine_appends_ = &prometheus::BuildCounter()
                        .Name("razar_spine_appends_total")
                        .Help("Records appended to the memory spine")
                        .Register(*registry_)
                        .Add({});
  spine_fsync_ = &prometheus::BuildHistogram()
                      .Name("razar_spine_fsync_seconds")
                      .Help("Memory spine fsync latency")
                      .Register(*registry_)
                      .Add({}, FsyncBuckets());
  boot_stage_ = &prometheus::BuildGauge()
                     .Name("razar_boot_stage")
                     .Help("1-based boot stage in progress (0 before boot, stages+1 when done)")
                     .Register(*registry_)
                     .Add({});
}

Metrics::~Metrics() = default;

void Metrics::RegisterComponent(const ComponentSpec& spec) {
  component_up_->Add({{"component", spec.name}, {"layer", storage::LayerName(spec.layer)}});
  restarts_->Add({{"component", spec.name}});
  if (spec.probe.kind != ProbeKind::kNone) {
    const char* kind = ProbeKindName(spec.probe.kind);
    probe_duration_->Add({{"component", spec.name}, {"kind", kind}}, ProbeBuckets());
    probe_failures_->Add({{"component", spec.name}, {"kind", kind}});
  }
}

void Metrics::SetComponentUp(std::string_view component, storage::Layer layer, bool up) {
  component_up_->Add({{"component", Str(component)}, {"layer", storage::LayerName(layer)}})
      .Set(up ? 1 : 0);
}

void Metrics::IncrementRestarts(std::string_view component) {
  restarts_->Add({{"component", Str(component)}}).Increment();
}

void Metrics::ObserveProbe(std::string_view component, ProbeKind kind, double seconds,
                           bool success) {
  prometheus::Labels labels = {{"component", Str(component)}, {"kind", ProbeKindName(kind)}};
  probe_duration_->Add(labels, ProbeBuckets()).Observe(seconds < 0 ? 0 : seconds);
  prometheus::Counter& failures = probe_failures_->Add(labels);
  if (!success) failures.Increment();
}

void Metrics::SetQuarantinedCount(size_t count) { quarantined_->Set(static_cast<double>(count)); }

void Metrics::AddSpineAppends(uint64_t count) {
  spine_appends_->Increment(static_cast<double>(count));
}

void Metrics::ObserveSpineFsync(double seconds) {
  spine_fsync_->Observe(seconds < 0 ? 0 : seconds);
}

void Metrics::SetBootStage(int64_t stage) { boot_stage_->Set(static_cast<double>(stage)); }

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace razar::orchestrator
