#include "storage/spine.h"

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

namespace razar::storage {

namespace {

constexpr const char* kIdentityFile = "SPINE";
constexpr int kSpineVersion = 1;

std::string IdentityText() {
  nlohmann::json j = {
      {"format", "razar-spine"}, {"version", kSpineVersion}, {"shards", kShardCount}};
  return j.dump() + "\n";
}

}  // namespace

Status CheckSpineIdentity(Env* env, const std::string& dir) {
  const std::string path = JoinPath(dir, kIdentityFile);
  if (!env->Exists(dir)) return Status::NotFound("no such directory: " + dir);
  if (!env->Exists(path)) {
    return Status::NotFound(dir + " is not a RAZAR spine (no " + kIdentityFile + " file)");
  }
  {
    RAZAR_ASSIGN_OR_RETURN(int fd, env->Open(path, O_RDONLY));
    ScopedFd guard(env, fd);
    std::string text(4096, '\0');
    RAZAR_ASSIGN_OR_RETURN(size_t n, env->PRead(fd, text.data(), text.size(), 0));
    text.resize(n);
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || j.value("format", "") != "razar-spine") {
      return Status::InvalidArgument(path + " is not a RAZAR spine identity file");
    }
    if (!j.contains("version") || !j["version"].is_number_integer() ||
        j["version"].get<int>() != kSpineVersion) {
      return Status::NotSupported(path + ": spine format version " +
                                  (j.contains("version") ? j["version"].dump() : "missing") +
                                  " (this build reads version 1)");
    }
    if (!j.contains("shards") || !j["shards"].is_number_integer() ||
        j["shards"].get<int64_t>() != kShardCount) {
      return Status::NotSupported(path + ": shard count differs from this build's " +
                                  std::to_string(kShardCount));
    }
  }
  return Status::Ok();
}

std::string SpineLogDir(const std::string& spine_dir) { return JoinPath(spine_dir, "log"); }
std::string SpineSnapshotDir(const std::string& spine_dir) {
  return JoinPath(spine_dir, "snapshots");
}

