#include "storage/snapshot_store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "razar/formats/snapshot_generated.h"

namespace razar::storage {

namespace {

constexpr size_t kKeyBytes = 19;
constexpr uint8_t kKindSession = 1, kKindEvent = 2, kKindComponent = 3, kKindMeta = 4;
constexpr size_t kBatchBytes = 8u << 20;
const char* const kManifestCf = "manifest";

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

void PutBE64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string EntryKey(uint64_t snapshot_id, uint32_t shard, uint8_t kind, uint64_t id) {
  std::string k;
  k.reserve(kKeyBytes);
  PutBE64(&k, snapshot_id);
  k.push_back(static_cast<char>((shard >> 8) & 0xff));
  k.push_back(static_cast<char>(shard & 0xff));
  k.push_back(static_cast<char>(kind));
  PutBE64(&k, id);
  return k;
}

std::string IdPrefix(uint64_t snapshot_id) {
  std::string k;
  PutBE64(&k, snapshot_id);
  return k;
}

std::string ManifestKey(Layer layer, uint64_t id) {
  std::string k(1, static_cast<char>(layer));
  PutBE64(&k, id);
  return k;
}

uint64_t ValueChecksum(std::string_view key, const uint8_t* data, size_t n) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  XXH3_64bits_update(&st, key.data(), key.size());
  XXH3_64bits_update(&st, data, n);
  return XXH3_64bits_digest(&st);
}

// FlatBuffer bytes || checksum(key || bytes).
std::string SealValue(const std::string& key, const flatbuffers::FlatBufferBuilder& fbb,
                      uint64_t* checksum) {
  const uint8_t* p = fbb.GetBufferPointer();
  const size_t n = fbb.GetSize();
  *checksum = ValueChecksum(key, p, n);
  std::string v(reinterpret_cast<const char*>(p), n);
  v.append(reinterpret_cast<const char*>(checksum), 8);
  return v;
}

// Checks a sealed value; on success points *fb at the FlatBuffer bytes.
// Checks a sealed value; on success points *fb at the FlatBuffer bytes.
// RocksDB hands out values at any address, and FlatBuffers reads its
// offsets as aligned words: a misaligned value is copied into `scratch`
// (8-aligned heap memory) first. *fb stays valid until `scratch` changes.
template <typename T>
bool OpenValue(const rocksdb::Slice& key, const rocksdb::Slice& value,
               std::vector<uint64_t>* scratch, const uint8_t** fb, size_t* n, uint64_t* checksum) {
  if (value.size() < 8) return false;
  *n = value.size() - 8;
  *fb = reinterpret_cast<const uint8_t*>(value.data());
  if (reinterpret_cast<uintptr_t>(*fb) % alignof(uint64_t) != 0) {
    scratch->resize((*n + 7) / 8);
    std::memcpy(scratch->data(), value.data(), *n);
    *fb = reinterpret_cast<const uint8_t*>(scratch->data());
  }
  uint64_t stored;
  std::memcpy(&stored, value.data() + *n, 8);
  if (stored != ValueChecksum(std::string_view(key.data(), key.size()), *fb, *n)) return false;
  flatbuffers::Verifier v(*fb, *n);
  if (!v.VerifyBuffer<T>(nullptr)) return false;
  *checksum = stored;
  return true;
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>>> BuildKv(
    flatbuffers::FlatBufferBuilder& fbb, const std::map<std::string, std::vector<uint8_t>>& kv) {
  std::vector<flatbuffers::Offset<fb::KeyValue>> v;
  v.reserve(kv.size());
  for (const auto& [k, val] : kv) {
    v.push_back(fb::CreateKeyValue(fbb, fbb.CreateString(k), fbb.CreateVector(val)));
  }
  return fbb.CreateVector(v);
}

std::vector<uint8_t> Bytes(const flatbuffers::Vector<uint8_t>* v) {
  return v == nullptr ? std::vector<uint8_t>() : std::vector<uint8_t>(v->begin(), v->end());
}
std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

}  // namespace

const char* SnapshotWriteMethodName(SnapshotWriteMethod m) {
  return m == SnapshotWriteMethod::kSstIngest ? "sst-ingest" : "write-batch";
}

Lsn SnapshotManifest::min_lsn() const {
  return *std::min_element(shard_lsns.begin(), shard_lsns.end());
}
Lsn SnapshotManifest::max_lsn() const {
  return *std::max_element(shard_lsns.begin(), shard_lsns.end());
}

// ---------------------------------------------------------------- builders

// Serializes entries in key order and counts them; the sink (SST file or
// write batches) is the subclass's.
class SnapshotBuilderBase : public SnapshotStore::Builder {
 public:
  SnapshotBuilderBase(SnapshotStore* store, Layer layer, uint64_t id) : store_(store) {
    m_.layer = layer;
    m_.snapshot_id = id;
  }

