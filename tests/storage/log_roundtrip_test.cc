// Round trips through LogWriter and LogReader: every record kind, raw
// payload sizes, segment rollover, reopen, concurrent producers, durability
// modes, acknowledgement semantics and argument validation
// (docs/formats/heartbeat-log.md).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "storage/log_writer.h"
#include "storage/record_codec.h"
#include "testing/log_test_util.h"

namespace razar::storage {
namespace {

using testing::LsnsDenseFrom;
using testing::OwnedRecord;
using testing::ReadLog;
using testing::SmallLogOptions;
using testing::TempDir;
namespace lf = log_format;

std::string Str(const flatbuffers::String* s) { return s == nullptr ? "<null>" : s->str(); }
std::vector<uint8_t> Bytes(const flatbuffers::Vector<uint8_t>* v) {
  return v == nullptr ? std::vector<uint8_t>{} : std::vector<uint8_t>(v->begin(), v->end());
}

std::unique_ptr<LogWriter> OpenWriter(const LogWriterOptions& o) {
  auto w = LogWriter::Open(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(*w) : nullptr;
}

// Appends and remembers what was appended, keyed by LSN.
struct Appended {
  std::map<Lsn, OwnedRecord> by_lsn;
  void Add(Lsn lsn, uint16_t type, std::span<const uint8_t> p, int64_t ts) {
    by_lsn[lsn] = OwnedRecord{lsn, ts, type, std::vector<uint8_t>(p.begin(), p.end())};
  }
};

// ---------------------------------------------------------------------------

TEST(LogRoundTripTest, EveryRecordKindRoundTripsFieldByField) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto w = OpenWriter(SmallLogOptions(tmp.path()));
  ASSERT_NE(w, nullptr);

  RecordEncoder enc;
  // Checks of the decoded record, by LSN.
  std::map<Lsn, std::function<void(const DecodedRecord&)>> checks;
  std::map<Lsn, OwnedRecord> appended;
  auto append = [&](RecordEncoder::Encoded e, std::function<void(const DecodedRecord&)> check) {
    const int64_t ts = 1'700'000'000'000'000'000 + static_cast<int64_t>(appended.size()) * 977;
    auto lsn = w->Append(e.type, e.payload, ts);
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    appended[*lsn] =
        OwnedRecord{*lsn, ts, e.type, std::vector<uint8_t>(e.payload.begin(), e.payload.end())};
    checks[*lsn] = std::move(check);
  };

  const std::vector<uint8_t> state = {1, 2, 3, 0, 255, 42};
  const std::vector<uint8_t> v1 = {9, 8, 7};
  const std::vector<uint8_t> ev_payload = testing::PatternBytes(5, 300);
  const KeyValueArg kv_open[] = {{"alpha", std::span<const uint8_t>(v1)},
                                 {"beta", std::span<const uint8_t>()}};
  const KeyValueArg kv_update[] = {{"alpha", std::nullopt},
                                   {"gamma", std::span<const uint8_t>(state)}};

  for (int layer = 0; layer < kLayerCount; ++layer) {
    const auto l = static_cast<Layer>(layer);
    append(enc.Beat(100 + layer, l, 0xFEDCBA9876543210ull + layer), [=](const DecodedRecord& d) {
      ASSERT_EQ(d.kind, RecordKind::kBeat);
      EXPECT_EQ(d.beat.component_id(), 100u + layer);
      EXPECT_EQ(d.beat.layer(), l);
      EXPECT_EQ(d.beat.sequence(), 0xFEDCBA9876543210ull + layer);
    });
  }
  append(enc.SessionOpen(77, Layer::heart, 5, "heartd", state, kv_open),
         [&](const DecodedRecord& d) {
           ASSERT_EQ(d.kind, RecordKind::kSessionOpen);
           const auto* b = d.record->body_as_SessionOpen();
           ASSERT_NE(b, nullptr);
           EXPECT_EQ(b->session_id(), 77u);
           EXPECT_EQ(b->layer(), Layer::heart);
           EXPECT_EQ(b->component_id(), 5u);
           EXPECT_EQ(Str(b->component()), "heartd");
           EXPECT_EQ(Bytes(b->state()), state);
           ASSERT_NE(b->kv(), nullptr);
           std::map<std::string, std::vector<uint8_t>> kv;
           for (const auto* e : *b->kv()) kv[Str(e->key())] = Bytes(e->value());
           EXPECT_EQ(kv.size(), 2u);
           EXPECT_EQ(kv["alpha"], v1);
           EXPECT_TRUE(kv.count("beta") == 1 && kv["beta"].empty());
         });
  append(enc.SessionUpdate(77, Layer::heart, std::span<const uint8_t>(v1), kv_update),
         [&](const DecodedRecord& d) {
           ASSERT_EQ(d.kind, RecordKind::kSessionUpdate);
           const auto* b = d.record->body_as_SessionUpdate();
           ASSERT_NE(b, nullptr);
           EXPECT_EQ(b->session_id(), 77u);
           ASSERT_NE(b->state(), nullptr);
           EXPECT_EQ(Bytes(b->state()), v1);
           ASSERT_NE(b->kv(), nullptr);
           ASSERT_EQ(b->kv()->size(), 2u);
           bool saw_delete = false, saw_set = false;
           for (const auto* e : *b->kv()) {
             if (Str(e->key()) == "alpha") {
               saw_delete = true;
               EXPECT_EQ(e->value(), nullptr) << "a deleted key carries no value";
             } else if (Str(e->key()) == "gamma") {
               saw_set = true;
               EXPECT_EQ(Bytes(e->value()), state);
             }
           }
           EXPECT_TRUE(saw_delete && saw_set);
         });
  append(enc.SessionUpdate(78, Layer::heart, std::nullopt), [](const DecodedRecord& d) {
    ASSERT_EQ(d.kind, RecordKind::kSessionUpdate);
    const auto* b = d.record->body_as_SessionUpdate();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->session_id(), 78u);
    EXPECT_EQ(b->state(), nullptr) << "nullopt state must leave the field absent";
  });
  append(enc.SessionClose(77, Layer::heart), [](const DecodedRecord& d) {
    ASSERT_EQ(d.kind, RecordKind::kSessionClose);
    ASSERT_NE(d.record->body_as_SessionClose(), nullptr);
    EXPECT_EQ(d.record->body_as_SessionClose()->session_id(), 77u);
  });
  append(enc.EventPending(0xABCDEF, 77, Layer::heart, ev_payload), [&](const DecodedRecord& d) {
    ASSERT_EQ(d.kind, RecordKind::kEventPending);
    const auto* b = d.record->body_as_EventPending();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->event_id(), 0xABCDEFu);
    EXPECT_EQ(b->session_id(), 77u);
    EXPECT_EQ(Bytes(b->payload()), ev_payload);
  });
  append(enc.EventDone(0xABCDEF, 77, Layer::heart), [](const DecodedRecord& d) {
    ASSERT_EQ(d.kind, RecordKind::kEventDone);
    const auto* b = d.record->body_as_EventDone();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->event_id(), 0xABCDEFu);
    EXPECT_EQ(b->session_id(), 77u);
  });
  for (int s = 0; s <= static_cast<int>(ComponentState::MAX); ++s) {
    const auto st = static_cast<ComponentState>(s);
    append(enc.ComponentStatus(9 + s, "comp" + std::to_string(s), Layer::throat, st,
                               "why " + std::to_string(s)),
           [=](const DecodedRecord& d) {
             ASSERT_EQ(d.kind, RecordKind::kComponentStatus);
             const auto* b = d.record->body_as_ComponentStatus();
             ASSERT_NE(b, nullptr);
             EXPECT_EQ(b->component_id(), 9u + s);
             EXPECT_EQ(Str(b->component()), "comp" + std::to_string(s));
             EXPECT_EQ(b->layer(), Layer::throat);
             EXPECT_EQ(b->state(), st);
             EXPECT_EQ(Str(b->detail()), "why " + std::to_string(s));
           });
  }
  append(enc.ChakraDown(Layer::third_eye, "3 beats missed"), [](const DecodedRecord& d) {
    ASSERT_EQ(d.kind, RecordKind::kChakraDown);
    const auto* b = d.record->body_as_ChakraDown();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->layer(), Layer::third_eye);
    EXPECT_EQ(Str(b->reason()), "3 beats missed");
  });
  append(enc.ChakraUp(Layer::crown), [](const DecodedRecord& d) {
    ASSERT_EQ(d.kind, RecordKind::kChakraUp);
    ASSERT_NE(d.record->body_as_ChakraUp(), nullptr);
    EXPECT_EQ(d.record->body_as_ChakraUp()->layer(), Layer::crown);
  });
  append(enc.FailurePulse(Layer::sacral, "sacrald", "sigkill", 1500), [](const DecodedRecord& d) {
    ASSERT_EQ(d.kind, RecordKind::kFailurePulse);
    const auto* b = d.record->body_as_FailurePulse();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->layer(), Layer::sacral);
    EXPECT_EQ(Str(b->component()), "sacrald");
    EXPECT_EQ(Str(b->kind()), "sigkill");
    EXPECT_EQ(b->duration_ms(), 1500u);
  });
  ASSERT_TRUE(w->Close().ok());

  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_EQ(r.records.size(), appended.size());
  EXPECT_TRUE(LsnsDenseFrom(r.records));
  std::set<RecordKind> kinds_seen;
  for (const OwnedRecord& rec : r.records) {
    SCOPED_TRACE("lsn " + std::to_string(rec.lsn));
    EXPECT_EQ(rec, appended[rec.lsn]);
    auto d = DecodeRecord(rec.type, rec.payload);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    kinds_seen.insert(d->kind);
    checks[rec.lsn](*d);
  }
  EXPECT_EQ(kinds_seen.size(), static_cast<size_t>(kRecordKindCount));
}

