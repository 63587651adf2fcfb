// CellRunner: one measurement of one (transport, mode, payload) cell, in
// two fresh processes.
#ifndef SHMPORT_BENCH_CELL_RUNNER_H_
#define SHMPORT_BENCH_CELL_RUNNER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "bench/transport.h"
#include "bench/workload.h"

namespace shmport::bench {

// What one repetition of a cell measured.
struct CellMeasurement {
  // Throughput: messages per second one way. Ping-pong: round trips per
  // second (each moves the payload twice).
  double msgs_per_s = 0;
  // Payload bytes moved per second, in 1e9 bytes (both ways for ping-pong).
  double gbytes_per_s = 0;
  // Ping-pong only: round-trip time percentiles; 0 for throughput.
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
  uint64_t messages = 0;  // measured messages or round trips
  double seconds = 0;     // the measured window
};

// Connects `transport` in this process, forks the sender and the receiver,
// runs `mode`'s workload in them, and collects their reports. Both children
// are gone when it returns. Errors: a child's own error (DATA_LOSS for a
// checksum mismatch), a child that died without reporting, or
// DEADLINE_EXCEEDED if the cell overran its deadline (children killed).
// The calling process must be single-threaded.
absl::StatusOr<CellMeasurement> RunCell(const Transport& transport, Mode mode,
                                        const WorkloadConfig& config);

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_CELL_RUNNER_H_
