#include "storage/testing/log_roundtrip.h"

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace razar::storage {

namespace {

uint64_t RecordDigest(Lsn lsn, uint16_t type, std::span<const uint8_t> payload) {
  // The LSN and type go in through the seed: distinct (lsn, type) pairs give
  // distinct seeds for any realistic LSN.
  return XXH3_64bits_withSeed(payload.data(), payload.size(), (lsn << 16) ^ type);
}

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One producer's view of a node: a few components on its layer, sessions
// that open, update and close, events that go pending and get done.
class StreamGenerator {
 public:
  StreamGenerator(int producer, uint64_t seed) : producer_(producer), rng_(seed * 7919 + producer) {
    layer_ = static_cast<Layer>(producer % kLayerCount);
    state_.resize(160);
  }

  RecordEncoder::Encoded Next(RecordEncoder& enc, RecordKind* kind) {
    const uint32_t roll = rng_() % 1000;
    const uint32_t comp = static_cast<uint32_t>(producer_ * 16 + rng_() % 4);
    for (auto& b : state_) b = static_cast<uint8_t>(rng_());
    if (roll < 700) {
      *kind = RecordKind::kBeat;
      return enc.Beat(comp, layer_, ++beat_seq_);
    }
    if (roll < 720 || sessions_.empty()) {
      const uint64_t id = (uint64_t(producer_) << 40) | ++session_seq_;
      sessions_.push_back(id);
      *kind = RecordKind::kSessionOpen;
      return enc.SessionOpen(id, layer_, comp, "component-" + std::to_string(comp), state_);
    }
    const uint64_t sid = sessions_[rng_() % sessions_.size()];
    if (roll < 850) {
      *kind = RecordKind::kSessionUpdate;
      return enc.SessionUpdate(sid, layer_, std::span<const uint8_t>(state_));
    }
    if (roll < 920) {
      const uint64_t eid = (uint64_t(producer_) << 40) | ++event_seq_;
      pending_.push_back({eid, sid});
      *kind = RecordKind::kEventPending;
      return enc.EventPending(eid, sid, layer_, std::span<const uint8_t>(state_.data(), 96));
    }
    if (roll < 980 && !pending_.empty()) {
      auto [eid, esid] = pending_.front();
      pending_.erase(pending_.begin());
      *kind = RecordKind::kEventDone;
      return enc.EventDone(eid, esid, layer_);
    }
    if (roll < 990 && sessions_.size() > 8) {
      const uint64_t id = sessions_.front();
      sessions_.erase(sessions_.begin());
      *kind = RecordKind::kSessionClose;
      return enc.SessionClose(id, layer_);
    }
    switch (roll % 4) {
      case 0:
        *kind = RecordKind::kComponentStatus;
        return enc.ComponentStatus(comp, "component-" + std::to_string(comp), layer_,
                                   ComponentState::healthy, "probe ok");
      case 1:
        *kind = RecordKind::kChakraDown;
        return enc.ChakraDown(layer_, "3 beats missed");
      case 2:
        *kind = RecordKind::kChakraUp;
        return enc.ChakraUp(layer_);
      default:
        *kind = RecordKind::kFailurePulse;
        return enc.FailurePulse(layer_, "component-" + std::to_string(comp), "kill", 250);
    }
  }

 private:
  int producer_;
  std::mt19937_64 rng_;
  Layer layer_;
  std::vector<uint8_t> state_;
  std::vector<uint64_t> sessions_;
  std::vector<std::pair<uint64_t, uint64_t>> pending_;
  uint64_t beat_seq_ = 0, session_seq_ = 0, event_seq_ = 0;
};

Status RemoveSegments(Env* env, const std::string& dir) {
  if (!env->Exists(dir)) return Status::Ok();
  RAZAR_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(dir));
  for (const std::string& n : names) {
    Lsn first;
    const bool segment = log_format::ParseSegmentFileName(n, &first) ||
                         n.find(".hblog.abandoned-") != std::string::npos ||
                         (n.rfind("spare-", 0) == 0 && n.ends_with(".hblog.tmp"));
    if (segment) RAZAR_RETURN_IF_ERROR(env->Remove(JoinPath(dir, n)));
  }
  return Status::Ok();
}

Status WriteSide(const RoundTripOptions& o, RoundTripReport* rep) {
  LogWriterOptions wo;
  wo.env = o.env;
  wo.dir = o.dir;
  wo.durability = o.durability;
  wo.segment_bytes = o.segment_bytes;
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<LogWriter> w, LogWriter::Open(wo));

  std::mutex mu;
  Status first_error;
  RoundTripSide& side = rep->written;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int p = 0; p < o.producers; ++p) {
    threads.emplace_back([&, p] {
      const uint64_t n = o.records / o.producers + (uint64_t(p) < o.records % o.producers ? 1 : 0);
      StreamGenerator gen(p, o.seed);
      RecordEncoder enc;
      RoundTripSide local;
      Lsn last = 0;
      Status st;
      for (uint64_t i = 0; i < n && st.ok(); ++i) {
        RecordKind kind;
        RecordEncoder::Encoded e = gen.Next(enc, &kind);
        Result<Lsn> lsn = w->Append(e.type, e.payload);
        if (!lsn.ok()) {
          st = lsn.status();
          break;
        }
        last = *lsn;
        ++local.records;
        local.bytes += log_format::RecordFootprint(e.payload.size());
        ++local.per_kind[static_cast<int>(kind)];
        local.digest += RecordDigest(*lsn, e.type, e.payload);
        if ((i + 1) % o.window == 0) st = w->WaitDurable(last);
      }
      if (st.ok() && last != 0) st = w->WaitDurable(last);
      std::lock_guard<std::mutex> l(mu);
      if (!st.ok() && first_error.ok()) first_error = st;
      side.records += local.records;
      side.bytes += local.bytes;
      side.digest += local.digest;
      for (int k = 0; k < kRecordKindCount; ++k) side.per_kind[k] += local.per_kind[k];
    });
  }
  for (auto& t : threads) t.join();
  side.seconds = Since(t0);
  RAZAR_RETURN_IF_ERROR(first_error);
  side.last_lsn = w->last_lsn();
  side.first_lsn = side.last_lsn - side.records + 1;
  rep->writer_stats = w->stats();
  return w->Close();
}

