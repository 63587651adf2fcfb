// Report: the comparison's results as JSON (for machines) and as Markdown
// tables (for people; also what the terminal shows).
#ifndef SHMPORT_BENCH_REPORT_H_
#define SHMPORT_BENCH_REPORT_H_

#include <string>
#include <vector>

#include "bench/comparison.h"

namespace shmport::bench {

// One JSON array, one object per cell:
//   {"transport", "mode", "touch", "payload_bytes", "msgs_per_s",
//    "gbytes_per_s",
//    "p50_us", "p99_us", "p999_us", "reps", "samples",
//    "<metric>_min", "<metric>_max" for each metric above}
// Values are medians over reps. Ping-pong latencies are round trips;
// its msgs_per_s counts round trips and gbytes_per_s both directions.
// Throughput cells have null latencies (not measured). "touch" is "all"
// (every payload byte written and read) or "none" (the header only).
std::string FormatJson(const std::vector<CellSummary>& cells);

// Markdown, per touch level: a throughput table (GB/s and msgs/s,
// shmport/other ratios, the fractions of memcpy and of handoff), a
// ping-pong table (round-trip p50/p99, ratios); then every cell with its
// min/max. touch=none tables say so in their heading.
std::string FormatTables(const std::vector<CellSummary>& cells);

// "64 B", "16 KiB", "8 MiB".
std::string FormatPayload(size_t bytes);

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_REPORT_H_
