// The HELLO exchange, without the socket: what this end says about itself
// and what it accepts from the peer. Pure functions of their arguments, so
// each refusal is testable on its own (client/port_hello_test.cc);
// PortCore does the I/O.
#ifndef SHMPORT_CLIENT_PORT_HELLO_H_
#define SHMPORT_CLIENT_PORT_HELLO_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/unix_channel.h"
#include "common/wire.h"
#include "shmport/port.h"
#include "shmport/segment_geometry.h"

namespace shmport::internal {

// What the peer's HELLO fixes for the life of the port.
struct PeerTerms {
  SegmentGeometry geometry;   // of the segments the peer will announce
  uint32_t max_segments = 0;  // how many the peer may have mapped at once
  bool has_ring = false;      // the peer offers a ring (kFeatureRing)
};

// The options this end may open a port with; the error names the field.
absl::Status ValidatePortOptions(const PortOptions& options);

// This end's HELLO, as process `pid` of user `uid`.
wire::Hello MakeHello(const PortOptions& options, pid_t pid, uid_t uid);

// Checks the peer's first message (`bytes`, with `fd_count` fds and the
// kernel's `credentials` of the sender) against the peer this end expects
// and the limits of its options. FAILED_PRECONDITION for a HELLO this end
// does not accept, PERMISSION_DENIED for the wrong sender.
absl::StatusOr<PeerTerms> AcceptHello(
    absl::Span<const uint8_t> bytes, size_t fd_count,
    const std::optional<Credentials>& credentials, const PeerIdentity& expected,
    const PortOptions& options);

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PORT_HELLO_H_