TEST(LogRoundTripTest, RawPayloadsOfEverySizeRoundTripByteForByte) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto w = OpenWriter(SmallLogOptions(tmp.path(), Durability::kNone, 1u << 20));
  ASSERT_NE(w, nullptr);
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 600; ++n) sizes.push_back(n);
  for (size_t n :
       {1023, 1024, 1025, 4063, 4064, 4065, 4095, 4096, 4097, 8191, 8192, 12345, 65536, 100000}) {
    sizes.push_back(n);
  }
  std::vector<OwnedRecord> want;
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto payload = testing::PatternBytes(i, sizes[i]);
    const int64_t ts = static_cast<int64_t>(i) * 1'000'003 - 500'000'000;  // negative ones too
    auto lsn = w->Append(lf::kRecord, payload, ts);
    ASSERT_TRUE(lsn.ok()) << "size " << sizes[i] << ": " << lsn.status().ToString();
    ASSERT_EQ(*lsn, i + 1);
    want.push_back(OwnedRecord{*lsn, ts, lf::kRecord, payload});
  }
  ASSERT_TRUE(w->Close().ok());

  for (RecoveryMode mode :
       {RecoveryMode::kAbsoluteConsistency, RecoveryMode::kPointInTimeRecovery}) {
    auto r = ReadLog(tmp.path(), mode);
    ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
    ASSERT_EQ(r.records.size(), want.size()) << testing::Describe(r);
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(r.records[i], want[i]) << "payload size " << sizes[i];
    }
    EXPECT_EQ(r.report.stop, StopReason::kCleanEnd);
    EXPECT_TRUE(r.report.damages.empty()) << testing::Describe(r);
    EXPECT_EQ(r.report.records, want.size());
    EXPECT_EQ(r.report.first_lsn, 1u);
    EXPECT_EQ(r.report.last_lsn, want.size());
    uint64_t payload_bytes = 0, framed = 0;
    for (size_t n : sizes) {
      payload_bytes += n;
      framed += lf::RecordFootprint(n);
    }
    EXPECT_EQ(r.report.payload_bytes, payload_bytes);
    EXPECT_EQ(r.report.bytes_scanned, framed);
  }
}

