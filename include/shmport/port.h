// Port: one end of a shared-memory connection between two processes.
#ifndef SHMPORT_PORT_H_
#define SHMPORT_PORT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "shmport/buffer.h"
#include "shmport/message.h"
#include "shmport/port_stats.h"
#include "shmport/segment_geometry.h"
#include "shmport/tracking.h"
#include "shmport/unique_fd.h"

namespace shmport {

namespace internal {
class PortCore;
class SessionCore;
}  // namespace internal

// Who the other end must be. The kernel's SCM_CREDENTIALS on the peer's
// HELLO are checked against pid and uid; a mismatch closes the port.
struct PeerIdentity {
  pid_t pid = 0;  // 0: accept any pid (tests, trusted setups only)
  uid_t uid = static_cast<uid_t>(-1);  // -1: accept any uid
  uint64_t process_id = 0;  // the daemon's id for the peer (informational)
  std::string name;         // the peer's registered name (informational)
};

struct PortOptions {
  // Geometry of the segments this end creates for its outgoing direction.
  SegmentGeometry geometry;  // default 16 KiB x 1024 = 16 MiB per segment
  uint32_t max_segments = 8;
  // Payloads smaller than this travel inline in the socket message.
  uint32_t inline_threshold = 1024;

  // Limits on what the peer may declare for its direction; a HELLO beyond
  // them closes the port (this end would have to map that much memory).
  uint32_t max_peer_segments = 64;
  uint64_t max_peer_bytes = 4ull << 30;
  // Bounds on ordered socket messages held until the peer's ring reaches
  // its marker; passing one is the peer's protocol error.
  uint32_t max_stash_messages = 1024;
  uint64_t max_stash_bytes = 4ull << 20;
  uint32_t max_stash_fds = 64;

  // Bound on the HELLO exchange in Open().
  absl::Duration hello_timeout = absl::Seconds(5);
  // Bound on Send when the socket buffer is full (the peer is not reading).
  absl::Duration send_timeout = absl::Seconds(30);
  // Default bound for Allocate when shared memory is exhausted.
  absl::Duration allocate_timeout = absl::Seconds(10);
  // Segments beyond the first that stay completely free this long are
  // unmapped and released (RELEASE_SEGMENT). InfiniteDuration: never.
  // Checked by one process-wide thread, without needing traffic; it starts
  // once a port holds memory it could give back: a second segment, or
  // written chunks reaching reclaim_free_run_bytes (never with
  // InfiniteDuration here).
  absl::Duration idle_segment_timeout = absl::Seconds(5);
  // Free runs of at least this many bytes in an outgoing segment that
  // stayed idle_segment_timeout without allocations go back to the kernel
  // (MADV_REMOVE). 0: never.
  uint64_t reclaim_free_run_bytes = 1ull << 20;

  // Bytes of the shared-memory ring that carries this end's small messages
  // and descriptors without a system call per message (0: no ring; every
  // message then crosses the socket). Used only if the peer also has one.
  uint32_t ring_capacity = 256 * 1024;
  // How long Receive busy-polls the ring, every time, before it sleeps on
  // the socket. Zero (the default): only the adaptive spin below.
  // Latency-critical users trade a CPU core for a sub-microsecond wake-up.
  absl::Duration receive_spin = absl::ZeroDuration();
  // Used while receive_spin is zero: Receive busy-polls the ring this long
  // before sleeping, as long as that pays off (the peer's next message
  // came within it). After 8 misses in a row it stops spinning and tries
  // again only every 64th wait, so an idle port or a slow stream gets plain
  // sleeps. It saves the wake-up (a system call each side, tens of µs on
  // an idle VM): a request/reply pair settles at sub-µs round trips. The
  // cost: while messages come less than this far apart, the receiver
  // spins between them instead of sleeping. Zero: never spin.
  absl::Duration adaptive_spin = absl::Microseconds(50);

  // The daemon's id for this port, echoed in HELLO (0 outside a session).
  uint64_t port_id = 0;
  // Set when Port::SendHello() already sent this end's HELLO on the socket
  // (a Session does so as soon as a port arrives, so that the opener's
  // handshake does not wait for the application to call AcceptPort).
  bool hello_already_sent = false;
};

// One end of a port: a SOCK_SEQPACKET socket to exactly one peer process,
// plus this end's outgoing segments and the peer's incoming ones. Payloads
// of shared-memory buffers never cross the socket: only {segment, chunk,
// size} descriptors do, and the receiver reads the sender's bytes in place.
//
// Lifecycle: Open() exchanges HELLO (kernel-checked identity, geometry);
// from then on either end may send. Peer death (EOF/POLLHUP), a BYE, or a
// protocol violation by the peer close the port: every blocked call wakes
// with UNAVAILABLE and closed_reason() says why. A sender that never
// receives learns of the peer's BYE at its next Allocate or Send (the
// peer's ring says so), and of an EOF within 1,024 calls; what the peer sent
// before can still be received. Buffers and Messages stay valid after the
// Port is gone (they keep their mappings alive).
//
// Backpressure: when no outgoing segment has room and the segment limit is
// reached, Allocate marks the segments "out of shared memory", sends OOSM,
// and waits (bounded) for the receiver's SHM_ACK, which it sends when it
// frees chunks. TryAllocate instead returns RESOURCE_EXHAUSTED; the ack then
// makes fd() readable, and TryReceive() consumes it.
//
// Thread-safety: every method may be called from any thread. Sends are
// serialised among themselves, receives among themselves, and a send may
// run concurrently with a receive (one thread sends while another
// receives). Whichever thread waits on the socket processes control
// messages for everyone.
class Port {
 public:
  // Takes a connected AF_UNIX SOCK_SEQPACKET socket and performs the HELLO
  // exchange (bounded by options.hello_timeout). Errors: UNAVAILABLE (peer
  // closed), DEADLINE_EXCEEDED (no HELLO), PERMISSION_DENIED (credentials
  // do not match `peer`), FAILED_PRECONDITION (protocol version or
  // geometry refused). The fd is closed on failure.
  static absl::StatusOr<std::unique_ptr<Port>> Open(UniqueFd socket,
                                                    const PeerIdentity& peer,
                                                    const PortOptions& options);