  Status AddSession(uint32_t shard, const Session& s) override {
    fbb_.Clear();
    auto comp = fbb_.CreateString(s.component);
    auto st = fbb_.CreateVector(s.state);
    auto kv = BuildKv(fbb_, s.kv);
    fbb_.Finish(fb::CreateSessionSnap(fbb_, s.session_id, s.layer, s.component_id, comp, st, kv,
                                      s.opened_lsn, s.updated_lsn, s.opened_unix_ns,
                                      s.updated_unix_ns));
    ++m_.sessions;
    return Emit(EntryKey(m_.snapshot_id, shard, kKindSession, s.session_id), shard);
  }

  Status AddEvent(uint32_t shard, const PendingEvent& e) override {
    fbb_.Clear();
    auto payload = fbb_.CreateVector(e.payload);
    fbb_.Finish(fb::CreateEventSnap(fbb_, e.event_id, e.session_id, payload, e.lsn, e.unix_ns));
    ++m_.events;
    return Emit(EntryKey(m_.snapshot_id, shard, kKindEvent, e.event_id), shard);
  }

  Status AddComponent(const Component& c) override {
    fbb_.Clear();
    auto name = fbb_.CreateString(c.name);
    auto detail = fbb_.CreateString(c.detail);
    fbb_.Finish(fb::CreateComponentSnap(fbb_, c.component_id, name, c.state, c.has_state, detail,
                                        c.status_lsn, c.last_beat_seq, c.last_beat_unix_ns,
                                        c.last_beat_lsn));
    ++m_.components;
    return Emit(EntryKey(m_.snapshot_id, kLayerShard, kKindComponent, c.component_id), kLayerShard);
  }

  Status SetMeta(const LayerMeta& meta) override {
    fbb_.Clear();
    auto reason = fbb_.CreateString(meta.reason);
    fbb_.Finish(fb::CreateLayerMetaSnap(fbb_, meta.down, reason, meta.changed_lsn,
                                        meta.changed_unix_ns, meta.pulses, meta.last_pulse_lsn));
    return Emit(EntryKey(m_.snapshot_id, kLayerShard, kKindMeta, 0), kLayerShard);
  }

  void SetShardLsn(uint32_t shard, Lsn lsn) override { m_.shard_lsns[shard] = lsn; }

 protected:
  virtual Status Sink(const std::string& key, const std::string& value) = 0;

  Status Emit(const std::string& key, uint32_t shard) {
    if (entries_++ == 0) {
      first_shard_ = shard;
    } else if (shard != first_shard_ && !passed_first_shard_) {
      passed_first_shard_ = true;
      store_->MaybeCrash(SnapshotCrashPoint::kAfterFirstShard);
    }
    uint64_t checksum = 0;
    std::string value = SealValue(key, fbb_, &checksum);
    m_.content_checksum += checksum;
    m_.value_bytes += value.size();
    return Sink(key, value);
  }