TEST(LogRoundTripTest, ZeroTimestampMeansNowFromEnvClock) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto w = OpenWriter(SmallLogOptions(tmp.path()));
  ASSERT_NE(w, nullptr);
  const int64_t before = Env::Default()->NowUnixNanos();
  auto lsn = w->Append(lf::kRecord, testing::PatternBytes(1, 10));
  ASSERT_TRUE(lsn.ok());
  const int64_t after = Env::Default()->NowUnixNanos();
  ASSERT_TRUE(w->Close().ok());
  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_GE(r.records[0].timestamp_ns, before - 1'000'000'000);
  EXPECT_LE(r.records[0].timestamp_ns, after + 1'000'000'000);
}

TEST(LogRoundTripTest, SegmentRolloverNamesEveryFileByItsFirstLsn) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  constexpr uint64_t kSeg = 64u << 10;
  auto w = OpenWriter(SmallLogOptions(tmp.path(), Durability::kNone, kSeg));
  ASSERT_NE(w, nullptr);
  testing::RecordStream stream(42, 2000);
  std::vector<OwnedRecord> want;
  for (int i = 0; i < 3000; ++i) {
    auto item = stream.Next();
    auto lsn = w->Append(item.type, item.payload, 1000 + i);
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    want.push_back(OwnedRecord{*lsn, 1000 + i, item.type, item.payload});
  }
  const LogWriterStats st = w->stats();
  ASSERT_TRUE(w->Close().ok());
  EXPECT_TRUE(LsnsDenseFrom(want));
  uint64_t framed = 0;
  for (const auto& rec : want) framed += lf::RecordFootprint(rec.payload.size());
  EXPECT_EQ(st.appends, want.size());
  EXPECT_EQ(st.append_bytes, framed);

  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_TRUE(testing::SameRecords(r.records, want));

  const auto segs = testing::SegmentNames(tmp.path());
  ASSERT_GE(segs.size(), 8u) << "3000 records of up to 2 KiB must span many 64 KiB segments";
  ASSERT_EQ(r.report.segments.size(), segs.size());
  Lsn expect_first = 1;
  for (size_t i = 0; i < segs.size(); ++i) {
    SCOPED_TRACE(segs[i]);
    Lsn name_lsn = 0;
    ASSERT_TRUE(lf::ParseSegmentFileName(segs[i], &name_lsn));
    EXPECT_EQ(segs[i], lf::SegmentFileName(name_lsn));
    EXPECT_EQ(segs[i].size(), lf::kSegmentNameDigits + std::string(lf::kSegmentSuffix).size());
    EXPECT_EQ(name_lsn, expect_first) << "a segment is named by its first record's LSN";

    // The header agrees with the name and the record at 4096 carries that LSN.
    const auto bytes = testing::ReadFileBytes(tmp.Sub(segs[i]));
    ASSERT_GE(bytes.size(), lf::kSegmentHeaderBytes + lf::kRecordHeaderBytes);
    EXPECT_LE(bytes.size(), kSeg);
    EXPECT_EQ(std::memcmp(bytes.data(), lf::kMagic, 8), 0);
    EXPECT_EQ(lf::LoadU32(bytes.data() + lf::kHdrVersion), lf::kFormatVersion);
    EXPECT_EQ(lf::LoadU64(bytes.data() + lf::kHdrFirstLsn), name_lsn);
    EXPECT_EQ(lf::LoadU64(bytes.data() + lf::kHdrSegmentBytes), kSeg);
    lf::SegmentHeader hdr;
    std::string why;
    EXPECT_TRUE(lf::DecodeSegmentHeader(bytes.data(), bytes.size(), &hdr, &why)) << why;
    EXPECT_EQ(hdr.first_lsn, name_lsn);
    EXPECT_EQ(lf::LoadU64(bytes.data() + lf::kSegmentHeaderBytes + lf::kRecLsn), name_lsn);

    const SegmentSummary& s = r.report.segments[i];
    EXPECT_EQ(s.name, segs[i]);
    EXPECT_EQ(s.first_lsn, name_lsn);
    EXPECT_GT(s.records, 0u);
    EXPECT_EQ(s.last_lsn, name_lsn + s.records - 1);
    EXPECT_LE(s.end_offset, kSeg) << "a record never crosses the end of its segment";
    EXPECT_FALSE(s.damaged);
    EXPECT_TRUE(s.read);
    expect_first = s.last_lsn + 1;
  }
  EXPECT_EQ(expect_first, want.size() + 1);
  EXPECT_EQ(w->stats().segments_created, segs.size());
  // A segment is only abandoned when the next record does not fit: every
  // non-final segment is full to within one record of the largest size.
  for (size_t i = 0; i + 1 < r.report.segments.size(); ++i) {
    EXPECT_GT(r.report.segments[i].end_offset + lf::RecordFootprint(2000), kSeg)
        << r.report.segments[i].name << " rolled over early";
  }
}

TEST(LogRoundTripTest, ReopenContinuesLsnsAtLastPlusOneInANewSegment) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  std::vector<OwnedRecord> want;
  for (int session = 0; session < 4; ++session) {
    SCOPED_TRACE("session " + std::to_string(session));
    auto w = OpenWriter(SmallLogOptions(tmp.path(), Durability::kBatch));
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->last_lsn(), want.size());
    EXPECT_EQ(w->recovery_report().last_lsn, want.size());
    const auto segs_before = testing::SegmentNames(tmp.path());
    for (int i = 0; i < 50 + 10 * session; ++i) {
      const Lsn expect = want.size() + 1;
      auto payload = testing::PayloadForLsn(expect);
      auto lsn = w->Append(lf::kRecord, payload, static_cast<int64_t>(expect));
      ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
      ASSERT_EQ(*lsn, expect);
      want.push_back(OwnedRecord{*lsn, static_cast<int64_t>(expect), lf::kRecord, payload});
    }
    ASSERT_TRUE(w->Close().ok());
    w.reset();

    // The session's first record opened a new segment named after it; the
    // old segments are untouched.
    const auto segs = testing::SegmentNames(tmp.path());
    const Lsn first_of_session = want.size() - (50 + 10 * session) + 1;
    EXPECT_TRUE(std::find(segs.begin(), segs.end(), lf::SegmentFileName(first_of_session)) !=
                segs.end())
        << "no segment named " << lf::SegmentFileName(first_of_session);
    for (const auto& s : segs_before) {
      EXPECT_TRUE(std::find(segs.begin(), segs.end(), s) != segs.end()) << s << " disappeared";
    }
    auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
    ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
    ASSERT_TRUE(testing::SameRecords(r.records, want));
  }
}