Status ReadSide(const RoundTripOptions& o, RoundTripReport* rep) {
  const auto t0 = std::chrono::steady_clock::now();
  LogReaderOptions ro;
  ro.env = o.env;
  ro.dir = o.dir;
  RAZAR_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> r, LogReader::Open(ro));
  RoundTripSide& side = rep->recovered;
  RecordView v;
  for (;;) {
    RAZAR_ASSIGN_OR_RETURN(bool more, r->Next(&v));
    if (!more) break;
    if (v.lsn < rep->written.first_lsn) continue;  // from an earlier run in the same dir
    RAZAR_ASSIGN_OR_RETURN(DecodedRecord d, DecodeRecord(v.type, v.payload));
    if (side.first_lsn == 0) side.first_lsn = v.lsn;
    side.last_lsn = v.lsn;
    ++side.records;
    side.bytes += log_format::RecordFootprint(v.payload.size());
    ++side.per_kind[static_cast<int>(d.kind)];
    side.digest += RecordDigest(v.lsn, v.type, v.payload);
  }
  side.seconds = Since(t0);
  rep->read_report = r->report();
  return Status::Ok();
}

}  // namespace

Result<RoundTripReport> RunRoundTrip(const RoundTripOptions& in) {
  RoundTripOptions o = in;
  if (o.env == nullptr) o.env = Env::Default();
  if (o.dir.empty()) return Status::InvalidArgument("round trip: --dir is required");
  if (o.producers < 1 || o.producers > 256)
    return Status::InvalidArgument("round trip: producers must be 1..256");
  if (o.window == 0) return Status::InvalidArgument("round trip: window must be >= 1");
  if (o.fresh) RAZAR_RETURN_IF_ERROR(RemoveSegments(o.env, o.dir));
  RoundTripReport rep;
  RAZAR_RETURN_IF_ERROR(WriteSide(o, &rep));
  RAZAR_RETURN_IF_ERROR(ReadSide(o, &rep));
  rep.match = rep.written.records == rep.recovered.records &&
              rep.written.digest == rep.recovered.digest &&
              rep.written.per_kind == rep.recovered.per_kind &&
              rep.written.last_lsn == rep.recovered.last_lsn;
  return rep;
}

}  // namespace razar::storage
