// HandoffTransport ("handoff"): the ceiling for any shared-memory transport
// between two processes, measured in the same run. The sender writes each
// payload straight into memory both processes map, the receiver reads it
// there, and one flag per slot (its own cache line, busy-polled) says whose
// turn it is. Nothing else: no allocator, no ring of descriptors, no
// validation, no wake-up. What it measures is the workload's own Fill and
// Read plus moving the payload's cache lines from one core to the other,
// i.e. what a perfect zero-copy transport would still cost.
//
// Each direction is a ring of slots, so the sender can fill the next slot
// while the receiver reads the last (as shmport's sender fills a new buffer
// while the receiver reads the previous one): kHandoffBudgetBytes of slots,
// between 2 and kMaxHandoffSlots of them.
#ifndef SHMPORT_BENCH_HANDOFF_TRANSPORT_H_
#define SHMPORT_BENCH_HANDOFF_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "bench/transport.h"

namespace shmport::bench {

// The slots of one direction take about this much memory (one shmport
// segment's data area with the default geometry).
inline constexpr size_t kHandoffBudgetBytes = size_t{16} << 20;
inline constexpr size_t kMaxHandoffSlots = 256;

// Slots per direction for a payload size.
size_t HandoffSlots(size_t payload_bytes);

class HandoffTransport : public Transport {
 public:
  std::string name() const override { return "handoff"; }
  absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const override;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_HANDOFF_TRANSPORT_H_
