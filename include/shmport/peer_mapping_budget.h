// The process-wide cap on the peer segments libshmport maps, across all
// ports: what stops many ports' peers from driving this process to
// vm.max_map_count (after which mmap, and even std::thread, fail). Part of
// the C++ API of libshmport.
#ifndef SHMPORT_PEER_MAPPING_BUDGET_H_
#define SHMPORT_PEER_MAPPING_BUDGET_H_

#include <cstdint>

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

}  // namespace shmport

#endif  // SHMPORT_PEER_MAPPING_BUDGET_H_