  SnapshotStore* store_;
  SnapshotManifest m_;
  flatbuffers::FlatBufferBuilder fbb_{4096};
  uint64_t entries_ = 0;
  uint32_t first_shard_ = 0;
  bool passed_first_shard_ = false;
};

class SnapshotStore::SstBuilder final : public SnapshotBuilderBase {
 public:
  SstBuilder(SnapshotStore* store, Layer layer, uint64_t id, std::string path)
      : SnapshotBuilderBase(store, layer, id),
        path_(std::move(path)),
        writer_(rocksdb::EnvOptions(), rocksdb::Options(), store->cf(layer)) {}
  ~SstBuilder() override {
    if (!finished_) std::remove(path_.c_str());
  }

  Status Init() { return FromRocks(writer_.Open(path_), "open " + path_); }

  Result<SnapshotManifest> Finish() override {
    rocksdb::ExternalSstFileInfo info;
    if (m_.value_bytes == 0) {
      // SstFileWriter refuses an empty file; an empty layer has its meta at least.
      return Status::InvalidArgument("empty snapshot");
    }
    RAZAR_RETURN_IF_ERROR(FromRocks(writer_.Finish(&info), "finish " + path_));
    store_->MaybeCrash(SnapshotCrashPoint::kBeforeIngest);
    rocksdb::IngestExternalFileOptions io;
    io.move_files = true;
    RAZAR_RETURN_IF_ERROR(FromRocks(
        store_->db_->IngestExternalFile(store_->cf(m_.layer), {path_}, io), "ingest " + path_));
    finished_ = true;
    store_->MaybeCrash(SnapshotCrashPoint::kAfterDataDurable);
    return m_;
  }

 private:
  Status Sink(const std::string& key, const std::string& value) override {
    return FromRocks(writer_.Put(key, value), "sst put");
  }
  std::string path_;
  rocksdb::SstFileWriter writer_;
  bool finished_ = false;
};

class SnapshotStore::BatchBuilder final : public SnapshotBuilderBase {
 public:
  BatchBuilder(SnapshotStore* store, Layer layer, uint64_t id)
      : SnapshotBuilderBase(store, layer, id) {}

  Result<SnapshotManifest> Finish() override {
    RAZAR_RETURN_IF_ERROR(FlushBatch());
    store_->MaybeCrash(SnapshotCrashPoint::kBeforeIngest);
    RAZAR_RETURN_IF_ERROR(FromRocks(store_->db_->FlushWAL(/*sync=*/true), "flush WAL"));
    store_->MaybeCrash(SnapshotCrashPoint::kAfterDataDurable);
    return m_;
  }

 private:
  Status Sink(const std::string& key, const std::string& value) override {
    RAZAR_RETURN_IF_ERROR(FromRocks(batch_.Put(store_->cf(m_.layer), key, value), "batch put"));
    if (batch_.GetDataSize() >= kBatchBytes) return FlushBatch();
    return Status::Ok();
  }
  Status FlushBatch() {
    if (batch_.Count() == 0) return Status::Ok();
    rocksdb::WriteOptions wo;
    Status s = FromRocks(store_->db_->Write(wo, &batch_), "write snapshot batch");
    batch_.Clear();
    return s;
  }
  rocksdb::WriteBatch batch_;
};

// ---------------------------------------------------------------- store

SnapshotStore::SnapshotStore(const SnapshotStoreOptions& options) : options_(options) {}

SnapshotStore::~SnapshotStore() {
  if (db_ != nullptr) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    delete db_;
  }
}

rocksdb::ColumnFamilyHandle* SnapshotStore::cf(Layer l) const {
  return handles_[2 + static_cast<int>(l)];
}

void SnapshotStore::MaybeCrash(SnapshotCrashPoint p) const {
  if (crash_point_ == p) {
    std::fflush(nullptr);
    _exit(0);
  }
}

