// The heartbeat round trip: several producer threads append a realistic
// stream of records (beats dominate; sessions, events, status changes,
// chakra transitions and failure pulses mixed in), the log is closed,
// reopened and recovered, and what was written is compared with what was
// read back — per kind counts and an order-independent digest of every
// (LSN, type, payload). This is the main job until the orchestrator exists
// and the quickest end-to-end check of a machine's log performance.
//
// Test support: part of razar_storage_testing (razar-beat's round trip is a
// test of the log that the main job runs), not of the production library.
//
// Thread safety: RunRoundTrip is re-entrant; it owns every object it makes.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "storage/env.h"
#include "storage/log_reader.h"
#include "storage/log_writer.h"
#include "storage/record_codec.h"
#include "storage/status.h"

namespace razar::storage {

struct RoundTripOptions {
  Env* env = nullptr;         // default: Env::Default()
  std::string dir;            // log directory (required)
  bool fresh = false;         // delete existing *.hblog segments in dir first
  int producers = 4;          // producer threads
  uint64_t records = 400000;  // total records across producers
  Durability durability = Durability::kBatch;
  uint64_t segment_bytes = log_format::kDefaultSegmentBytes;
  // Each producer waits for durability after every `window` appends
  // (a pipelined producer); 1 = every append is acknowledged before the next.
  uint32_t window = 64;
  uint64_t seed = 1;  // for the record mix
};

struct RoundTripSide {
  uint64_t records = 0;
  uint64_t bytes = 0;  // framed bytes
  double seconds = 0;
  std::array<uint64_t, kRecordKindCount> per_kind{};
  uint64_t digest = 0;  // sum of XXH3-64 over (lsn, type, payload)
  Lsn first_lsn = 0, last_lsn = 0;
};

struct RoundTripReport {
  RoundTripSide written;
  RoundTripSide recovered;
  LogWriterStats writer_stats;
  ReadReport read_report;
  bool match = false;  // counts, kinds and digest equal
};

Result<RoundTripReport> RunRoundTrip(const RoundTripOptions& options);

}  // namespace razar::storage
