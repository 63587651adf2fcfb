// PortCore: the state of one port end, shared by the Port facade and by the
// Buffers, Messages and Trackings that outlive calls into it.
#ifndef SHMPORT_CLIENT_PORT_CORE_H_
#define SHMPORT_CLIENT_PORT_CORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/deadline.h"
#include "client/message_queue.h"
#include "client/ordered_sender.h"
#include "client/outgoing_pool.h"
#include "client/peer_segments.h"
#include "client/port_counters.h"
#include "client/port_reader.h"
#include "client/reclaimer.h"
#include "common/mutex.h"
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

// One end of a port: the coordinator of the parts that each own one
// concern (docs/architecture.md "Inside a port end"). The model:
//  * State: kHandshaking until the peer's HELLO is accepted (and this
//    end's ring sent), then kOpen until the first Close, then kClosed.
//  * Outgoing (OutgoingPool): this end creates up to max_segments
//    segments, lazily, and claims chunks from them; a segment's fd crosses
//    the socket once (NEW_SEGMENT) before the first descriptor naming it.
//    The peer frees chunks in place; when the pool runs dry this end raises
//    `oosm` in its segments, sends OOSM and waits for an SHM_ACK.
//  * Incoming (PeerSegments, the inbox): the peer's segments, validated
//    and mapped read-only, in a table indexed by segment id; messages queue
//    in an inbox. What the peer makes this end hold is bounded: segments by
//    the HELLO limits and the process-wide cap (peer_mapping_budget.h),
//    socket messages that overtook the ring by the reorder stash's bounds.
//  * The ring (OrderedSender): ordered messages (data, NEW_SEGMENT,
//    RELEASE_SEGMENT, BYE) go through this end's ring while it has room
//    and they carry no fd. Otherwise the sender appends a marker to the
//    ring and sends on the socket from then on; once the peer has read past
//    the marker, the next ordered message is preceded by RING_RESUME and
//    the ring takes over again. Unordered control messages (OOSM, SHM_ACK,
//    RING_WAKE) always take the socket.
//  * The stash (PortReader): the reader reads the peer's ring until its
//    marker; an ordered socket message that arrives before that waits,
//    bounded, in the reorder stash and is processed after the marker,
//    before newer socket messages.
//  * The reader role: the socket and the peer's ring are read by one thread
//    at a time, whichever caller needs progress (Receive, a blocked
//    Allocate, a blocked Send) and takes the role's token (a CAS). It
//    handles control messages for everyone, queues data messages, and
//    wakes the others. A Receive that takes it returns the first message
//    of its own batch itself, with no lock; the inbox and in_mu_ serve the
//    other threads (decision D33).
//  * Reclaim: the process-wide Reclaimer thread calls Reclaim() now and
//    then; segments idle for idle_segment_timeout are released and the
//    large free runs of quiet ones go back to the kernel. A port registers
//    once it holds memory it could give back (a second segment, or written
//    chunks reaching reclaim_free_run_bytes: StartReclaimer, D28); until
//    then its process may stay single-threaded.
//  * Closing: Close() (this end, the peer's BYE or EOF, a protocol error)
//    records the first reason, marks the peer's segments closed (the
//    reader role's holder drops them; Close itself when the role is free),
//    drops this end's pool (Buffers, Messages and Trackings keep what they
//    use), marks the peer's ring closed, sends BYE best effort, shuts the
//    socket down and wakes every waiter. The fd stays open until the last
//    handle lets go of the core.
//
// Locks, in acquisition order (docs/architecture.md "Locks"):
// OrderedSender::mu_ -> its writer token -> PortCore::in_mu_, and
// OutgoingPool::mu_, a leaf, under OrderedSender::mu_. The reader role is a
// token, not a lock: taken by a CAS (never waited for while holding a lock:
// a thread that finds it taken waits on in_cv_, which releases in_mu_); a
// sender blocked on a full socket tries it while holding OrderedSender::mu_.
// One receiving thread and one sending thread take no lock at all (D33).
// No lock is held across a blocking system call except OrderedSender::mu_
// (which only senders contend for).
class PortCore : public std::enable_shared_from_this<PortCore>,
                 public PortStatsSource,
                 public Reclaimable {
 public:
  enum class PortState { kHandshaking, kOpen, kClosed };

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
  PortState state() const { return state_.load(std::memory_order_acquire); }
  bool closed() const { return state() == PortState::kClosed; }
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

  // --- Called by the parts (PortReader, OrderedSender, OutgoingPool). ---
  // The peer broke the protocol: count, log and close.
  void ProtocolError(const absl::Status& error);
  // SHM_ACK: memory came back; wake allocation waiters.
  void OnShmAck() ABSL_LOCKS_EXCLUDED(in_mu_);
  // A sender found the socket full: waits (bounded by `deadline`) until it
  // may have room, reading what the peer sends meanwhile if nobody else
  // does, so that two ends that both only send do not deadlock.
  void WaitForRoom(const Deadline& deadline) ABSL_LOCKS_EXCLUDED(in_mu_);
  // OutgoingPool::ClaimOrWait's asking and waiting: OOSM, then a wait
  // until the pool's epoch moves past `seen` (false at the deadline).
  void AskForMemory() { sender_.SendControl(wire::MessageType::kOosm); }
  bool WaitForMemory(uint64_t seen, const Deadline& deadline)
      ABSL_LOCKS_EXCLUDED(in_mu_);

 private:
  // The reader role: the right to call reader_, one thread at a time, as a
  // token (reader_taken_) taken by a CAS and given back with a store, so
  // that a single receiver holds it without in_mu_ (decision D33).
  // ReaderRole is the slow path's scope of it: made with in_mu_ held once
  // TryTakeReaderRole succeeded, it reads through Unlocked or Pump (which
  // release in_mu_ meanwhile) and gives the role back at its end, with
  // in_mu_ held again. The analysis checks the constructor; the other
  // members expect the same in_mu_, which it cannot name through core_.
  class ReaderRole {
   public:
    explicit ReaderRole(PortCore& core)
        ABSL_EXCLUSIVE_LOCKS_REQUIRED(core.in_mu_)
        : core_(core) {}
    // EndTurnLocked: the reader's batch to the inbox, the role back, the
    // waiters woken.
    ~ReaderRole() ABSL_NO_THREAD_SAFETY_ANALYSIS;
    ReaderRole(const ReaderRole&) = delete;
    ReaderRole& operator=(const ReaderRole&) = delete;

    // Runs `read(reader_)` with in_mu_ released.
    template <typename Read>
    auto Unlocked(Read read) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      // On the mutex, not the caller's MutexLock (which stays the owner of
      // record): released and taken again within this call.
      core_.in_mu_.Unlock();
      auto result = read(core_.reader_);
      core_.in_mu_.Lock();
      return result;
    }
    PortReader::PumpResult Pump(const Deadline& deadline, PumpMode mode) {
      return Unlocked(
          [&](PortReader& reader) { return reader.PumpOnce(deadline, mode); });
    }

   private:
    PortCore& core_;
  };

  // The token (D33). Taking it is an acquire of everything the previous
  // holder did (the reader's state, the inbox size it left).
  bool TryTakeReaderRole() {
    bool free = false;
    return reader_taken_.compare_exchange_strong(free, true,
                                                 std::memory_order_seq_cst);
  }
  // Gives the token back; once closed, whoever can take it again drops
  // what only the reader may touch (the stash's bytes and fds). Seq_cst,
  // against a waiter that counts itself (role_waiters_) and then looks at
  // the token, and against Close, which marks the state and then tries the
  // token: one of the two always sees the other.
  void GiveBackReaderRole();
  // Receive's path for one receiver, with no lock: with the role (taken
  // without in_mu_), pumps until the reader's own batch holds the port's
  // next message (true; nothing older waits in the inbox), or gives up
  // (false: older messages in the inbox, closed, the deadline passed).
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool ReadAlone(const Deadline& deadline);
  // The role holder's return from Receive: the batch's front, then the
  // end of its turn.
  absl::StatusOr<Message> TakeFromBatch() ABSL_LOCKS_EXCLUDED(in_mu_);
  // The end of a turn with the role: what the batch still holds to the
  // inbox, the role back, the waiters woken. EndTurn takes in_mu_ only
  // when the batch is not empty or a thread waits.
  void EndTurn() ABSL_LOCKS_EXCLUDED(in_mu_);
  void EndTurnLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(in_mu_);
  // Receive when another thread reads or the inbox holds messages: under
  // in_mu_, as every thread but a lone receiver.
  absl::StatusOr<Message> ReceiveShared(const Deadline& deadline)
      ABSL_LOCKS_EXCLUDED(in_mu_);
  // The inbox's size for ReadAlone, which reads it without in_mu_: set
  // under in_mu_ after every change of inbox_.
  void NoteInboxSize() ABSL_EXCLUSIVE_LOCKS_REQUIRED(in_mu_) {
    inbox_size_.store(inbox_.size(), std::memory_order_release);
  }

  PortCore(UnixChannel channel, UniqueFd wake_fd, const PeerIdentity& peer,
           const PortOptions& options);
  absl::Status Handshake();

  // Send's steps (port_core_send.cc): the buffers' checks (counting inline
  // ones and bytes), telling the peer of the segments they name, and the
  // message itself, encoded into one Frame given to `send` (the lone
  // sender's TrySendAlone or the mutex path's SendOrdered); inlined into
  // Send, its hot path. SendShared is Send's mutex path: a tracked
  // message, a segment to announce, a ring full or shared with another
  // sending thread (D33).
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline absl::Status CheckSendable(
      absl::Span<const Buffer> buffers, size_t* inline_count,
      size_t* total) const;
  absl::Status Announce(absl::Span<const OutgoingPool::Unannounced> segments,
                        const Deadline& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sender_.mu(), sender_.writer());
  template <typename SendFrame>
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline auto SendPayload(
      uint32_t stream, absl::Span<const Buffer> buffers, uint8_t flags,
      const wire::TrackingRef* tracking, SendFrame send);
  absl::Status SendShared(uint32_t stream, absl::Span<Buffer> buffers,
                          uint8_t flags, const wire::TrackingRef* tracking,
                          size_t inline_count, size_t total)
      ABSL_LOCKS_EXCLUDED(sender_.mu(), sender_.writer());
  // Returns the chunks past each buffer's size (a buffer shrunk by
  // Buffer::Resize): the peer frees only those its descriptor covers.
  void ReleaseUnusedChunks(absl::Span<Buffer> buffers);
  absl::StatusOr<wire::TrackingRef> ClaimTrackingSlot(
      uint32_t stream, std::shared_ptr<Segment>* segment);
  // pool_.Grow, starting the Reclaimer once the pool has a second segment.
  absl::StatusOr<std::optional<OutgoingPool::Claim>> GrowPool(uint32_t chunks);
  // Registers with the Reclaimer, once, when this port first holds memory
  // it could give back (a second segment, or written chunks reaching
  // reclaim_free_run_bytes): not before, since its thread makes the
  // process multi-threaded for good (D28). Takes no port lock.
  void StartReclaimer();

  // Reclaim's first half: RELEASE_SEGMENT for the idle segments, skipping
  // its turn when a sender holds OrderedSender::mu_.
  void ReleaseIdleSegments(absl::Time now);
  void ReleaseIdleSegmentsLocked(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sender_.mu(), sender_.writer());

  // With `lock` (on in_mu_) held: waits until `ready()` or the port closes
  // (true) or the deadline passes (false), taking the reader role whenever
  // it is free so that someone always drains the socket.
  template <typename Ready>
  bool WaitFor(MutexLock& lock, const Deadline& deadline, PumpMode mode,
               Ready ready) ABSL_EXCLUSIVE_LOCKS_REQUIRED(in_mu_);

  const PeerIdentity peer_;
  const PortOptions options_;
  SegmentGeometry peer_geometry_;  // from HELLO, then immutable
  UnixChannel channel_;
  const UniqueFd wake_fd_;  // eventfd: wakes a reader blocked in poll
  const std::shared_ptr<PortCounters> counters_;
  std::atomic<PortState> state_{PortState::kHandshaking};

  // PeerGone(): the flag, and calls left until the next socket probe.
  static constexpr uint32_t kPeerProbeEvery = 1024;
  std::atomic<bool> peer_gone_{false};
  std::atomic<uint32_t> probe_countdown_{0};
  // Registration with the Reclaimer, once: StartReclaimer.
  std::once_flag reclaim_registered_;

  // The parts. Each guards itself; their locks are ordered around in_mu_
  // as the class comment says.
  OutgoingPool pool_;
  PeerSegments peer_segments_;
  OrderedSender sender_;
  PortReader reader_;  // only with the reader role

  // The incoming side: the inbox and why the port closed; in_cv_ is where
  // the threads waiting for the reader role sleep. Taken after
  // OrderedSender::mu_ (never while taking it); never together with
  // OutgoingPool::mu_.
  mutable Mutex in_mu_;
  CondVar in_cv_;  // inbox, reader role, memory epoch, closed
  MessageQueue inbox_ ABSL_GUARDED_BY(in_mu_);
  absl::Status closed_reason_ ABSL_GUARDED_BY(in_mu_);
  // The reader role's token, and the threads waiting on in_cv_ for it (or
  // for what its holder delivers): a holder that gives it back without
  // in_mu_ takes in_mu_ to wake them only when there are any (D33).
  std::atomic<bool> reader_taken_{false};
  std::atomic<uint32_t> role_waiters_{0};
  // inbox_.size() as of the last change (NoteInboxSize): only the role
  // holder adds to the inbox, so a holder that reads 0 here knows nothing
  // older than its own batch waits there.
  std::atomic<size_t> inbox_size_{0};
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PORT_CORE_H_