namespace {

class NullLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
};

}  // namespace

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::Open(const SnapshotStoreOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("snapshot store path not set");
  std::unique_ptr<SnapshotStore> s(new SnapshotStore(options));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
  rocksdb::ColumnFamilyOptions cfo;
  cfds.emplace_back(rocksdb::kDefaultColumnFamilyName, cfo);
  cfds.emplace_back(kManifestCf, cfo);
  for (int l = 0; l < kLayerCount; ++l) cfds.emplace_back(LayerName(static_cast<Layer>(l)), cfo);
  rocksdb::DBOptions dbo;
  rocksdb::Status rs;
  if (options.read_only) {
    // A read-only open would still create an info LOG in the directory:
    // evidence must not change, so the log goes nowhere.
    dbo.info_log = std::make_shared<NullLogger>();
    if (options.secondary_path.empty()) {
      rs = rocksdb::DB::OpenForReadOnly(dbo, options.path, cfds, &s->handles_, &s->db_);
    } else {
      dbo.max_open_files = -1;  // required by secondaries; files stay open if deleted
      rs = rocksdb::DB::OpenAsSecondary(dbo, options.path, options.secondary_path, cfds,
                                        &s->handles_, &s->db_);
    }
  } else {
    dbo.create_if_missing = true;
    dbo.create_missing_column_families = true;
    dbo.max_background_jobs = 2;
    rs = rocksdb::DB::Open(dbo, options.path, cfds, &s->handles_, &s->db_);
  }
  RAZAR_RETURN_IF_ERROR(FromRocks(rs, "open snapshot store " + options.path));
  // Ids are never reused: start after the largest seen anywhere.
  uint64_t max_id = 0;
  for (size_t h = 1; h < s->handles_.size(); ++h) {
    std::unique_ptr<rocksdb::Iterator> it(
        s->db_->NewIterator(rocksdb::ReadOptions(), s->handles_[h]));
    it->SeekToLast();
    if (!it->Valid()) continue;
    const rocksdb::Slice k = it->key();
    if (h == 1 && k.size() == 9) max_id = std::max(max_id, GetBE64(k.data() + 1));
    if (h > 1 && k.size() == kKeyBytes) max_id = std::max(max_id, GetBE64(k.data()));
  }
  // The manifest is keyed by layer first: scan it whole for the max id.
  {
    std::unique_ptr<rocksdb::Iterator> it(
        s->db_->NewIterator(rocksdb::ReadOptions(), s->handles_[1]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().size() == 9) max_id = std::max(max_id, GetBE64(it->key().data() + 1));
    }
  }
  s->next_id_ = max_id + 1;
  if (!options.read_only) {
    // SST files of snapshots a crash interrupted before ingestion.
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(options.path, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("ingest-", 0) == 0 && name.ends_with(".sst")) {
        std::filesystem::remove(e.path(), ec);
      }
    }
  }
  return s;
}

uint64_t SnapshotStore::NextId() { return next_id_++; }

Status SnapshotStore::CatchUp() {
  if (!options_.read_only || options_.secondary_path.empty()) return Status::Ok();
  return FromRocks(db_->TryCatchUpWithPrimary(), "catch up with the live snapshot store");
}

Result<std::unique_ptr<SnapshotStore::Builder>> SnapshotStore::Begin(Layer layer) {
  if (options_.read_only) return Status::NotSupported("snapshot store opened read-only");
  const uint64_t id = NextId();
  if (options_.method == SnapshotWriteMethod::kSstIngest) {
    const std::string path =
        options_.path + "/ingest-" + std::to_string(id) + "-" + std::to_string(++sst_seq_) + ".sst";
    auto b = std::make_unique<SstBuilder>(this, layer, id, path);
    RAZAR_RETURN_IF_ERROR(b->Init());
    return std::unique_ptr<Builder>(std::move(b));
  }
  return std::unique_ptr<Builder>(std::make_unique<BatchBuilder>(this, layer, id));
}

