// The process-wide cap on the peer segments libshmport maps, across all
// ports: what stops many ports' peers from driving this process to
// vm.max_map_count (after which mmap, and even std::thread, fail).
#ifndef SHMPORT_CLIENT_PEER_MAPPING_BUDGET_H_
#define SHMPORT_CLIENT_PEER_MAPPING_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/segment.h"
#include "common/unique_fd.h"

namespace shmport {

// Each peer segment costs this process two mappings (the read-write header
// and the read-only data area). The default, 4096 segments = 8192 mappings,
// stays well under a quarter of the kernel's default vm.max_map_count
// (65530), leaving the rest to the application, its threads and malloc.
inline constexpr uint32_t kDefaultMaxPeerSegmentsPerProcess = 4096;

// Sets the cap (>= 1) for segments mapped from now on; segments already
// mapped stay. Thread-safe.
void SetMaxPeerSegmentsPerProcess(uint32_t max_segments);
uint32_t MaxPeerSegmentsPerProcess();
// Peer segments mapped right now by every port of this process (including
// those kept alive only by Messages).
uint32_t PeerSegmentsMapped();

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
