// How the process-wide cap of <shmport/peer_mapping_budget.h> is kept:
// every peer segment a port maps is counted here.
#ifndef SHMPORT_CLIENT_PEER_MAPPING_BUDGET_H_
#define SHMPORT_CLIENT_PEER_MAPPING_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/segment.h"
#include "shmport/peer_mapping_budget.h"
#include "shmport/unique_fd.h"

namespace shmport {

namespace internal {

// Segment::Open counted against the process-wide cap and against
// `port_limit` on `port_count` (one port's peer segments still mapped,
// also those only its Messages keep). RESOURCE_EXHAUSTED naming the cap
// when this process already maps that many peer segments; INVALID_ARGUMENT
// (the peer's fault) when the port's peer has `port_limit` mapped already.
// *over_cap tells the cap's refusal from other RESOURCE_EXHAUSTED errors
// (mmap failing). `fd` is closed on failure. Both counts drop when the last
// reference to the segment goes.
absl::StatusOr<std::shared_ptr<Segment>> OpenCountedPeerSegment(
    UniqueFd fd, const Segment::Expectation& expect,
    std::shared_ptr<std::atomic<uint32_t>> port_count, uint32_t port_limit,
    bool* over_cap);

}  // namespace internal
}  // namespace shmport

#endif  // SHMPORT_CLIENT_PEER_MAPPING_BUDGET_H_
