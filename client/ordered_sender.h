// OrderedSender: every socket and ring write of one port end.
#ifndef SHMPORT_CLIENT_ORDERED_SENDER_H_
#define SHMPORT_CLIENT_ORDERED_SENDER_H_

#include <atomic>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/deadline.h"
#include "client/port_counters.h"
#include "client/port_frame.h"
#include "client/ring_mode.h"
#include "common/mutex.h"
#include "common/ring.h"
#include "common/unix_channel.h"
#include "common/wire.h"

namespace shmport::internal {

class PortCore;

// Ordered messages (DATA, MMAP_DATA, NEW_SEGMENT, RELEASE_SEGMENT, BYE) keep
// the order they were sent in: they go through this end's ring while it has
// room and they carry no fd (RingMode::kRing); otherwise a marker goes into
// the ring and the socket carries them (kSocket) until the peer has read
// past the marker, when RING_RESUME hands them back to the ring. Unordered
// control messages (OOSM, SHM_ACK, RING_WAKE) always take the socket,
// without waiting. Every write is one encoded Frame.
//
// mu_ serialises ordered writes: a caller holds mu() across a sequence that
// must stay in order (NEW_SEGMENT before the descriptors naming it).
class OrderedSender {
 public:
  // `core` is told when a write fails for good (Close, ProtocolError) and
  // reads the socket while it is full (WaitForRoom).
  OrderedSender(PortCore& core, UnixChannel& channel, PortCounters& counters)
      : core_(core), channel_(channel), counters_(counters) {}
  OrderedSender(const OrderedSender&) = delete;
  OrderedSender& operator=(const OrderedSender&) = delete;

  Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }

  // Creates this end's ring and sends it (NEW_RING) during the handshake.
  // A peer already gone leaves the port without a ring (OK).
  absl::Status StartRing(uint32_t capacity, const Deadline& deadline)
      ABSL_LOCKS_EXCLUDED(mu_);
  // An ordered message: through the ring when it can, else on the socket
  // (after a marker).
  absl::Status SendOrdered(const Frame& frame, absl::Span<const int> fds,
                           const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One frame on the socket, waiting (bounded) while it is full.
  absl::Status SendFrame(const Frame& frame, absl::Span<const int> fds,
                         const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // BYE, best effort: skipped when a sender holds mu_ (blocked on a full
  // socket; the EOF after shutdown() says the same).
  void TrySendBye() ABSL_LOCKS_EXCLUDED(mu_);
  // An unordered control message, non-blocking, best effort; an SHM_ACK
  // that would block is kept for FlushPendingAck.
  void SendControl(wire::MessageType type);
  // Inline: Send and Receive call it on every message.
  void FlushPendingAck() {
    if (ack_pending_.load(std::memory_order_acquire) &&
        ack_pending_.exchange(false)) {
      SendControl(wire::MessageType::kShmAck);
    }
  }
  // The peer marked our ring closed (it is gone). The ring is set during
  // the handshake and immutable after: no lock needed.
  bool PeerClosedRing() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ring_ != nullptr && ring_->ConsumerClosed();
  }

 private:
  // Tells a sleeping peer (RING_WAKE) after an append.
  absl::Status PublishRing(const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends to the ring, waiting up to kRingFullPatience for room while it
  // is full. False: still full.
  bool AppendToRing(const Frame& frame, const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static constexpr absl::Duration kRingFullPatience = absl::Microseconds(50);

  PortCore& core_;
  UnixChannel& channel_;
  PortCounters& counters_;
  std::atomic<bool> ack_pending_{false};  // an SHM_ACK that would block

  // The first lock of a port end (docs/architecture.md "Locks"): taken
  // before OutgoingPool::mu_ and PortCore::in_mu_, which Send and a sender
  // blocked on a full socket take under it.
  Mutex mu_;
  std::unique_ptr<RingWriter> ring_ ABSL_GUARDED_BY(mu_);  // null: none
  RingMode mode_ ABSL_GUARDED_BY(mu_) = RingMode::kNone;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_ORDERED_SENDER_H_
