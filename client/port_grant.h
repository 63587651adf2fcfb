// The daemon's grant for a port (PortOpened) as the options of this end.
#ifndef SHMPORT_CLIENT_PORT_GRANT_H_
#define SHMPORT_CLIENT_PORT_GRANT_H_

#include "shmport/port.h"
#include "shmport/v1/broker.pb.h"

namespace shmport::internal {

// `base` with what the daemon granted: the geometry and segment count this
// end creates, and the same as the bound on what the peer may declare and
// map (max_peer_segments, max_peer_bytes: never above `base`'s), so a peer
// that declares more than its grant has its HELLO refused.
PortOptions PortOptionsFromGrant(const v1::PortOpened& opened,
                                 const PortOptions& base);

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PORT_GRANT_H_