TEST(LogRoundTripTest, ReopenWithoutAppendsKeepsLsnsDense) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  {
    auto w = OpenWriter(SmallLogOptions(tmp.path()));
    ASSERT_NE(w, nullptr);
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(w->Append(lf::kRecord, testing::PayloadForLsn(i + 1)).ok());
    ASSERT_TRUE(w->Close().ok());
  }
  // Two empty sessions in a row must not break the next one.
  for (int i = 0; i < 2; ++i) {
    auto w = OpenWriter(SmallLogOptions(tmp.path()));
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->last_lsn(), 5u);
    ASSERT_TRUE(w->Close().ok());
  }
  {
    auto w = OpenWriter(SmallLogOptions(tmp.path()));
    ASSERT_NE(w, nullptr);
    auto lsn = w->Append(lf::kRecord, testing::PayloadForLsn(6));
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    EXPECT_EQ(*lsn, 6u);
    ASSERT_TRUE(w->Close().ok());
  }
  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_EQ(r.records.size(), 6u);
  EXPECT_TRUE(LsnsDenseFrom(r.records));
  for (const auto& rec : r.records) EXPECT_EQ(rec.payload, testing::PayloadForLsn(rec.lsn));
}

TEST(LogRoundTripTest, ConcurrentProducersGetUniqueDenseLsnsAndIntactPayloads) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto opts = SmallLogOptions(tmp.path(), Durability::kBatch, 256u << 10);
  auto w = OpenWriter(opts);
  ASSERT_NE(w, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1500;
  std::vector<std::vector<OwnedRecord>> per_thread(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto payload = testing::PatternBytes((uint64_t(t) << 32) | uint64_t(i), (i * 37 + t) % 700);
        const int64_t ts = ((int64_t(t) << 40) | i) + 1;  // 0 would mean "now"
        Result<Lsn> lsn = (i % 50 == 49) ? w->AppendDurable(lf::kRecord, payload, ts)
                                         : w->Append(lf::kRecord, payload, ts);
        if (!lsn.ok()) {
          errors[t] = lsn.status().ToString();
          return;
        }
        per_thread[t].push_back(OwnedRecord{*lsn, ts, lf::kRecord, std::move(payload)});
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) ASSERT_EQ(errors[t], "") << "thread " << t;
  ASSERT_TRUE(w->Close().ok());

  std::map<Lsn, OwnedRecord> all;
  for (int t = 0; t < kThreads; ++t) {
    for (size_t i = 0; i < per_thread[t].size(); ++i) {
      if (i > 0) {
        EXPECT_LT(per_thread[t][i - 1].lsn, per_thread[t][i].lsn)
            << "one thread's appends get increasing LSNs";
      }
      EXPECT_TRUE(all.emplace(per_thread[t][i].lsn, per_thread[t][i]).second)
          << "LSN " << per_thread[t][i].lsn << " handed out twice";
    }
  }
  ASSERT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(all.begin()->first, 1u);
  EXPECT_EQ(all.rbegin()->first, all.size());

  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_EQ(r.records.size(), all.size());
  EXPECT_TRUE(LsnsDenseFrom(r.records));
  for (const auto& rec : r.records) ASSERT_EQ(rec, all[rec.lsn]);
}

// The smallest group-commit buffers with records of up to a third of one:
// producers block on full buffers, commits end at every possible offset
// within a block, and segments roll over often.
TEST(LogRoundTripTest, SmallBuffersAndLargeRecordsUnderConcurrencyRoundTrip) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  for (Durability d : {Durability::kBatch, Durability::kNone}) {
    SCOPED_TRACE(DurabilityName(d));
    const std::string dir = tmp.Sub(DurabilityName(d));
    auto opts = SmallLogOptions(dir, d, 256u << 10);
    opts.buffer_bytes = 64u << 10;
    auto w = OpenWriter(opts);
    ASSERT_NE(w, nullptr);
    constexpr int kThreads = 4, kPerThread = 250;
    std::mutex mu;
    std::map<Lsn, OwnedRecord> all;
    std::atomic<int> failures{0};
    uint64_t framed = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(t * 7919 + 1);
        for (int i = 0; i < kPerThread; ++i) {
          const size_t len = (rng() % 4 == 0) ? rng() % 21000 : rng() % 300;
          auto payload = testing::PatternBytes(rng(), len);
          const int64_t ts = int64_t(t) * 1000000 + i + 1;
          Result<Lsn> lsn = (i % 16 == 15) ? w->AppendDurable(lf::kRecord, payload, ts)
                                           : w->Append(lf::kRecord, payload, ts);
          if (!lsn.ok()) {
            ++failures;
            return;
          }
          std::lock_guard<std::mutex> l(mu);
          framed += lf::RecordFootprint(len);
          all[*lsn] = OwnedRecord{*lsn, ts, lf::kRecord, std::move(payload)};
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(failures.load(), 0) << w->status().ToString();
    const LogWriterStats st = w->stats();
    ASSERT_TRUE(w->Close().ok());
    EXPECT_EQ(st.appends, all.size());
    EXPECT_EQ(st.append_bytes, framed);
    auto r = ReadLog(dir, RecoveryMode::kAbsoluteConsistency);
    ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
    ASSERT_EQ(r.records.size(), all.size());
    EXPECT_TRUE(LsnsDenseFrom(r.records));
    for (const auto& rec : r.records) ASSERT_TRUE(rec == all[rec.lsn]) << rec;
    EXPECT_EQ(testing::SegmentNames(dir).size(), r.report.segments.size());
    EXPECT_GE(r.report.segments.size(), 3u);
  }
}

