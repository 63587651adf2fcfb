// PortCore: the state of one port end, shared by the Port facade and by the
// Buffers, Messages and Trackings that outlive calls into it.
#ifndef SHMPORT_CLIENT_PORT_CORE_H_
#define SHMPORT_CLIENT_PORT_CORE_H_

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
#include "client/port_frame.h"
#include "client/reclaimer.h"
#include "client/reorder_stash.h"
#include "common/mutex.h"
#include "common/ring.h"
#include "common/segment.h"
#include "common/unix_channel.h"
#include "common/wire.h"
#include "shmport/buffer.h"
#include "shmport/message.h"
#include "shmport/port.h"
#include "shmport/port_stats.h"
#include "shmport/tracking.h"
#include "shmport/unique_fd.h"

namespace shmport::internal {

// One end of a port. The model:
//  * Outgoing: this end creates up to max_segments segments, lazily, and
//    allocates chunks from them; a segment's fd crosses the socket once
//    (NEW_SEGMENT) before the first descriptor naming it. The peer frees
//    chunks in place; when this end runs dry it raises `oosm` in its
//    segments, sends OOSM and waits for an SHM_ACK.
//  * Incoming: the peer's segments, validated and mapped read-only, in a
//    table indexed by segment id; messages queue in an inbox. What the
//    peer makes this end hold is bounded: segments by the HELLO limits and
//    the process-wide cap (peer_mapping_budget.h), socket messages that
//    overtook the ring by the reorder stash's bounds.
//  * Reclaim: the process-wide Reclaimer thread calls Reclaim() now and
//    then; segments idle for idle_segment_timeout are released and the
//    large free runs of quiet ones go back to the kernel. A port registers
//    with its first outgoing segment: one without any has nothing to give
//    back, and a process whose ports only receive (or send inline) then
//    stays single-threaded (see GrowPool).
//  * The ring: ordered messages (data, NEW_SEGMENT, RELEASE_SEGMENT, BYE)
//    go through this end's ring while it has room and they carry no fd.
//    Otherwise the sender appends a marker to the ring and sends on the
//    socket from then on (ring_mode_out_ false); once the peer has read
//    past the marker, the next ordered message is preceded by RING_RESUME
//    and the ring takes over again. Unordered control messages (OOSM,
//    SHM_ACK, RING_WAKE) always take the socket.
//  * The stash: the reader reads the peer's ring until its marker; an
//    ordered socket message that arrives before that waits, bounded, in
//    the reorder stash and is processed after the marker, before newer
//    socket messages.
//  * The socket is read by one thread at a time (the "reader"): whichever
//    caller needs progress — Receive, a blocked Allocate, a blocked Send —
//    takes the reader role when it is free, handles control messages for
//    everyone, queues data messages, and wakes the others.
//  * Closing: Close() (this end, the peer's BYE or EOF, a protocol error)
//    records the first reason, drops the peer's segments and this end's
//    pool (Buffers, Messages and Trackings keep what they use), sends BYE
//    best effort, shuts the socket down and wakes every waiter. The fd
//    stays open until the last handle lets go of the core.
//
// Locks, in acquisition order: send_mu_ -> out_mu_ -> in_mu_ (checked by
// -Wthread-safety through the annotations below). The reader role is taken
// and given back under in_mu_ and held without it; a sender blocked on a
// full socket takes it while holding send_mu_. No lock is held across a
// blocking system call except send_mu_ (which only senders contend for).
class PortCore : public std::enable_shared_from_this<PortCore>,
                 public PortStatsSource,
                 public Reclaimable {
 public:
  static absl::StatusOr<std::shared_ptr<PortCore>> Open(
      UniqueFd socket, const PeerIdentity& peer, const PortOptions& options);
  static absl::Status SendHello(int socket, const PortOptions& options);

  ~PortCore();
  PortCore(const PortCore&) = delete;
  PortCore& operator=(const PortCore&) = delete;

  // --- Port API (see port.h for the contracts). ---
  absl::StatusOr<Buffer> Allocate(size_t size, size_t min_size,
                                  const Deadline& deadline, bool blocking);
  absl::Status Send(uint32_t stream, absl::Span<Buffer> buffers, bool last,
                    const wire::TrackingRef* tracking);
  absl::Status SendCopy(uint32_t stream, absl::Span<const uint8_t> bytes,
                        bool last);
  absl::StatusOr<Tracking> SendTracked(uint32_t stream, Buffer buffer,
                                       bool last);
  absl::StatusOr<Message> Receive(const Deadline& deadline);
  absl::StatusOr<std::optional<Message>> TryReceive();
  // Without `tell_peer`, only this end closes (no BYE, no ring mark, no
  // shutdown): for a close the peer hears of from the daemon as well
  // (ClosePort), so that both ends report the daemon's reason. The peer
  // sees EOF once the last reference to this end lets go of the socket.
  void Close(absl::Status reason, bool send_bye, bool tell_peer = true);
  // Destroys the messages still queued (outside the lock: each returns its
  // chunks). Called when the Port goes away.
  void DropInbox();

  int fd() const { return channel_.fd(); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  absl::Status closed_reason() const;
  // Prompt closure: true once the peer is known to be gone although this
  // end has not read its BYE or EOF yet (a sender that never receives).
  // The peer's ring says so at once (RingReader::MarkClosed); without that
  // word the socket is probed every kPeerProbeEvery calls. Allocate and
  // Send then fail with peer_gone_reason(); Receive still returns what
  // arrived before the BYE.
  bool PeerGone();
  // Whether the peer's end of the socket is closed now (one poll, no
  // countdown): a peer that exited needs no grace period (SessionCore).
  bool PeerHungUp() const;
  bool peer_gone() const { return peer_gone_.load(std::memory_order_acquire); }
  static absl::Status peer_gone_reason() {
    return absl::UnavailableError("the peer closed the port");
  }
  const PeerIdentity& peer() const { return peer_; }
  const SegmentGeometry& peer_geometry() const { return peer_geometry_; }
  const PortOptions& options() const { return options_; }
  PortStats stats() const;
  PortStats Snapshot() const override { return stats(); }

  // --- Called by Buffer, Message and Tracking. ---
  // A Buffer dropped unsent returned chunks: wake allocation waiters.
  void OnOutgoingFreed();
  // A Message returned chunks of a peer segment: owe an SHM_ACK if the
  // peer is waiting for memory in that segment.
  void OnIncomingFreed(Segment& segment);
  absl::StatusOr<bool> Cancel(Tracking& tracking);

  // --- Called by the Reclaimer thread. ---
  void Reclaim(absl::Time now) override;
  absl::Duration reclaim_period() const override;

 private:
  // Returns the chunks past each buffer's size (a buffer shrunk by
  // Buffer::Resize): the peer frees only those its descriptor covers.
  void ReleaseUnusedChunks(absl::Span<Buffer> buffers);
  struct OutSegment {
    std::shared_ptr<Segment> segment;
    bool announced = false;  // NEW_SEGMENT sent
    bool retiring = false;   // RELEASE_SEGMENT being sent: hands off
    absl::Time last_used;    // InfinitePast: used since the last idle check
    // CountFree() when its free runs last went back to the kernel; more
    // free chunks than this means there may be new runs to return.
    uint32_t free_when_returned = 0;
  };
  struct Claim {
    std::shared_ptr<Segment> segment;
    uint32_t first = 0;
    uint32_t count = 0;
  };

  PortCore(UnixChannel channel, UniqueFd wake_fd, const PeerIdentity& peer,
           const PortOptions& options);
  absl::Status Handshake();

  // Outgoing memory. All take out_mu_.
  std::optional<Claim> TryClaim(uint32_t chunks, uint32_t min_chunks);
  absl::StatusOr<std::optional<Claim>> GrowPool(uint32_t chunks);
  void RaiseOosm();
  // Waits until memory_epoch_ moves past `seen` (an SHM_ACK or a local
  // free); false at the deadline.
  bool WaitForMemory(uint64_t seen, const Deadline& deadline);
  // The bounded wait Allocate and tracking-slot claims share: claim(),
  // else grow() the pool, else raise OOSM, claim() once more and wait for
  // the receiver to free memory until the deadline (or, not `blocking`,
  // give up at once); refuse(timed_out) says why it failed.
  template <typename T, typename ClaimFn, typename GrowFn, typename RefuseFn>
  absl::StatusOr<T> ClaimOrWait(const Deadline& deadline, bool blocking,
                                ClaimFn claim, GrowFn grow, RefuseFn refuse);
  absl::StatusOr<wire::TrackingRef> ClaimTrackingSlot(
      uint32_t stream, std::shared_ptr<Segment>* segment);
  // Reclaim's two halves; both take out_mu_, the first also send_mu_ (and
  // skips its turn when a sender holds it).
  void ReleaseIdleSegments(absl::Time now);
  void ReleaseIdleSegmentsLocked(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_);
  void ReturnFreeRuns(absl::Time now);
  // With out_mu_: true once `out` saw no allocation for the idle timeout.
  bool IdleFor(OutSegment& out, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(out_mu_);
  Buffer MakeBuffer(Claim claim, size_t size);

  // Socket writes. Both expect send_mu_ held. SendOrdered puts a message
  // of the data stream in the ring when it can, else on the socket (after
  // a marker); SendLocked writes the socket.
  absl::Status SendOrdered(const Frame& frame, absl::Span<const int> fds,
                           const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_);
  absl::Status SendLocked(const Frame& frame, absl::Span<const int> fds,
                          const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_);
  absl::Status PublishRing(const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_);
  absl::Status StartRing();
  void SendControl(wire::MessageType type);  // best effort, non-blocking
  void FlushPendingAck();
  // Send's steps: the buffers' checks (counting inline ones and bytes),
  // the segments they name that the peer has not been told of (out_mu_),
  // telling it, and the message itself.
  struct Unannounced {
    uint32_t id;
    Segment* segment;
    bool operator==(const Unannounced&) const = default;
  };
  // Send's hot path: inline into it (defined in port_core.cc, used there
  // only).
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline absl::Status CheckSendable(
      absl::Span<const Buffer> buffers, size_t* inline_count,
      size_t* total) const;
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline absl::Status FindUnannounced(
      absl::Span<const Buffer> buffers, const wire::TrackingRef* tracking,
      std::vector<Unannounced>& out);
  absl::Status Announce(absl::Span<const Unannounced> segments,
                        const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_);
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline absl::Status SendPayload(
      uint32_t stream, absl::Span<const Buffer> buffers, uint8_t flags,
      const wire::TrackingRef* tracking, const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_);

  // Socket reads. The caller holds the reader role.
  enum class PumpResult { kProgress, kTimeout, kClosed };
  // Handles one step of incoming traffic: ring entries first, then stashed
  // socket messages, then the socket (sleeping on it unless `dont_wait`;
  // busy-polling the ring first for options.receive_spin if `spin`).
  PumpResult PumpOnce(const Deadline& deadline, bool dont_wait, bool spin);
  // Busy-polls the ring before a sleep; true when an entry came. Applies
  // receive_spin, else the adaptive spin.
  bool SpinOnRing(const Deadline& deadline);
  // Appends an ordered message to this end's ring, waiting up to
  // kRingFullPatience for room while it is full. False: still full.
  bool AppendToRing(const Frame& frame, const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_);
  static constexpr absl::Duration kRingFullPatience = absl::Microseconds(50);
  // Processes up to `max` ring entries; kTimeout when there were none.
  PumpResult DrainRing(int max);
  // Decodes and dispatches one message; false after a protocol error.
  bool Process(absl::Span<const uint8_t> bytes, std::vector<UniqueFd>& fds);
  // Waits for the socket (and the wake eventfd) to become readable.
  // Returns false on timeout.
  bool PollSocket(const Deadline& deadline);
  // A blocking recvmsg bounded by `deadline` (SO_RCVTIMEO); nullopt on
  // timeout.
  absl::StatusOr<std::optional<ReceivedMessage>> ReceiveBlocking(
      const Deadline& deadline);
  absl::Status Dispatch(const wire::Decoded& m, std::vector<UniqueFd>& fds);
  absl::Status OnNewRing(const wire::Decoded& m, UniqueFd fd);
  absl::Status OnData(const wire::Decoded& m);
  absl::Status OnMmapData(const wire::Decoded& m);
  absl::Status OnNewSegment(const wire::Decoded& m, UniqueFd fd);
  absl::Status OnReleaseSegment(const wire::Decoded& m);
  // CAS on the peer's tracking slot: true when this end owns the message.
  absl::StatusOr<bool> ClaimTracked(const wire::TrackingRef& ref,
                                    uint32_t stream);
  // Queues a message for Receive: into the reader's batch, which
  // EndReading hands to the inbox under the lock it holds anyway.
  void Deliver(Message&& message);
  void CountDelivered(const Message& message);
  // With in_mu_ held: hands the batch to the inbox and gives up the reader
  // role (and, once closed, what only the reader may touch: the stash's
  // bytes and fds).
  void EndReading() ABSL_EXCLUSIVE_LOCKS_REQUIRED(in_mu_);
  void ProtocolError(const absl::Status& error);
  // With `lock` (on in_mu_) held: waits until `ready()` or the port closes
  // (true) or the deadline passes (false), taking the reader role whenever
  // it is free so that someone always drains the socket.
  template <typename Ready>
  bool WaitFor(MutexLock& lock, const Deadline& deadline, bool spin,
               Ready ready) ABSL_EXCLUSIVE_LOCKS_REQUIRED(in_mu_);

  const PeerIdentity peer_;
  const PortOptions options_;
  SegmentGeometry peer_geometry_;   // from HELLO, then immutable
  uint32_t peer_max_segments_ = 0;  // from HELLO, then immutable
  UnixChannel channel_;
  const UniqueFd wake_fd_;  // eventfd: wakes a reader blocked in poll
  const std::shared_ptr<PortCounters> counters_;

  // Serialises socket writes whose order matters (NEW_SEGMENT before the
  // descriptors naming it; RELEASE_SEGMENT after the last).
  Mutex send_mu_;
  // The outgoing ring (null without one) and whether ordered messages go
  // through it right now (false between a marker and RING_RESUME).
  std::unique_ptr<RingWriter> ring_out_ ABSL_GUARDED_BY(send_mu_);
  bool ring_mode_out_ ABSL_GUARDED_BY(send_mu_) = false;
  bool peer_has_ring_ = false;  // from HELLO, then immutable
  // PeerGone(): the flag, and calls left until the next socket probe.
  static constexpr uint32_t kPeerProbeEvery = 1024;
  std::atomic<bool> peer_gone_{false};
  std::atomic<uint32_t> probe_countdown_{0};

  // Registration with the Reclaimer, once: with the first segment.
  std::once_flag reclaim_registered_;
  // Guards the outgoing pool.
  mutable Mutex out_mu_;
  // index = segment id; null when free
  std::vector<OutSegment> out_ ABSL_GUARDED_BY(out_mu_);
  uint32_t tracking_generation_ ABSL_GUARDED_BY(out_mu_) = 0;

  // Bumped on every SHM_ACK and local free; allocation waiters wait for it
  // to change. Read under in_mu_ by waiters.
  std::atomic<uint64_t> memory_epoch_{0};
  std::atomic<int> memory_waiters_{0};
  std::atomic<bool> ack_pending_{false};  // an SHM_ACK that would block

  // Guards the incoming side and the reader role.
  mutable Mutex in_mu_;
  CondVar in_cv_;  // inbox, reader role, epoch, closed
  MessageQueue inbox_ ABSL_GUARDED_BY(in_mu_);
  // index = peer segment id
  std::vector<std::shared_ptr<Segment>> in_ ABSL_GUARDED_BY(in_mu_);
  bool reader_active_ ABSL_GUARDED_BY(in_mu_) = false;
  absl::Status closed_reason_ ABSL_GUARDED_BY(in_mu_);
  std::atomic<bool> closed_{false};
  // Only the reader touches these: the receive buffer, the peer's ring,
  // whether its ordered messages come from the ring now, and ordered
  // socket messages that arrived before the ring's marker was reached.
  std::unique_ptr<uint8_t[]> receive_buffer_;
  std::unique_ptr<RingReader> ring_in_;
  // ring_in_ for Close (any thread) to mark closed; lives as long as this.
  std::atomic<RingReader*> ring_in_for_close_{nullptr};
  bool ring_mode_in_ = false;
  absl::Duration receive_timeout_;  // the socket's SO_RCVTIMEO (zero: none)
  // Adaptive spin (PortOptions::adaptive_spin): misses in a row, and
  // waits since spinning was given up (for the periodic retry).
  uint32_t spin_misses_ = 0;
  uint32_t waits_without_spin_ = 0;
  ReorderStash stash_;
  // Peer segments of this port still mapped (also those only Messages
  // keep): bounded by the peer's declared max_segments.
  const std::shared_ptr<std::atomic<uint32_t>> in_mapped_;
  // Messages delivered by the reader in its current turn (every turn ends
  // in EndReading).
  MessageQueue batch_;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PORT_CORE_H_