Status SnapshotStore::Publish(const SnapshotManifest& m) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  auto lsns = fbb.CreateVector(m.shard_lsns.data(), m.shard_lsns.size());
  fbb.Finish(fb::CreateSnapshotManifest(fbb, m.layer, m.snapshot_id, m.created_unix_ns, lsns,
                                        m.sessions, m.events, m.components, m.value_bytes,
                                        m.content_checksum));
  const std::string key = ManifestKey(m.layer, m.snapshot_id);
  uint64_t checksum;
  const std::string value = SealValue(key, fbb, &checksum);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RAZAR_RETURN_IF_ERROR(FromRocks(db_->Put(wo, handles_[1], key, value), "publish manifest"));
  MaybeCrash(SnapshotCrashPoint::kAfterManifest);
  return Status::Ok();
}

Result<std::vector<SnapshotManifest>> SnapshotStore::List(Layer layer,
                                                          std::vector<std::string>* damaged) {
  std::vector<SnapshotManifest> out;
  std::vector<uint64_t> scratch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[1]));
  const std::string prefix(1, static_cast<char>(layer));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const uint8_t* p;
    size_t n;
    uint64_t sum;
    const uint64_t id = it->key().size() == 9 ? GetBE64(it->key().data() + 1) : 0;
    if (!OpenValue<fb::SnapshotManifest>(it->key(), it->value(), &scratch, &p, &n, &sum)) {
      if (damaged != nullptr)
        damaged->push_back(std::string("manifest entry of ") + LayerName(layer) + " snapshot " +
                           std::to_string(id) + " fails its checksum or verification");
      continue;
    }
    const fb::SnapshotManifest* f = flatbuffers::GetRoot<fb::SnapshotManifest>(p);
    if (f->shard_lsns() == nullptr || f->shard_lsns()->size() != kShardSlots ||
        f->layer() != layer || f->snapshot_id() != id) {
      if (damaged != nullptr)
        damaged->push_back(std::string("manifest entry of ") + LayerName(layer) + " snapshot " +
                           std::to_string(id) + " is inconsistent");
      continue;
    }
    SnapshotManifest m;
    m.layer = layer;
    m.snapshot_id = id;
    m.created_unix_ns = f->created_unix_ns();
    for (uint32_t i = 0; i < kShardSlots; ++i) m.shard_lsns[i] = f->shard_lsns()->Get(i);
    m.sessions = f->sessions();
    m.events = f->events();
    m.components = f->components();
    m.value_bytes = f->value_bytes();
    m.content_checksum = f->content_checksum();
    out.push_back(m);
  }
  RAZAR_RETURN_IF_ERROR(FromRocks(it->status(), "list manifest"));
  std::reverse(out.begin(), out.end());  // newest first
  return out;
}