// "Safe on a directory a live writer is using (it then sees a prefix of the
// log)": readers racing two producers and segment rollovers always see a
// dense, intact prefix that includes everything acknowledged before they
// opened, and never a hole.
TEST(LogRoundTripTest, ReaderOnALiveLogSeesADenseIntactPrefix) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto w = OpenWriter(SmallLogOptions(tmp.path(), Durability::kNone, 64u << 10));
  ASSERT_NE(w, nullptr);
  std::mutex mu;  // makes the LSN predictable, so the payload can depend on it
  std::atomic<Lsn> acked{0};
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto produce = [&] {
    while (!stop.load()) {
      Lsn lsn;
      {
        std::lock_guard<std::mutex> l(mu);
        lsn = w->last_lsn() + 1;
        auto got = w->Append(lf::kRecord, testing::PayloadForLsn(lsn), static_cast<int64_t>(lsn));
        if (!got.ok() || *got != lsn) {
          ++failures;
          return;
        }
      }
      if (!w->WaitDurable(lsn).ok()) {
        ++failures;
        return;
      }
      Lsn prev = acked.load();
      while (prev < lsn && !acked.compare_exchange_weak(prev, lsn)) {
      }
    }
  };
  std::thread p1(produce), p2(produce);
  // Stops and joins the producers on every exit path, including a failed
  // ASSERT below (a joinable std::thread would terminate the process).
  struct Joiner {
    std::atomic<bool>* stop;
    std::thread* a;
    std::thread* b;
    ~Joiner() {
      stop->store(true);
      if (a->joinable()) a->join();
      if (b->joinable()) b->join();
    }
  } joiner{&stop, &p1, &p2};
  int reads = 0, in_flight_holes = 0;
  Lsn max_seen = 0;
  // Read until the producers have rolled over a few segments (a time bound
  // only guards against a stuck writer).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (; max_seen < 1500 && std::chrono::steady_clock::now() < deadline && !HasFailure(); ++reads) {
    const Lsn must_see = acked.load();
    auto r = ReadLog(tmp.path(), RecoveryMode::kPointInTimeRecovery);
    SCOPED_TRACE("read " + std::to_string(reads) + ": " + testing::Describe(r));
    ASSERT_TRUE(r.status.ok());
    ASSERT_TRUE(LsnsDenseFrom(r.records));
    for (const auto& rec : r.records) {
      ASSERT_EQ(rec.payload, testing::PayloadForLsn(rec.lsn)) << "LSN " << rec.lsn;
    }
    const Lsn last = r.records.empty() ? 0 : r.records.back().lsn;
    ASSERT_GE(last, must_see) << "an acknowledged record was invisible to a later reader";
    // A commit in flight may be visible in any block order, so its bytes
    // can read as a torn tail or even as a hole (kCorruption); but only
    // beyond everything acknowledged before the reader opened.
    for (const Damage& d : r.report.damages) {
      ASSERT_TRUE(d.kind == DamageKind::kTornTail || d.kind == DamageKind::kAbandonedTail ||
                  d.kind == DamageKind::kCorruption)
          << DescribeDamage(d);
      ASSERT_GE(d.last_good_lsn, must_see) << DescribeDamage(d);
      if (d.kind == DamageKind::kCorruption) ++in_flight_holes;
    }
    max_seen = std::max(max_seen, last);
  }
  stop = true;
  p1.join();
  p2.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(w->Close().ok());
  EXPECT_GE(max_seen, 1500u) << "the writer made too little progress in 20 s";
  EXPECT_GE(reads, 10) << "too few reads raced the writer";
  RecordProperty("reads", reads);
  RecordProperty("in_flight_holes", in_flight_holes);
  EXPECT_GE(testing::SegmentNames(tmp.path()).size(), 3u) << "no rollover during the race";
}

// Regression: a producer waiting for buffer space waited for `open_` to
// change; with two buffers the same one could be open again (empty) before
// it woke, and it slept forever while the flusher saw no work. Many
// producers, a 64 KiB buffer and large records make the buffer fill
// constantly; every producer must finish.
TEST(LogRoundTripTest, ProducersBlockedOnAFullBufferAlwaysResume) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto opts = SmallLogOptions(tmp.path(), Durability::kNone, 4u << 20);
  opts.buffer_bytes = 64u << 10;
  auto w = LogWriter::Open(opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto payload = testing::PatternBytes(uint64_t(t), 1000 + 2000 * (t % 4));
      for (int i = 0; i < kPerThread; ++i) {
        if (!(*w)->Append(lf::kRecord, payload).ok()) ++failures;
      }
      std::lock_guard<std::mutex> l(mu);
      ++finished;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    if (!cv.wait_for(l, std::chrono::seconds(60), [&] { return finished == kThreads; })) {
      ADD_FAILURE() << finished << " of " << kThreads << " producers finished in 60 s: hung";
      std::_Exit(1);  // the hung threads cannot be joined
    }
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT((*w)->stats().producer_waits, 0u) << "the buffer never filled: the test proves nothing";
  ASSERT_TRUE((*w)->Close().ok());
  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  EXPECT_EQ(r.records.size(), size_t{kThreads * kPerThread});
}

class DurabilityModeTest : public ::testing::TestWithParam<Durability> {};

TEST_P(DurabilityModeTest, AppendedRecordsRoundTripAndAreAcknowledged) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto opts = SmallLogOptions(tmp.path(), GetParam(), 128u << 10);
  opts.interval_ms = 20;
  auto w = OpenWriter(opts);
  ASSERT_NE(w, nullptr);
  testing::RecordStream stream(7 + static_cast<int>(GetParam()));
  std::vector<OwnedRecord> want;
  for (int i = 0; i < 800; ++i) {
    auto item = stream.Next();
    Result<Lsn> lsn = (i % 100 == 0) ? w->AppendDurable(item.type, item.payload, i + 1)
                                     : w->Append(item.type, item.payload, i + 1);
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    want.push_back(OwnedRecord{*lsn, i + 1, item.type, item.payload});
  }
  const Lsn last = want.back().lsn;
  ASSERT_TRUE(w->WaitDurable(last).ok());
  EXPECT_GE(w->written_lsn(), last);
  if (GetParam() == Durability::kBatch) {
    EXPECT_GE(w->synced_lsn(), last);
  }
  EXPECT_LE(w->synced_lsn(), w->written_lsn());
  EXPECT_LE(w->written_lsn(), w->last_lsn());
  EXPECT_EQ(w->last_lsn(), last);
  EXPECT_EQ(w->stats().appends, want.size());
  ASSERT_TRUE(w->Close().ok());

  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_TRUE(testing::SameRecords(r.records, want));
}