namespace {

// Creates the identity file atomically (temp, fsync, rename, dir fsync), or
// checks the existing one.
Status EnsureIdentity(Env* env, const std::string& dir) {
  const std::string path = JoinPath(dir, kIdentityFile);
  if (env->Exists(path)) return CheckSpineIdentity(env, dir);
  const std::string tmp = path + ".tmp";
  const std::string text = IdentityText();
  {
    RAZAR_ASSIGN_OR_RETURN(int fd, env->Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ScopedFd guard(env, fd);
    RAZAR_RETURN_IF_ERROR(env->PWrite(fd, text.data(), text.size(), 0));
    RAZAR_RETURN_IF_ERROR(env->Fdatasync(fd));
  }
  RAZAR_RETURN_IF_ERROR(env->Rename(tmp, path));
  return env->SyncDir(dir);
}

thread_local RecordEncoder tls_encoder;

}  // namespace

Spine::Spine(const SpineOptions& options)
    : options_(options), env_(options.env != nullptr ? options.env : Env::Default()) {}

Spine::~Spine() { Close().IgnoreError(); }

Result<std::unique_ptr<Spine>> Spine::Open(const SpineOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("spine directory not set");
  if (options.retain_snapshots == 0)
    return Status::InvalidArgument("retain_snapshots must be >= 1");
  std::unique_ptr<Spine> s(new Spine(options));
  Env* env = s->env_;
  RAZAR_RETURN_IF_ERROR(env->CreateDirs(options.dir));
  RAZAR_RETURN_IF_ERROR(EnsureIdentity(env, options.dir));

  SnapshotStoreOptions so;
  so.path = SpineSnapshotDir(options.dir);
  so.method = options.snapshot_method;
  RAZAR_ASSIGN_OR_RETURN(s->store_, SnapshotStore::Open(so));
  RAZAR_ASSIGN_OR_RETURN(uint64_t unpublished, s->store_->DeleteUnpublished());
  if (unpublished > 0) {
    s->recovery_.problems.push_back("removed " + std::to_string(unpublished) +
                                    " unpublished snapshot(s) left by a crash");
  }

  // The writer first: it decides what of the log is appendable (and
  // refuses damage that would hide acknowledged records) before replay.
  LogWriterOptions lo = options.log;
  lo.env = env;
  lo.dir = SpineLogDir(options.dir);
  RAZAR_ASSIGN_OR_RETURN(s->log_, LogWriter::Open(lo));
  RAZAR_RETURN_IF_ERROR(s->Recover());
  if (options.snapshot_interval_s > 0)
    s->scheduler_ = std::thread([p = s.get()] { p->SchedulerLoop(); });
  return s;
}

// Newest verified snapshot per layer, then the log after it: a record of
// (layer, shard) is applied iff its LSN is above that shard's snapshot LSN.
Status Spine::Recover() {
  const auto t0 = std::chrono::steady_clock::now();
  Cuts cuts{};
  RAZAR_RETURN_IF_ERROR(LoadNewestSnapshots(&cuts));
  if (options_.log_replayer) {
    LogReplayJob job;
    job.env = env_;
    job.log_dir = SpineLogDir(options_.dir);
    job.cuts = &cuts;
    job.snapshot_ids = recovery_.snapshot_ids;
    job.state = &state_;
    RAZAR_ASSIGN_OR_RETURN(LogReplayOutcome o, options_.log_replayer(job));
    recovery_.records_replayed = o.replayed;
    recovery_.records_skipped = o.skipped;
    recovery_.log = std::move(o.log);
    return FinishRecovery(t0);
  }
  LogReaderOptions ro;
  ro.env = env_;
  ro.dir = SpineLogDir(options_.dir);
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> reader, LogReader::Open(ro));
  LogReplayCounts counts;
  RAZAR_RETURN_IF_ERROR(
      ReplayLog(reader.get(), cuts, recovery_.snapshot_ids, ReplayBound(), &state_, &counts));
  recovery_.records_replayed = counts.records_applied;
  recovery_.records_skipped = counts.records_skipped;
  recovery_.log = reader->report();
  return FinishRecovery(t0);
}

// Per layer, the newest snapshot that loads and verifies (older ones after
// a damaged one); its shard LSNs become the layer's cuts.
Status Spine::LoadNewestSnapshots(Cuts* cuts) {
  for (int li = 0; li < kLayerCount; ++li) {
    const Layer layer = static_cast<Layer>(li);
    std::vector<std::string> damaged;
    RAZAR_ASSIGN_OR_RETURN(std::vector<SnapshotManifest> list, store_->List(layer, &damaged));
    for (auto& d : damaged) recovery_.problems.push_back(std::move(d));
    for (const SnapshotManifest& m : list) {
      Status st = store_->Load(m, &state_.layer(layer));
      if (st.ok()) {
        (*cuts)[li] = m.shard_lsns;
        recovery_.snapshot_ids[li] = m.snapshot_id;
        break;
      }
      recovery_.problems.push_back(st.ToString() + "; falling back to an older snapshot");
    }
  }
  return Status::Ok();
}

