// Where a port end's ordered messages go (its sender) or come from (its
// reader) right now.
#ifndef SHMPORT_CLIENT_RING_MODE_H_
#define SHMPORT_CLIENT_RING_MODE_H_

namespace shmport::internal {

// kNone: there is no ring (none offered, or not yet received); the socket
// carries everything. kRing: ordered messages go through the ring.
// kSocket: a marker in the ring handed them to the socket; the ring takes
// over again at the next RING_RESUME.
enum class RingMode { kNone, kRing, kSocket };

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_RING_MODE_H_