TEST_P(DurabilityModeTest, SyncMakesEverythingAppendedDurable) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto opts = SmallLogOptions(tmp.path(), GetParam());
  opts.interval_ms = 60'000;  // the interval flush must not be what syncs here
  auto w = OpenWriter(opts);
  ASSERT_NE(w, nullptr);
  Lsn last = 0;
  for (int i = 0; i < 100; ++i) {
    auto lsn = w->Append(lf::kRecord, testing::PayloadForLsn(i + 1));
    ASSERT_TRUE(lsn.ok());
    last = *lsn;
  }
  const uint64_t syncs_before = w->stats().syncs;
  ASSERT_TRUE(w->Sync().ok());
  EXPECT_GE(w->synced_lsn(), last);
  EXPECT_GE(w->written_lsn(), last);
  EXPECT_GT(w->stats().syncs, syncs_before);
  ASSERT_TRUE(w->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(AllModes, DurabilityModeTest,
                         ::testing::Values(Durability::kNone, Durability::kBatch,
                                           Durability::kInterval),
                         [](const auto& info) { return std::string(DurabilityName(info.param)); });

TEST(LogRoundTripTest, IntervalModeSyncsWithinTheIntervalWithoutBeingAsked) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto opts = SmallLogOptions(tmp.path(), Durability::kInterval);
  opts.interval_ms = 20;
  auto w = OpenWriter(opts);
  ASSERT_NE(w, nullptr);
  auto lsn = w->Append(lf::kRecord, testing::PayloadForLsn(1));
  ASSERT_TRUE(lsn.ok());
  ASSERT_TRUE(w->WaitDurable(*lsn).ok());
  EXPECT_GE(w->written_lsn(), *lsn);
  // Bounded poll: the interval is 20 ms; allow generous scheduling slack.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (w->synced_lsn() < *lsn && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(w->synced_lsn(), *lsn) << "no fdatasync within 10 s with interval_ms = 20";
  ASSERT_TRUE(w->Close().ok());
}

TEST(LogRoundTripTest, BatchModeAcknowledgesOnlyAfterSync) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto w = OpenWriter(SmallLogOptions(tmp.path(), Durability::kBatch));
  ASSERT_NE(w, nullptr);
  for (int i = 0; i < 50; ++i) {
    auto lsn = w->AppendDurable(lf::kRecord, testing::PayloadForLsn(i + 1));
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    EXPECT_EQ(*lsn, Lsn(i + 1));
    EXPECT_GE(w->synced_lsn(), *lsn) << "batch acknowledgement before the sync";
    EXPECT_GE(w->written_lsn(), *lsn);
    EXPECT_TRUE(w->status().ok());
  }
  const auto st = w->stats();
  EXPECT_EQ(st.appends, 50u);
  EXPECT_GE(st.syncs, 1u);
  EXPECT_GE(st.commits, 1u);
  EXPECT_LE(st.commits, 50u) << "at most one commit per durable append";
  ASSERT_TRUE(w->Close().ok());
}

TEST(LogRoundTripTest, NoneModeAcknowledgesOnceWrittenToTheKernel) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto w = OpenWriter(SmallLogOptions(tmp.path(), Durability::kNone));
  ASSERT_NE(w, nullptr);
  auto lsn = w->AppendDurable(lf::kRecord, testing::PayloadForLsn(1));
  ASSERT_TRUE(lsn.ok());
  EXPECT_GE(w->written_lsn(), *lsn);
  // Another process (or reader) sees the acknowledged record now, before Close.
  auto r = ReadLog(tmp.path(), RecoveryMode::kPointInTimeRecovery);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_GE(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].payload, testing::PayloadForLsn(1));
  ASSERT_TRUE(w->Close().ok());
}

TEST(LogRoundTripTest, InvalidArgumentsAreRejectedWithoutLatchingTheWriter) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  constexpr uint64_t kSeg = 64u << 10;
  auto w = OpenWriter(SmallLogOptions(tmp.path(), Durability::kBatch, kSeg));
  ASSERT_NE(w, nullptr);
  const auto ok_payload = testing::PatternBytes(1, 10);
  ASSERT_TRUE(w->AppendDurable(lf::kRecord, ok_payload).ok());

  auto type0 = w->Append(lf::kNone, ok_payload);
  ASSERT_FALSE(type0.ok());
  EXPECT_TRUE(type0.status().IsInvalidArgument()) << type0.status().ToString();

  std::vector<uint8_t> too_big(lf::kMaxPayloadBytes + 1, 0x5A);
  auto big = w->Append(lf::kRecord, too_big);
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(big.status().IsInvalidArgument()) << big.status().ToString();

  // The largest record an empty 64 KiB segment holds, and one byte more.
  const size_t fits = kSeg - lf::kSegmentHeaderBytes - lf::kRecordHeaderBytes;
  std::vector<uint8_t> over(fits + 1, 0x11);
  auto seg_big = w->AppendDurable(lf::kRecord, over);
  ASSERT_FALSE(seg_big.ok());
  EXPECT_TRUE(seg_big.status().IsInvalidArgument()) << seg_big.status().ToString();

  EXPECT_TRUE(w->status().ok()) << "a rejected argument must not latch: " << w->status().ToString();
  EXPECT_EQ(w->last_lsn(), 1u) << "rejected appends consume no LSN";

  const auto exact = testing::PatternBytes(2, fits);
  auto lsn2 = w->AppendDurable(lf::kRecord, exact);
  ASSERT_TRUE(lsn2.ok()) << "a record that exactly fills an empty segment is valid: "
                         << lsn2.status().ToString();
  EXPECT_EQ(*lsn2, 2u);
  auto lsn3 = w->AppendDurable(lf::kRecord, ok_payload);
  ASSERT_TRUE(lsn3.ok()) << lsn3.status().ToString();
  EXPECT_EQ(*lsn3, 3u);
  ASSERT_TRUE(w->Close().ok());

  auto r = ReadLog(tmp.path(), RecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_TRUE(LsnsDenseFrom(r.records));
  EXPECT_EQ(r.records[1].payload, exact);
  EXPECT_EQ(testing::SegmentNames(tmp.path()).size(), 3u)
      << "the full-segment record sits alone in segment 2, LSN 3 starts segment 3";
}

TEST(LogRoundTripTest, OpenRejectsInvalidSegmentSizes) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  for (uint64_t seg :
       {uint64_t{0}, uint64_t{60} << 10, (uint64_t{64} << 10) + 512, (uint64_t{1} << 30) + 4096}) {
    auto o = SmallLogOptions(tmp.Sub("log"), Durability::kNone, seg);
    auto w = LogWriter::Open(o);
    EXPECT_FALSE(w.ok()) << "segment_bytes " << seg << " accepted";
    if (!w.ok()) {
      EXPECT_TRUE(w.status().IsInvalidArgument()) << w.status().ToString();
    }
  }
}

