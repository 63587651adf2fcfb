// MemcpyReference: the speed at which one core of this machine copies a
// payload from one buffer to another, measured in the same run as the
// transports: the physical reference for "moved the bytes once" (a copy
// reads every byte once and writes it once, like a sender filling a
// payload plus a receiver reading it).
#ifndef SHMPORT_BENCH_MEMCPY_REFERENCE_H_
#define SHMPORT_BENCH_MEMCPY_REFERENCE_H_

#include <cstddef>

#include "absl/time/time.h"
#include "bench/cell_runner.h"

namespace shmport::bench {

// Copies a `payload_bytes` buffer into another, again and again, for
// `duration` (after as long a warm-up), in this process. msgs_per_s counts
// copies, gbytes_per_s bytes copied.
CellMeasurement MeasureMemcpy(size_t payload_bytes, absl::Duration warmup,
                              absl::Duration duration);

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_MEMCPY_REFERENCE_H_
