// PortReader: what the thread reading a port end's socket and ring owns.
#ifndef SHMPORT_CLIENT_PORT_READER_H_
#define SHMPORT_CLIENT_PORT_READER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/deadline.h"
#include "client/message_queue.h"
#include "client/port_counters.h"
#include "client/reorder_stash.h"
#include "client/ring_mode.h"
#include "common/ring.h"
#include "common/unix_channel.h"
#include "common/wire.h"
#include "shmport/message.h"
#include "shmport/port.h"
#include "shmport/unique_fd.h"

namespace shmport::internal {

class PeerSegments;
class PortCore;

// How a pump step may wait when nothing is ready.
enum class PumpMode {
  // Receive: spin on the ring (receive_spin, else the adaptive spin), then
  // sleep in recvmsg itself (one system call per wake-up).
  kReceive,
  // A caller waiting for memory: sleep in poll on the socket and the wake
  // eventfd (OnOutgoingFreed writes it), no spin.
  kWait,
  // TryReceive, a sender blocked on a full socket: take what is there.
  kNoWait,
};

// One step of incoming traffic at a time: ring entries first (RingMode::
// kRing) up to the peer's marker, then ordered socket messages that
// overtook the ring and waited, bounded, in the reorder stash, then the
// socket; each message decoded and dispatched (OnX): data to the port's
// inbox, segments to PeerSegments, control messages to the port.
//
// Not thread-safe, and needs no lock: only the holder of the port's reader
// role (PortCore's token, one thread at a time) calls it, apart from
// MarkRingClosed.
class PortReader {
 public:
  enum class PumpResult { kProgress, kTimeout, kClosed };

  PortReader(PortCore& core, UnixChannel& channel, int wake_fd,
             PeerSegments& peer_segments, PortCounters& counters,
             const PortOptions& options);
  PortReader(const PortReader&) = delete;
  PortReader& operator=(const PortReader&) = delete;

  PumpResult PumpOnce(const Deadline& deadline, PumpMode mode);
  // At the end of the reader's turn, under the port's in_mu_: what this
  // turn delivered and its holder did not take itself, in order, into
  // `inbox`; swapped in whole when the inbox is empty (no message moves).
  void HandOver(MessageQueue& inbox);
  // The role holder's own delivery (PortCore::ReadAlone): whether this
  // turn delivered anything, and its first message, to be moved from (one
  // move; valid until the next delivery).
  bool batch_empty() const { return batch_.empty(); }
  Message&& TakeFromBatch() { return batch_.TakeFront(); }
  // Where the HELLO is read into, before any pump.
  absl::Span<uint8_t> receive_buffer() {
    return absl::MakeSpan(receive_buffer_.get(), wire::kMaxMessageBytes);
  }
  // Once closed: drops the stash's bytes and fds (the role holder, or
  // Close while nobody holds the role).
  void ClearStash() { stash_.Clear(); }
  // Any thread (Close): the peer's senders stop at their next call.
  void MarkRingClosed() {
    RingReader* ring = ring_for_close_.load(std::memory_order_acquire);
    if (ring != nullptr) ring->MarkClosed();
  }

 private:
  // Processes up to `max` ring entries; kTimeout when there were none.
  PumpResult DrainRing(int max);
  // Busy-polls the ring before a sleep; true when an entry came.
  bool SpinOnRing(const Deadline& deadline);
  // Waits for the socket (and the wake eventfd) to become readable; false
  // on timeout.
  bool PollSocket(const Deadline& deadline);
  // A blocking recvmsg bounded by `deadline` (SO_RCVTIMEO); nullopt on
  // timeout.
  absl::StatusOr<std::optional<ReceivedMessage>> ReceiveBlocking(
      const Deadline& deadline);
  // What a read of the socket found: an error (the port closes, after
  // what the ring still holds), nothing, or a message (stashed while it
  // overtook the ring, else processed).
  PumpResult OnSocketError(const absl::Status& error);
  PumpResult OnSocketEmpty(PumpMode mode);
  // Inlined into PumpOnce (its only caller), as it was part of it.
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline PumpResult OnSocketMessage(
      ReceivedMessage& m);
  // Decodes and dispatches one message; false after a protocol error.
  bool Process(absl::Span<const uint8_t> bytes, std::vector<UniqueFd>& fds);
  absl::Status Dispatch(const wire::Decoded& m, std::vector<UniqueFd>& fds);
  absl::Status OnData(const wire::Decoded& m);
  absl::Status OnMmapData(const wire::Decoded& m);
  absl::Status OnNewSegment(const wire::Decoded& m, UniqueFd fd);
  absl::Status OnNewRing(const wire::Decoded& m, UniqueFd fd);
  absl::Status OnRingResume();
  // A tracked message: true when this end owns it (the sender did not
  // cancel first).
  absl::StatusOr<bool> ClaimTracked(const wire::Decoded& m);
  // Queues a message for Receive: into this turn's batch, which HandOver
  // gives the inbox when the turn ends.
  void Deliver(Message&& message);
  void CountDelivered(const Message& message);
  bool RingHasEntries() const {
    return mode_ == RingMode::kRing && !ring_->Empty();
  }

  PortCore& core_;
  UnixChannel& channel_;
  const int wake_fd_;  // eventfd: wakes a reader blocked in poll
  PeerSegments& peer_segments_;
  PortCounters& counters_;
  const PortOptions& options_;

  std::unique_ptr<uint8_t[]> receive_buffer_;
  // The peer's ring (null until NEW_RING) and whether its ordered messages
  // come from it now.
  std::unique_ptr<RingReader> ring_;
  RingMode mode_ = RingMode::kNone;
  // ring_ for Close (any thread) to mark closed; lives as long as this.
  std::atomic<RingReader*> ring_for_close_{nullptr};
  absl::Duration receive_timeout_;  // the socket's SO_RCVTIMEO (zero: none)
  // Adaptive spin (PortOptions::adaptive_spin): misses in a row, and
  // waits since spinning was given up (for the periodic retry).
  uint32_t spin_misses_ = 0;
  uint32_t waits_without_spin_ = 0;
  // Ordered socket messages that arrived before the ring's marker.
  ReorderStash stash_;
  // Messages delivered in the current turn (every turn ends in HandOver).
  MessageQueue batch_;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PORT_READER_H_