// With direct I/O a commit writes its last block whole: a buffer that is
// not a whole number of blocks would be written (and zero-padded) past its
// end. Such sizes are refused at open.
TEST(LogRoundTripTest, BufferSizeThatIsNotAWholeNumberOfBlocksIsRefused) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  for (uint32_t buf : {(64u << 10) + 1, (64u << 10) + 2048, (1u << 20) - 8}) {
    auto o = SmallLogOptions(tmp.Sub("log"), Durability::kNone);
    o.buffer_bytes = buf;
    auto w = LogWriter::Open(o);
    EXPECT_FALSE(w.ok()) << "buffer_bytes " << buf << " accepted";
    if (!w.ok()) {
      EXPECT_TRUE(w.status().IsInvalidArgument()) << w.status().ToString();
      EXPECT_NE(w.status().message().find("multiple of 4096"), std::string::npos)
          << w.status().ToString();
    }
  }
  auto o = SmallLogOptions(tmp.Sub("log"), Durability::kNone);
  o.buffer_bytes = (64u << 10) + 4096;
  auto w = LogWriter::Open(o);
  EXPECT_TRUE(w.ok()) << "a whole number of blocks is fine: " << w.status().ToString();
}

TEST(LogRoundTripTest, SkippableUnknownTypesAreSkippedAndCounted) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto w = OpenWriter(SmallLogOptions(tmp.path()));
  ASSERT_NE(w, nullptr);
  std::vector<OwnedRecord> known;
  uint64_t skippable = 0;
  for (int i = 0; i < 60; ++i) {
    const uint16_t type = (i % 3 == 1) ? uint16_t(0x8000 + i) : uint16_t{lf::kRecord};
    auto payload = testing::PatternBytes(i, i * 5);
    auto lsn = w->Append(type, payload, i + 1);
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    if (lf::IsSkippableType(type)) {
      ++skippable;
    } else {
      known.push_back(OwnedRecord{*lsn, i + 1, type, payload});
    }
  }
  ASSERT_TRUE(w->Close().ok());
  for (RecoveryMode mode :
       {RecoveryMode::kAbsoluteConsistency, RecoveryMode::kPointInTimeRecovery,
        RecoveryMode::kTolerateCorruptedTailRecords, RecoveryMode::kSkipAnyCorruptedRecords}) {
    SCOPED_TRACE(RecoveryModeName(mode));
    auto r = ReadLog(tmp.path(), mode);
    ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
    EXPECT_TRUE(testing::SameRecords(r.records, known));
    EXPECT_EQ(r.report.skipped_unknown, skippable);
    EXPECT_EQ(r.report.records, 60u);
    EXPECT_EQ(r.report.last_lsn, 60u);
    EXPECT_TRUE(r.report.damages.empty()) << testing::Describe(r);
  }
}

TEST(LogRoundTripTest, UnknownMandatoryTypeStopsPointInTimeAndFailsStrictModes) {
  RAZAR_SKIP_WITHOUT_URING();
  TempDir tmp;
  auto w = OpenWriter(SmallLogOptions(tmp.path()));
  ASSERT_NE(w, nullptr);
  for (int i = 0; i < 10; ++i) {
    const uint16_t type =
        (i == 5) ? uint16_t{3} : uint16_t{lf::kRecord};  // LSN 6: unknown mandatory type
    ASSERT_TRUE(w->Append(type, testing::PayloadForLsn(i + 1), i + 1).ok());
  }
  ASSERT_TRUE(w->Close().ok());

  auto pit = ReadLog(tmp.path(), RecoveryMode::kPointInTimeRecovery);
  ASSERT_TRUE(pit.status.ok()) << testing::Describe(pit);
  ASSERT_EQ(pit.records.size(), 5u) << testing::Describe(pit);
  EXPECT_EQ(pit.report.stop, StopReason::kDamage);
  ASSERT_FALSE(pit.report.damages.empty());
  EXPECT_EQ(pit.report.damages.back().kind, DamageKind::kUnsupportedType);
  EXPECT_EQ(pit.report.damages.back().last_good_lsn, 5u);

  for (RecoveryMode mode :
       {RecoveryMode::kAbsoluteConsistency, RecoveryMode::kTolerateCorruptedTailRecords}) {
    auto r = ReadLog(tmp.path(), mode);
    EXPECT_FALSE(r.status.ok()) << RecoveryModeName(mode) << ": " << testing::Describe(r);
    EXPECT_LE(r.records.size(), 5u);
    EXPECT_EQ(r.report.stop, StopReason::kError);
  }

  auto skip = ReadLog(tmp.path(), RecoveryMode::kSkipAnyCorruptedRecords);
  ASSERT_TRUE(skip.status.ok()) << testing::Describe(skip);
  ASSERT_EQ(skip.records.size(), 9u) << "the unsupported record is skipped by its length";
  for (const auto& rec : skip.records) {
    EXPECT_NE(rec.lsn, 6u);
    EXPECT_EQ(rec.payload, testing::PayloadForLsn(rec.lsn));
  }
}

TEST(LogReaderBasicsTest, MissingDirectoryIsNotFound) {
  TempDir tmp;
  auto r = ReadLog(tmp.Sub("nope"), RecoveryMode::kPointInTimeRecovery);
  EXPECT_TRUE(r.open_status.IsNotFound()) << r.open_status.ToString();
}

TEST(LogReaderBasicsTest, EmptyDirectoryIsACleanEmptyLog) {
  TempDir tmp;
  testing::WriteFileBytes(tmp.Sub("README"), {1, 2, 3});  // not a segment name: ignored
  testing::WriteFileBytes(tmp.Sub("spare-1.hblog.tmp"), std::vector<uint8_t>(4096, 0x77));
  for (RecoveryMode mode :
       {RecoveryMode::kAbsoluteConsistency, RecoveryMode::kPointInTimeRecovery}) {
    auto r = ReadLog(tmp.path(), mode);
    ASSERT_TRUE(r.status.ok()) << testing::Describe(r);
    EXPECT_TRUE(r.records.empty());
    EXPECT_EQ(r.report.stop, StopReason::kCleanEnd);
    EXPECT_EQ(r.report.last_lsn, 0u);
    EXPECT_TRUE(r.report.damages.empty());
  }
}