Status Spine::FinishRecovery(std::chrono::steady_clock::time_point t0) {
  // The session and event indexes of the typed calls.
  for (int li = 0; li < kLayerCount; ++li) {
    for (const Shard& sh : state_.layer(static_cast<Layer>(li)).shards) {
      for (const auto& [id, sess] : sh.sessions) session_layer_[id] = static_cast<Layer>(li);
    }
  }
  recovery_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

// Appends under the layer's lock so that the layer applies its records in
// LSN order, with the same timestamp in the log and in the State.
Result<Lsn> Spine::AppendLocked(Layer layer, const RecordEncoder::Encoded& e) {
  RAZAR_ASSIGN_OR_RETURN(DecodedRecord d, DecodeRecord(e.type, e.payload));
  const int64_t ts = env_->NowUnixNanos();
  std::lock_guard<std::mutex> l(layer_mu_[static_cast<int>(layer)]);
  RAZAR_ASSIGN_OR_RETURN(Lsn lsn, log_->Append(e.type, e.payload, ts));
  state_.Apply(lsn, ts, d);
  return lsn;
}

Layer Spine::SessionLayer(uint64_t session_id, bool* found) {
  std::lock_guard<std::mutex> l(index_mu_);
  auto it = session_layer_.find(session_id);
  *found = it != session_layer_.end();
  return *found ? it->second : Layer::root;
}

Result<Lsn> Spine::Beat(uint32_t component_id, Layer layer, uint64_t sequence) {
  return AppendLocked(layer, tls_encoder.Beat(component_id, layer, sequence));
}

Result<Lsn> Spine::OpenSession(uint64_t session_id, Layer layer, uint32_t component_id,
                               std::string_view component, std::span<const uint8_t> state) {
  {
    std::lock_guard<std::mutex> l(index_mu_);
    session_layer_[session_id] = layer;
  }
  return AppendLocked(layer,
                      tls_encoder.SessionOpen(session_id, layer, component_id, component, state));
}

Result<Lsn> Spine::UpdateSession(uint64_t session_id, std::span<const uint8_t> state) {
  bool found;
  const Layer layer = SessionLayer(session_id, &found);
  if (!found) return Status::NotFound("session " + std::to_string(session_id) + " is not open");
  return AppendLocked(layer, tls_encoder.SessionUpdate(session_id, layer, state));
}

Result<Lsn> Spine::CloseSession(uint64_t session_id) {
  bool found;
  const Layer layer = SessionLayer(session_id, &found);
  if (!found) return Status::NotFound("session " + std::to_string(session_id) + " is not open");
  RAZAR_ASSIGN_OR_RETURN(Lsn lsn, AppendLocked(layer, tls_encoder.SessionClose(session_id, layer)));
  std::lock_guard<std::mutex> l(index_mu_);
  session_layer_.erase(session_id);
  return lsn;
}

Result<Lsn> Spine::EventPending(uint64_t event_id, uint64_t session_id,
                                std::span<const uint8_t> payload) {
  bool found;
  const Layer layer = SessionLayer(session_id, &found);
  if (!found) return Status::NotFound("session " + std::to_string(session_id) + " is not open");
  return AppendLocked(layer, tls_encoder.EventPending(event_id, session_id, layer, payload));
}

Result<Lsn> Spine::EventDone(uint64_t event_id, uint64_t session_id) {
  // The event lives in its session's shard and layer; the session may have
  // closed since, so look for the event itself.
  const uint32_t shard = ShardOfSession(session_id);
  for (int li = 0; li < kLayerCount; ++li) {
    const Layer layer = static_cast<Layer>(li);
    bool present;
    {
      std::lock_guard<std::mutex> l(layer_mu_[li]);
      present = state_.layer(layer).shards[shard].events.count(event_id) > 0;
    }
    if (present) return AppendLocked(layer, tls_encoder.EventDone(event_id, session_id, layer));
  }
  return Status::NotFound("event " + std::to_string(event_id) + " of session " +
                          std::to_string(session_id) + " is not pending");
}

Result<Lsn> Spine::ComponentStatus(uint32_t component_id, std::string_view name, Layer layer,
                                   storage::ComponentState state, std::string_view detail) {
  return AppendLocked(layer, tls_encoder.ComponentStatus(component_id, name, layer, state, detail));
}

Result<Lsn> Spine::ChakraDown(Layer layer, std::string_view reason) {
  return AppendLocked(layer, tls_encoder.ChakraDown(layer, reason));
}

Result<Lsn> Spine::ChakraUp(Layer layer) {
  return AppendLocked(layer, tls_encoder.ChakraUp(layer));
}

Result<Lsn> Spine::Append(uint16_t type, std::span<const uint8_t> payload) {
  RAZAR_ASSIGN_OR_RETURN(DecodedRecord d, DecodeRecord(type, payload));
  const Route r = RouteOf(d);
  RAZAR_ASSIGN_OR_RETURN(Lsn lsn, AppendLocked(r.layer, RecordEncoder::Encoded{type, payload}));
  std::lock_guard<std::mutex> l(index_mu_);
  if (d.kind == RecordKind::kSessionOpen) {
    session_layer_[d.record->body_as_SessionOpen()->session_id()] = r.layer;
  } else if (d.kind == RecordKind::kSessionClose) {
    session_layer_.erase(d.record->body_as_SessionClose()->session_id());
  }
  return lsn;
}

// Shard by shard: freeze (copy pointers under the layer lock, note the log's
// last LSN as the shard's cut), then serialize with no lock held.
Result<SnapshotReport> Spine::Snapshot(Layer layer) {
  std::lock_guard<std::mutex> snap(snapshot_mu_);
  const auto t0 = std::chrono::steady_clock::now();
  std::mutex& mu = layer_mu_[static_cast<int>(layer)];
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotStore::Builder> b, store_->Begin(layer));
  SnapshotReport rep;
  rep.layer = layer;
  std::vector<std::shared_ptr<const Session>> sessions;
  std::vector<std::shared_ptr<const PendingEvent>> events;
  for (uint32_t shard = 0; shard < kShardCount; ++shard) {
    sessions.clear();
    events.clear();
    Lsn cut;
    {
      const uint64_t f0 = env_->MonotonicNanos();
      std::lock_guard<std::mutex> l(mu);
      const Shard& sh = state_.layer(layer).shards[shard];
      sessions.reserve(sh.sessions.size());
      for (const auto& [id, p] : sh.sessions) sessions.push_back(p);
      events.reserve(sh.events.size());
      for (const auto& [id, p] : sh.events) events.push_back(p);
      // Every record of this layer with an LSN up to the log's last was
      // assigned under this lock, hence already applied.
      cut = log_->last_lsn();
      rep.max_freeze_ns = std::max(rep.max_freeze_ns, env_->MonotonicNanos() - f0);
    }
    std::sort(sessions.begin(), sessions.end(),
              [](const auto& a, const auto& c) { return a->session_id < c->session_id; });
    std::sort(events.begin(), events.end(),
              [](const auto& a, const auto& c) { return a->event_id < c->event_id; });
    for (const auto& s : sessions) RAZAR_RETURN_IF_ERROR(b->AddSession(shard, *s));
    for (const auto& e : events) RAZAR_RETURN_IF_ERROR(b->AddEvent(shard, *e));
    b->SetShardLsn(shard, cut);
  }
  std::map<uint32_t, Component> comps;
  LayerMeta meta;
  Lsn cut;
  {
    const uint64_t f0 = env_->MonotonicNanos();
    std::lock_guard<std::mutex> l(mu);
    comps = state_.layer(layer).components;
    meta = state_.layer(layer).meta;
    cut = log_->last_lsn();
    rep.max_freeze_ns = std::max(rep.max_freeze_ns, env_->MonotonicNanos() - f0);
  }
  for (const auto& [id, c] : comps) RAZAR_RETURN_IF_ERROR(b->AddComponent(c));
  RAZAR_RETURN_IF_ERROR(b->SetMeta(meta));
  b->SetShardLsn(kLayerShard, cut);
  RAZAR_ASSIGN_OR_RETURN(SnapshotManifest m, b->Finish());
  // Never publish a snapshot holding records the log could still lose.
  RAZAR_RETURN_IF_ERROR(log_->Sync());
  m.created_unix_ns = env_->NowUnixNanos();
  RAZAR_RETURN_IF_ERROR(store_->Publish(m));
  rep.snapshot_id = m.snapshot_id;
  rep.sessions = m.sessions;
  rep.events = m.events;
  rep.value_bytes = m.value_bytes;
  RAZAR_RETURN_IF_ERROR(ApplyRetention(layer));
  RAZAR_RETURN_IF_ERROR(DeleteCoveredSegments());
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

Result<std::vector<SnapshotReport>> Spine::SnapshotAll() {
  std::vector<SnapshotReport> out;
  for (int li = 0; li < kLayerCount; ++li) {
    RAZAR_ASSIGN_OR_RETURN(SnapshotReport r, Snapshot(static_cast<Layer>(li)));
    out.push_back(r);
  }
  return out;
}

Status Spine::ApplyRetention(Layer layer) {
  RAZAR_ASSIGN_OR_RETURN(std::vector<SnapshotManifest> list, store_->List(layer));
  for (size_t i = options_.retain_snapshots; i < list.size(); ++i) {
    RAZAR_RETURN_IF_ERROR(store_->Delete(layer, list[i].snapshot_id));
  }
  return Status::Ok();
}

// Deletes log segments whose every record precedes the oldest retained
// snapshot of every layer, so that any retained snapshot can still be
// completed from the log. Never the newest segment (the writer's).
Status Spine::DeleteCoveredSegments() {
  Lsn covered = UINT64_MAX;
  for (int li = 0; li < kLayerCount; ++li) {
    RAZAR_ASSIGN_OR_RETURN(std::vector<SnapshotManifest> list,
                           store_->List(static_cast<Layer>(li)));
    if (list.empty()) return Status::Ok();
    covered = std::min(covered, list.back().min_lsn());
  }
  const std::string dir = SpineLogDir(options_.dir);
  RAZAR_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir));
  std::vector<std::pair<Lsn, std::string>> segs;
  for (const std::string& n : names) {
    Lsn first;
    if (log_format::ParseSegmentFileName(n, &first)) segs.emplace_back(first, n);
  }
  std::sort(segs.begin(), segs.end());
  bool removed = false;
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    const Lsn last_in_segment = segs[i + 1].first - 1;
    if (last_in_segment > covered) break;
    RAZAR_RETURN_IF_ERROR(env_->Remove(JoinPath(dir, segs[i].second)));
    removed = true;
  }
  if (removed) RAZAR_RETURN_IF_ERROR(env_->SyncDir(dir));
  return Status::Ok();
}