namespace {

// What Load has seen of a snapshot so far, to compare with its manifest.
struct LoadTally {
  uint64_t sessions = 0, events = 0, components = 0, value_bytes = 0, checksum_sum = 0;
};

// The fields of an entry key (docs/formats/spine.md): shard, kind, id.
struct EntryKeyParts {
  uint32_t shard = 0;
  uint8_t kind = 0;
  uint64_t id = 0;
};

EntryKeyParts ParseEntryKey(const rocksdb::Slice& k) {
  EntryKeyParts p;
  p.shard = (static_cast<uint8_t>(k[8]) << 8) | static_cast<uint8_t>(k[9]);
  p.kind = static_cast<uint8_t>(k[10]);
  p.id = GetBE64(k.data() + 11);
  return p;
}

// Each Load* turns one verified value into its part of *out and returns
// whether the value agrees with the key it is stored under.
bool LoadSession(const fb::SessionSnap& f, const EntryKeyParts& key, LayerState* out) {
  auto s = std::make_shared<Session>();
  s->session_id = f.session_id();
  s->layer = f.layer();
  s->component_id = f.component_id();
  s->component = Str(f.component());
  s->state = Bytes(f.state());
  if (f.kv() != nullptr)
    for (const fb::KeyValue* e : *f.kv()) s->kv[Str(e->key())] = Bytes(e->value());
  s->opened_lsn = f.opened_lsn();
  s->updated_lsn = f.updated_lsn();
  s->opened_unix_ns = f.opened_unix_ns();
  s->updated_unix_ns = f.updated_unix_ns();
  const bool ok = s->session_id == key.id && ShardOfSession(key.id) == key.shard;
  out->shards[key.shard].sessions[key.id] = std::move(s);
  return ok;
}

bool LoadEvent(const fb::EventSnap& f, const EntryKeyParts& key, LayerState* out) {
  auto e = std::make_shared<PendingEvent>();
  e->event_id = f.event_id();
  e->session_id = f.session_id();
  e->payload = Bytes(f.payload());
  e->lsn = f.lsn();
  e->unix_ns = f.unix_ns();
  const bool ok = e->event_id == key.id && ShardOfSession(e->session_id) == key.shard;
  out->shards[key.shard].events[key.id] = std::move(e);
  return ok;
}

bool LoadComponent(const fb::ComponentSnap& f, const EntryKeyParts& key, LayerState* out) {
  Component& comp = out->components[static_cast<uint32_t>(key.id)];
  comp.component_id = f.component_id();
  comp.name = Str(f.name());
  comp.state = f.state();
  comp.has_state = f.has_state();
  comp.detail = Str(f.detail());
  comp.status_lsn = f.status_lsn();
  comp.last_beat_seq = f.last_beat_seq();
  comp.last_beat_unix_ns = f.last_beat_unix_ns();
  comp.last_beat_lsn = f.last_beat_lsn();
  return comp.component_id == key.id &&
         static_cast<int>(comp.state) <= static_cast<int>(fb::ComponentState::MAX);
}

void LoadMeta(const fb::LayerMetaSnap& f, LayerState* out) {
  out->meta.down = f.down();
  out->meta.reason = Str(f.reason());
  out->meta.changed_lsn = f.changed_lsn();
  out->meta.changed_unix_ns = f.changed_unix_ns();
  out->meta.pulses = f.pulses();
  out->meta.last_pulse_lsn = f.last_pulse_lsn();
}

// Checks one entry (checksum, Verifier for the table its kind names, key
// consistency) and adds it to *out and *tally. False if any check fails,
// or the kind is unknown or in the wrong shard.
bool LoadEntry(const rocksdb::Slice& k, const rocksdb::Slice& v, std::vector<uint64_t>* scratch,
               LayerState* out, LoadTally* tally) {
  const EntryKeyParts key = ParseEntryKey(k);
  const uint8_t* p;
  size_t n;
  uint64_t checksum = 0;
  bool ok = false;
  if (key.kind == kKindSession && key.shard < kShardCount) {
    ok = OpenValue<fb::SessionSnap>(k, v, scratch, &p, &n, &checksum) &&
         LoadSession(*flatbuffers::GetRoot<fb::SessionSnap>(p), key, out);
    ++tally->sessions;
  } else if (key.kind == kKindEvent && key.shard < kShardCount) {
    ok = OpenValue<fb::EventSnap>(k, v, scratch, &p, &n, &checksum) &&
         LoadEvent(*flatbuffers::GetRoot<fb::EventSnap>(p), key, out);
    ++tally->events;
  } else if (key.kind == kKindComponent && key.shard == kLayerShard) {
    ok = OpenValue<fb::ComponentSnap>(k, v, scratch, &p, &n, &checksum) &&
         LoadComponent(*flatbuffers::GetRoot<fb::ComponentSnap>(p), key, out);
    ++tally->components;
  } else if (key.kind == kKindMeta && key.shard == kLayerShard) {
    ok = OpenValue<fb::LayerMetaSnap>(k, v, scratch, &p, &n, &checksum);
    if (ok) LoadMeta(*flatbuffers::GetRoot<fb::LayerMetaSnap>(p), out);
  }
  tally->checksum_sum += checksum;
  return ok;
}

}  // namespace

