// Comparison: the whole side-by-side run — every transport x payload x
// mode cell, repeated, interleaved, and reduced to medians.
#ifndef SHMPORT_BENCH_COMPARISON_H_
#define SHMPORT_BENCH_COMPARISON_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bench/cell_runner.h"
#include "bench/transport.h"
#include "bench/workload.h"

namespace shmport::bench {

// The name of the memcpy reference rows.
inline constexpr char kMemcpyName[] = "memcpy";
// The name of the shared-memory handoff reference (handoff_transport.h).
inline constexpr char kHandoffName[] = "handoff";

const char* ModeName(Mode mode);

// The median of a cell's repetitions, with the smallest and largest.
struct Spread {
  double median = 0;
  double min = 0;
  double max = 0;
};

// Reduces values (any order, at least one) to median, min and max; the
// median of an even count is the mean of the middle two.
Spread SpreadOf(std::vector<double> values);

struct CellSummary {
  std::string transport;  // shmport, ..., grpc, handoff, memcpy
  Mode mode = Mode::kThroughput;
  Touch touch = Touch::kAll;
  size_t payload_bytes = 0;
  int reps = 0;
  Spread msgs_per_s;
  Spread gbytes_per_s;
  Spread p50_us;         // ping-pong only (round trip)
  Spread p99_us;         // ping-pong only
  Spread p999_us;        // ping-pong only
  uint64_t samples = 0;  // measured messages or round trips, all reps
};

CellSummary SummariseCell(const std::string& transport, Mode mode, Touch touch,
                          size_t payload_bytes,
                          const std::vector<CellMeasurement>& reps);

struct ComparisonPlan {
  std::vector<std::shared_ptr<const Transport>> transports;
  std::vector<size_t> payloads;
  std::vector<Mode> modes = {Mode::kThroughput, Mode::kPingPong};
  // Each cell runs once per touch level (payload.h); memcpy only with
  // Touch::kAll (it copies whole payloads).
  std::vector<Touch> touches = {Touch::kAll};
  int reps = 3;
  // Timing of every cell; payload_bytes is set per cell.
  WorkloadConfig timing;
  // Also measure memcpy per payload (a "memcpy" throughput row).
  bool memcpy = true;
  // Told one line per finished cell, when set.
  std::function<void(absl::string_view)> progress;
};

// Runs every (rep, payload, touch, mode, transport) cell in that nesting
// order,
// rotating the transport order each repetition so that drift and
// ordering effects hit every transport alike. A transport that does not
// support a mode is skipped for it. The first failing cell (a checksum
// mismatch included) fails the whole run. Summaries come ordered by touch,
// mode, payload, then the plan's transport order (memcpy last).
absl::StatusOr<std::vector<CellSummary>> RunComparison(
    const ComparisonPlan& plan);

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_COMPARISON_H_