void Spine::SchedulerLoop() {
  std::unique_lock<std::mutex> l(sched_mu_);
  while (!stop_) {
    // Next multiple of the interval on the wall clock (top of the minute for 60 s).
    const int64_t now_ns = env_->NowUnixNanos();
    const int64_t period_ns = int64_t{options_.snapshot_interval_s} * 1000000000;
    const int64_t wait_ns = period_ns - now_ns % period_ns;
    if (sched_cv_.wait_for(l, std::chrono::nanoseconds(wait_ns), [&] { return stop_; })) break;
    l.unlock();
    Result<std::vector<SnapshotReport>> r = SnapshotAll();
    l.lock();
    if (!r.ok()) last_scheduled_error_ = r.status();
  }
}

State Spine::CopyState() {
  State out;
  for (int li = 0; li < kLayerCount; ++li) {
    std::lock_guard<std::mutex> l(layer_mu_[li]);
    const LayerState& src = state_.layer(static_cast<Layer>(li));
    LayerState& dst = out.layer(static_cast<Layer>(li));
    dst.shards = src.shards;  // values are immutable: sharing pointers is a copy
    dst.components = src.components;
    dst.meta = src.meta;
    dst.applied_lsn = src.applied_lsn;
  }
  return out;
}

Status Spine::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  {
    std::lock_guard<std::mutex> l(sched_mu_);
    stop_ = true;
  }
  sched_cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  Status s;
  if (log_ != nullptr) s = log_->Close();
  store_.reset();
  return s;
}

}  // namespace razar::storage