  // The first half of Open(): sends this end's HELLO (with credentials) on
  // `socket` without waiting for the peer's. Call Open() later with
  // options.hello_already_sent = true and the same options.
  static absl::Status SendHello(int socket, const PortOptions& options);

  // Sends BYE (best effort, non-blocking) and closes the socket.
  ~Port();
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  // A buffer of exactly `size` bytes: inline below the inline threshold,
  // else contiguous chunks of one outgoing segment. Blocks up to `timeout`
  // (default options.allocate_timeout) for the receiver to free memory.
  // Errors: INVALID_ARGUMENT (larger than one segment's data area; use
  // SendCopy, which splits), DEADLINE_EXCEEDED, UNAVAILABLE (closed),
  // RESOURCE_EXHAUSTED (a segment could not be created: memfd/mmap failed).
  absl::StatusOr<Buffer> Allocate(size_t size);
  absl::StatusOr<Buffer> Allocate(size_t size, absl::Duration timeout);
  // Like Allocate, but takes what is available now: at least `min_size`
  // and at most `size` bytes, in one contiguous run.
  absl::StatusOr<Buffer> Allocate(size_t size, size_t min_size,
                                  absl::Duration timeout);
  // Never blocks: RESOURCE_EXHAUSTED when memory is short (an OOSM is sent;
  // fd() turns readable when the receiver frees some).
  absl::StatusOr<Buffer> TryAllocate(size_t size);

  // Sends `buffer` (zero-copy for shared-memory buffers) as one message of
  // `stream`; `last` sets the LAST flag. Several buffers go as one message
  // whose fragments arrive in order. Errors: UNAVAILABLE (closed; the
  // buffers' chunks are returned), DEADLINE_EXCEEDED (socket full for
  // options.send_timeout), INVALID_ARGUMENT (a buffer from another port).
  absl::Status Send(uint32_t stream, Buffer buffer, bool last = false);
  absl::Status Send(uint32_t stream, std::vector<Buffer> buffers,
                    bool last = false);
  // Copies `bytes` into new buffers and sends them as one message: inline
  // when small, else in as many shared-memory buffers as needed (at most
  // one segment's data area each).
  absl::Status SendCopy(uint32_t stream, absl::Span<const uint8_t> bytes,
                        bool last = false);
  // Sends a message the sender may later withdraw with Tracking::Cancel.
  absl::StatusOr<Tracking> SendTracked(uint32_t stream, Buffer buffer,
                                       bool last = false);

  // The next message, waiting up to `timeout` (InfiniteDuration allowed).
  // Errors: DEADLINE_EXCEEDED, UNAVAILABLE (closed; closed_reason() says
  // why). Messages already received are handed out before UNAVAILABLE.
  absl::StatusOr<Message> Receive(absl::Duration timeout);
  // Never blocks; nullopt when nothing is ready. Also processes control
  // messages (SHM_ACK, NEW_SEGMENT, ...) waiting on the socket. A nullopt
  // arms fd(): the next message makes it readable (with the shared ring,
  // the sender then adds a wake-up datagram). An event loop calls
  // TryReceive until nullopt, then waits on fd(); fd() may occasionally be
  // readable with nothing to hand out (a wake-up for a message already
  // taken), so a nullopt after readiness is normal.
  absl::StatusOr<std::optional<Message>> TryReceive();

  // The socket, for epoll/poll loops: readable when a message, an SHM_ACK
  // or the peer's close is waiting. Do not read from it yourself.
  int fd() const;

  // Closes the port now (sends BYE); blocked calls wake with UNAVAILABLE.
  void Close();
  bool closed() const;
  // Why the port closed ("peer closed the connection", "protocol error:
  // ..."), or OK while open. RESOURCE_EXHAUSTED (not UNAVAILABLE) when the
  // per-process cap on peer segments (peer_mapping_budget.h) refused one.
  absl::Status closed_reason() const;

  const PeerIdentity& peer() const;
  // The geometry the peer declared for its direction.
  const SegmentGeometry& peer_geometry() const;
  uint64_t port_id() const;

  PortStats stats() const;
  // stats() on demand, for reporting without owning the Port (it may
  // outlive the Port while Buffers or Messages of it are alive; its
  // snapshots then say closed).
  std::shared_ptr<const PortStatsSource> stats_source() const;

 private:
  // The Session closes a port the daemon closed (ClosePort is final).
  friend class internal::SessionCore;
  explicit Port(std::shared_ptr<internal::PortCore> core);
  std::shared_ptr<internal::PortCore> core_;
};

}  // namespace shmport

#endif  // SHMPORT_PORT_H_