TEST(LogReaderBasicsTest, ParsesRecoveryModeAndDurabilityNames) {
  for (RecoveryMode m :
       {RecoveryMode::kTolerateCorruptedTailRecords, RecoveryMode::kAbsoluteConsistency,
        RecoveryMode::kPointInTimeRecovery, RecoveryMode::kSkipAnyCorruptedRecords}) {
    auto parsed = ParseRecoveryMode(RecoveryModeName(m));
    ASSERT_TRUE(parsed.ok()) << RecoveryModeName(m);
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_FALSE(ParseRecoveryMode("bogus").ok());
  for (Durability d : {Durability::kNone, Durability::kBatch, Durability::kInterval}) {
    auto parsed = ParseDurability(DurabilityName(d));
    ASSERT_TRUE(parsed.ok()) << DurabilityName(d);
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_FALSE(ParseDurability("sometimes").ok());
}

TEST(LogFormatTest, SegmentFileNamesRoundTrip) {
  EXPECT_EQ(log_format::SegmentFileName(1), "00000000000000000001.hblog");
  EXPECT_EQ(log_format::SegmentFileName(131073), "00000000000000131073.hblog");
  Lsn lsn = 0;
  EXPECT_TRUE(log_format::ParseSegmentFileName("00000000000000131073.hblog", &lsn));
  EXPECT_EQ(lsn, 131073u);
  EXPECT_TRUE(log_format::ParseSegmentFileName(log_format::SegmentFileName(UINT64_MAX), &lsn));
  EXPECT_EQ(lsn, UINT64_MAX);
  for (const char* bad : {"spare-1.hblog.tmp", "1.hblog", "0000000000000000001.hblog",
                          "000000000000000000001.hblog", "0000000000000000000x.hblog",
                          "00000000000000000001.hblog.tmp", "00000000000000000001.log", ""}) {
    EXPECT_FALSE(log_format::ParseSegmentFileName(bad, &lsn)) << bad;
  }
}

TEST(LogFormatTest, EncodedRecordVerifiesOnlyWithItsSegmentSeed) {
  const auto payload = testing::PatternBytes(3, 13);
  std::vector<uint8_t> image(lf::kSegmentHeaderBytes + lf::RecordFootprint(payload.size()), 0);
  const uint64_t fp = lf::EncodeRecord(image.data() + lf::kSegmentHeaderBytes, lf::kBeat, 7, -42,
                                       payload.data(), payload.size(), 7);
  EXPECT_EQ(fp, lf::RecordFootprint(13));
  const uint8_t* rec = image.data() + lf::kSegmentHeaderBytes;
  EXPECT_EQ(lf::LoadU32(rec + lf::kRecLength), 13u);
  EXPECT_EQ(lf::LoadU16(rec + lf::kRecType), lf::kBeat);
  EXPECT_EQ(lf::LoadU16(rec + lf::kRecFlags), 0u);
  EXPECT_EQ(lf::LoadU64(rec + lf::kRecLsn), 7u);
  EXPECT_EQ(static_cast<int64_t>(lf::LoadU64(rec + lf::kRecTimestamp)), -42);
  EXPECT_EQ(lf::LoadU64(rec + lf::kRecChecksum), lf::RecordChecksum(rec, 13, 7));
  for (uint64_t i = lf::kRecordHeaderBytes + 13; i < fp; ++i) EXPECT_EQ(rec[i], 0) << "padding";

  RecordView view;
  uint64_t footprint = 0;
  ASSERT_TRUE(
      VerifyRecordAt(image.data(), image.size(), lf::kSegmentHeaderBytes, 7, &view, &footprint));
  EXPECT_EQ(footprint, fp);
  EXPECT_EQ(view.lsn, 7u);
  EXPECT_EQ(view.timestamp_ns, -42);
  EXPECT_EQ(std::vector<uint8_t>(view.payload.begin(), view.payload.end()), payload);
  EXPECT_FALSE(
      VerifyRecordAt(image.data(), image.size(), lf::kSegmentHeaderBytes, 8, &view, &footprint))
      << "the checksum is seeded with the segment's first LSN";
  // A record cut short by the end of the image does not verify.
  EXPECT_FALSE(VerifyRecordAt(image.data(), lf::kSegmentHeaderBytes + 32 + 12,
                              lf::kSegmentHeaderBytes, 7, &view, &footprint));
  EXPECT_TRUE(VerifyRecordAt(image.data(), lf::kSegmentHeaderBytes + 32 + 13,
                             lf::kSegmentHeaderBytes, 7, &view, &footprint))
      << "padding is not needed for a record to verify";
}

TEST(LogFormatTest, SegmentHeaderRoundTripsAndRejectsDamage) {
  std::vector<uint8_t> hdr(lf::kSegmentHeaderBytes, 0xEE);
  lf::EncodeSegmentHeader(hdr.data(), 131073, 64u << 20, 123456789, lf::kSegFlagSyncedCommits);
  EXPECT_EQ(std::memcmp(hdr.data(), "RAZARLOG", 8), 0);
  EXPECT_EQ(lf::LoadU32(hdr.data() + lf::kHdrHeaderBytes), 4096u);
  EXPECT_EQ(lf::LoadU32(hdr.data() + lf::kHdrBlockBytes), 4096u);
  EXPECT_EQ(lf::LoadU32(hdr.data() + lf::kHdrFlags), lf::kSegFlagSyncedCommits);
  for (size_t i = lf::kHdrUsedBytes; i < hdr.size(); ++i) ASSERT_EQ(hdr[i], 0) << "reserved " << i;
  lf::SegmentHeader h;
  std::string why;
  ASSERT_TRUE(lf::DecodeSegmentHeader(hdr.data(), hdr.size(), &h, &why)) << why;
  EXPECT_EQ(h.first_lsn, 131073u);
  EXPECT_EQ(h.segment_bytes, 64u << 20);
  EXPECT_EQ(h.created_unix_ns, 123456789);
  EXPECT_EQ(h.flags, lf::kSegFlagSyncedCommits);
  for (size_t byte = 0; byte < lf::kHdrUsedBytes; ++byte) {
    auto bad = hdr;
    bad[byte] ^= 0x01;
    EXPECT_FALSE(lf::DecodeSegmentHeader(bad.data(), bad.size(), &h, &why)) << "byte " << byte;
  }
  EXPECT_FALSE(lf::DecodeSegmentHeader(hdr.data(), 40, &h, &why))
      << "header cut before its checksum";
}

}  // namespace
}  // namespace razar::storage