// On any failure *out is left empty: a snapshot is used whole or not at all.
Status SnapshotStore::Load(const SnapshotManifest& m, LayerState* out) {
  *out = LayerState();
  const std::string begin = IdPrefix(m.snapshot_id), end = IdPrefix(m.snapshot_id + 1);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(m.layer)));
  LoadTally tally;
  std::vector<uint64_t> scratch;
  const std::string what =
      std::string(LayerName(m.layer)) + " snapshot " + std::to_string(m.snapshot_id);
  Status result;
  for (it->Seek(begin); it->Valid() && result.ok(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.size() != kKeyBytes) {
      result = Status::Corruption(what + ": malformed key");
      break;
    }
    tally.value_bytes += it->value().size();
    if (!LoadEntry(k, it->value(), &scratch, out, &tally)) {
      const EntryKeyParts key = ParseEntryKey(k);
      result = Status::Corruption(what + ": entry (shard " + std::to_string(key.shard) + ", kind " +
                                  std::to_string(key.kind) + ", id " + std::to_string(key.id) +
                                  ") fails its checksum or verification");
    }
  }
  if (result.ok()) result = FromRocks(it->status(), "load " + what);
  if (result.ok() && (tally.sessions != m.sessions || tally.events != m.events ||
                      tally.components != m.components || tally.value_bytes != m.value_bytes ||
                      tally.checksum_sum != m.content_checksum)) {
    result = Status::Corruption(what + ": contents disagree with its manifest (sessions " +
                                std::to_string(tally.sessions) + "/" + std::to_string(m.sessions) +
                                ", events " + std::to_string(tally.events) + "/" +
                                std::to_string(m.events) + ")");
  }
  if (!result.ok()) {
    *out = LayerState();
    return result;
  }
  out->applied_lsn = m.max_lsn();
  return Status::Ok();
}

Status SnapshotStore::Delete(Layer layer, uint64_t snapshot_id) {
  rocksdb::WriteOptions wo;
  RAZAR_RETURN_IF_ERROR(
      FromRocks(db_->Delete(wo, handles_[1], ManifestKey(layer, snapshot_id)), "delete manifest"));
  return FromRocks(
      db_->DeleteRange(wo, cf(layer), IdPrefix(snapshot_id), IdPrefix(snapshot_id + 1)),
      "delete snapshot entries");
}

Result<uint64_t> SnapshotStore::DeleteUnpublished() {
  uint64_t removed = 0;
  for (int li = 0; li < kLayerCount; ++li) {
    const Layer layer = static_cast<Layer>(li);
    // Every id with a manifest key, valid or damaged: the entries of a
    // snapshot whose manifest entry is damaged are kept as evidence.
    std::vector<uint64_t> ids;
    {
      std::unique_ptr<rocksdb::Iterator> mit(db_->NewIterator(rocksdb::ReadOptions(), handles_[1]));
      const std::string prefix(1, static_cast<char>(layer));
      for (mit->Seek(prefix); mit->Valid() && mit->key().starts_with(prefix); mit->Next()) {
        if (mit->key().size() == 9) ids.push_back(GetBE64(mit->key().data() + 1));
      }
      RAZAR_RETURN_IF_ERROR(FromRocks(mit->status(), "scan manifest"));
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(layer)));
    for (it->SeekToFirst(); it->Valid();) {
      if (it->key().size() < 8) {
        it->Next();
        continue;
      }
      const uint64_t id = GetBE64(it->key().data());
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
        rocksdb::WriteOptions wo;
        RAZAR_RETURN_IF_ERROR(FromRocks(
            db_->DeleteRange(wo, cf(layer), IdPrefix(id), IdPrefix(id + 1)), "delete unpublished"));
        ++removed;
      }
      it->Seek(IdPrefix(id + 1));
    }
    RAZAR_RETURN_IF_ERROR(FromRocks(it->status(), "scan for unpublished snapshots"));
  }
  return removed;
}

uint64_t SnapshotStore::ApproximateBytes() {
  uint64_t total = 0;
  db_->GetIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &total);
  return total;
}

}  // namespace razar::storage
