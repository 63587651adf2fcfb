// OrderedSender: every socket and ring write of one port end.
#ifndef SHMPORT_CLIENT_ORDERED_SENDER_H_
#define SHMPORT_CLIENT_ORDERED_SENDER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/base/attributes.h"
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

// The right to write this end's ring and its mode: a flag taken by a CAS
// (decision D33). A lone sender takes it without OrderedSender::mu_ for
// one append; the mutex path takes it after mu_ and holds it across its
// sequence. A holder without mu_ never blocks and takes nothing else, so
// Lock() waits at most for one append to end.
class ABSL_LOCKABLE WriterToken {
 public:
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return Take(); }
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    while (!Take()) std::this_thread::yield();
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    taken_.store(false, std::memory_order_release);
  }
  // For a lambda run with the token held (the analysis cannot follow it).
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  bool Take() {
    bool free = false;
    return taken_.compare_exchange_strong(free, true, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  std::atomic<bool> taken_{false};
};

// Ordered messages (DATA, MMAP_DATA, NEW_SEGMENT, RELEASE_SEGMENT, BYE) keep
// the order they were sent in: they go through this end's ring while it has
// room and they carry no fd (RingMode::kRing); otherwise a marker goes into
// the ring and the socket carries them (kSocket) until the peer has read
// past the marker, when RING_RESUME hands them back to the ring. Unordered
// control messages (OOSM, SHM_ACK, RING_WAKE) always take the socket,
// without waiting. Every write is one encoded Frame.
//
// mu_ serialises ordered writes: a caller holds mu() (and with it the
// writer token: Exclusive) across a sequence that must stay in order
// (NEW_SEGMENT before the descriptors naming it). One message through a
// ring that has room needs only the token: TrySendAlone, the lone sender's
// path, which takes no lock (D33).
class OrderedSender {
 public:
  // mu_, then the writer token, for the scope: the mutex path.
  class ABSL_SCOPED_LOCKABLE Exclusive {
   public:
    explicit Exclusive(OrderedSender& sender)
        ABSL_EXCLUSIVE_LOCK_FUNCTION(sender.mu_, sender.writer_)
        : sender_(sender) {
      sender_.mu_.Lock();
      sender_.writer_.Lock();
    }
    ~Exclusive() ABSL_UNLOCK_FUNCTION() {
      sender_.writer_.Unlock();
      sender_.mu_.Unlock();
    }
    Exclusive(const Exclusive&) = delete;
    Exclusive& operator=(const Exclusive&) = delete;

   private:
    OrderedSender& sender_;
  };

  // What TrySendAlone did: sent; sent, and the peer sleeps (WakePeer next);
  // nothing (another thread writes, or the ring is full, corrupt or not in
  // use: take the mutex path).
  enum class AloneResult { kSent, kSentPeerAsleep, kNotSent };

  // `core` is told when a write fails for good (Close, ProtocolError) and
  // reads the socket while it is full (WaitForRoom).
  OrderedSender(PortCore& core, UnixChannel& channel, PortCounters& counters)
      : core_(core), channel_(channel), counters_(counters) {}
  OrderedSender(const OrderedSender&) = delete;
  OrderedSender& operator=(const OrderedSender&) = delete;

  Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }
  WriterToken& writer() ABSL_LOCK_RETURNED(writer_) { return writer_; }

  // Creates this end's ring and sends it (NEW_RING) during the handshake.
  // A peer already gone leaves the port without a ring (OK).
  absl::Status StartRing(uint32_t capacity, const Deadline& deadline)
      ABSL_LOCKS_EXCLUDED(mu_);
  // An ordered message: through the ring when it can, else on the socket
  // (after a marker).
  absl::Status SendOrdered(const Frame& frame, absl::Span<const int> fds,
                           const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, writer_);
  // One frame on the socket, waiting (bounded) while it is full.
  absl::Status SendFrame(const Frame& frame, absl::Span<const int> fds,
                         const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, writer_);
  // The lone sender's path: one message of `bytes` payload bytes appended
  // to the ring and counted, with the writer token and no lock, when the
  // token is free and the ring in use with room; kNotSent otherwise
  // (nothing written). Inline: Send's hot path.
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline AloneResult TrySendAlone(
      const Frame& frame, uint64_t bytes) ABSL_LOCKS_EXCLUDED(mu_, writer_);
  // The RING_WAKE owed after TrySendAlone's kSentPeerAsleep: without a
  // lock when the socket takes it at once, else on the mutex path.
  absl::Status WakePeer(const Deadline& deadline)
      ABSL_LOCKS_EXCLUDED(mu_, writer_);
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
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, writer_);
  // Appends to the ring, waiting up to kRingFullPatience for room while it
  // is full. False: still full.
  bool AppendToRing(const Frame& frame, const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, writer_);
  static constexpr absl::Duration kRingFullPatience = absl::Microseconds(50);

  PortCore& core_;
  UnixChannel& channel_;
  PortCounters& counters_;
  std::atomic<bool> ack_pending_{false};  // an SHM_ACK that would block

  // The first lock of a port end (docs/architecture.md "Locks"): taken
  // before OutgoingPool::mu_ and PortCore::in_mu_, which Send and a sender
  // blocked on a full socket take under it.
  Mutex mu_;
  // The ring and its mode: the token's, taken under mu_ (Exclusive) or
  // alone for one append (TrySendAlone).
  WriterToken writer_ ABSL_ACQUIRED_AFTER(mu_);
  std::unique_ptr<RingWriter> ring_ ABSL_GUARDED_BY(writer_);  // null: none
  RingMode mode_ ABSL_GUARDED_BY(writer_) = RingMode::kNone;
};

inline OrderedSender::AloneResult OrderedSender::TrySendAlone(
    const Frame& frame, uint64_t bytes) {
  if (!writer_.TryLock()) return AloneResult::kNotSent;
  if (mode_ != RingMode::kRing ||
      !ring_->TryAppend(ring_layout::kKindMessage, frame.parts())) {
    writer_.Unlock();
    return AloneResult::kNotSent;
  }
  // Single-writer counters: every writer holds the token.
  AddSingleWriter(counters_.sent_via_ring, 1);
  AddSingleWriter(counters_.messages_sent, 1);
  AddSingleWriter(counters_.bytes_sent, bytes);
  const bool asleep = ring_->Publish();
  writer_.Unlock();
  return asleep ? AloneResult::kSentPeerAsleep : AloneResult::kSent;
}

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_ORDERED_SENDER_H_
