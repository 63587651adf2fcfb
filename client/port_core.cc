#include "client/port_core.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/peer_mapping_budget.h"
#include "client/port_counters.h"
#include "client/port_handles.h"
#include "client/port_hello.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/mutex.h"

namespace shmport::internal {
namespace {

// Beyond this many queued messages a blocked sender stops draining the
// socket into the inbox on the application's behalf.
constexpr size_t kMaxInboxWhileSending = 4096;

// Adds `n` to a statistics counter that one thread at a time writes (the
// holder of send_mu_, or the reader): a load and a store instead of a
// locked add, which is a full barrier on x86, on every message. stats()
// still reads whole values.
void AddSingleWriter(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n,
                std::memory_order_relaxed);
}

// Milliseconds until `deadline` for poll(): -1 for an infinite deadline,
// rounded up so that a poll never returns just before the deadline.
int PollTimeoutMs(const Deadline& deadline) {
  if (deadline.infinite()) return -1;
  const absl::Duration left = deadline.left();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
      1 << 30));
}

// Waits on `cv` until notified or `deadline`; false once the deadline has
// passed. Uses the steady clock (wait_for), immune to wall-clock jumps.
bool CvWait(CondVar& cv, MutexLock& lock, const Deadline& deadline) {
  if (deadline.infinite()) {
    cv.Wait(&lock);
    return true;
  }
  const absl::Duration left = deadline.left();
  if (left <= absl::ZeroDuration()) return false;
  cv.WaitFor(&lock, absl::ToChronoNanoseconds(left));
  return true;
}

uint64_t TrackingWord(uint32_t generation, uint32_t stream) {
  return (static_cast<uint64_t>(generation) << 32) | stream;
}

// Polls `ready` until it holds (true) or the time `until()` returns has
// passed (false), pausing the CPU between polls; every 32 polls it reads
// the clock and, with `yield`, gives the CPU to whoever else wants it. A
// wait that ends within the first 32 polls reads no clock: `until` is
// asked at the first look. Never inlined: a frame of its own, which
// bench/port_driver/hot_path.py leaves out of the work a message costs (it
// is the waiting).
template <typename Until, typename Ready>
ABSL_ATTRIBUTE_NOINLINE bool SpinUntil(Until until, bool yield, Ready ready) {
  absl::Time end = absl::InfiniteFuture();
  for (uint32_t i = 1;; ++i) {
    if (ready()) return true;
    if (i % 32 == 0) {
      if (i == 32) end = until();
      if (absl::Now() >= end) return false;
      if (yield) std::this_thread::yield();
    }
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Opening and the HELLO exchange.

absl::Status PortCore::SendHello(int socket, const PortOptions& options) {
  if (absl::Status s = ValidatePortOptions(options); !s.ok()) return s;
  wire::Encoder e(wire::MessageType::kHello, 0);
  e.SetHello(MakeHello(options, ::getpid(), ::geteuid()));
  // Borrow the fd for one send without taking ownership.
  UnixChannel channel{UniqueFd(socket)};
  absl::Status s = channel.Send(e.bytes(), {}, /*with_credentials=*/true);
  channel.TakeFd().Release();
  return s;
}

absl::StatusOr<std::shared_ptr<PortCore>> PortCore::Open(
    UniqueFd socket, const PeerIdentity& peer, const PortOptions& options) {
  if (absl::Status s = ValidatePortOptions(options); !s.ok()) return s;
  UnixChannel channel(std::move(socket));
  if (absl::Status s = channel.SetPassCredentials(true); !s.ok()) return s;
  if (!options.hello_already_sent) {
    if (absl::Status s = SendHello(channel.fd(), options); !s.ok()) return s;
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return ErrnoToStatus(errno, "eventfd for a port");
  std::shared_ptr<PortCore> core(
      new PortCore(std::move(channel), std::move(wake), peer, options));
  if (absl::Status s = core->Handshake(); !s.ok()) return s;
  return core;
}

PortCore::PortCore(UnixChannel channel, UniqueFd wake_fd,
                   const PeerIdentity& peer, const PortOptions& options)
    : peer_(peer),
      options_(options),
      channel_(std::move(channel)),
      wake_fd_(std::move(wake_fd)),
      counters_(std::make_shared<PortCounters>()),
      receive_buffer_(new uint8_t[wire::kMaxMessageBytes]),
      stash_({options.max_stash_messages, options.max_stash_bytes,
              options.max_stash_fds}),
      in_mapped_(std::make_shared<std::atomic<uint32_t>>(0)) {}

PortCore::~PortCore() = default;

absl::Status PortCore::Handshake() {
  const Deadline deadline(options_.hello_timeout);
  pollfd p{channel_.fd(), POLLIN, 0};
  int r;
  while ((r = ::poll(&p, 1, PollTimeoutMs(deadline))) < 0 && errno == EINTR) {
  }
  if (r < 0) return ErrnoToStatus(errno, "waiting for the peer's HELLO");
  if (r == 0) {
    return absl::DeadlineExceededError(
        absl::StrCat("no HELLO from the peer within ",
                     absl::FormatDuration(options_.hello_timeout)));
  }
  auto got = channel_.Receive(
      absl::MakeSpan(receive_buffer_.get(), wire::kMaxMessageBytes), true);
  if (!got.ok()) return got.status();
  if (!got->has_value()) {
    return absl::UnavailableError("the peer closed before sending HELLO");
  }
  ReceivedMessage& m = **got;
  auto terms = AcceptHello(absl::MakeConstSpan(receive_buffer_.get(), m.size),
                           m.fds.size(), m.credentials, peer_, options_);
  if (!terms.ok()) return terms.status();
  peer_geometry_ = terms->geometry;
  peer_max_segments_ = terms->max_segments;
  peer_has_ring_ = terms->has_ring;
  {
    MutexLock lock(&in_mu_);
    in_.resize(peer_max_segments_);
  }
  // Credentials matter only on HELLO; stop paying for them per message.
  if (absl::Status s = channel_.SetPassCredentials(false); !s.ok()) return s;
  if (options_.ring_capacity > 0 && peer_has_ring_) return StartRing();
  return absl::OkStatus();
}

absl::Status PortCore::StartRing() {
  auto ring = RingWriter::Create(options_.ring_capacity);
  if (!ring.ok()) return ring.status();
  MutexLock lock(&send_mu_);
  wire::Encoder e(wire::MessageType::kNewRing, 0);
  e.SetNewRing({(*ring)->file_size(), (*ring)->token()});
  const Frame frame(e);
  const int fd = (*ring)->fd();
  absl::Status s = channel_.Send(frame.parts(), absl::MakeConstSpan(&fd, 1),
                                 false, /*dont_wait=*/true);
  if (absl::IsUnavailable(s)) {
    // The peer sent its HELLO (and maybe messages) and is gone already.
    // Nobody will read a ring; what it sent is still ours to receive, so
    // the port opens without one and closes once that is read.
    return absl::OkStatus();
  }
  if (IsWouldBlock(s)) {
    s = SendLocked(frame, absl::MakeConstSpan(&fd, 1),
                   Deadline(options_.hello_timeout));
  }
  if (!s.ok()) return s;
  (*ring)->CloseFd();
  ring_out_ = *std::move(ring);
  ring_mode_out_ = true;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Closing.

absl::Status PortCore::closed_reason() const {
  MutexLock lock(&in_mu_);
  return closed_reason_;
}

void PortCore::Close(absl::Status reason, bool send_bye, bool tell_peer) {
  {
    MutexLock lock(&in_mu_);
    if (closed_.load(std::memory_order_relaxed)) return;
    closed_reason_ = std::move(reason);
    closed_.store(true, std::memory_order_release);
    // Drop the peer's segments; Messages still out keep their mappings.
    for (auto& seg : in_) seg.reset();
    // The stash is the reader's: with none active, nobody else touches it;
    // an active one drops it in EndReading.
    if (!reader_active_) stash_.Clear();
  }
  counters_->closed.store(true);
  counters_->segments_in.store(0);
  // The peer's senders stop at their next call (PeerGone), not when
  // memory runs out.
  RingReader* ring = ring_in_for_close_.load(std::memory_order_acquire);
  if (ring != nullptr && tell_peer) ring->MarkClosed();
  if (send_bye && tell_peer) {
    // BYE is ordered (it follows the data already sent), so it goes where
    // the data goes. Best effort: if a sender holds send_mu_ (blocked on a
    // full socket), the EOF after shutdown() says the same.
    if (send_mu_.TryLock()) {
      wire::Encoder e(wire::MessageType::kBye, 0);
      SendOrdered(Frame(e), {}, Deadline::Passed()).IgnoreError();
      send_mu_.Unlock();
    }
  }
  // Wakes a reader blocked in poll and shows the peer an EOF. The fd itself
  // stays open until the last Buffer/Message lets go of this core, so no
  // thread can ever poll a reused descriptor number.
  if (tell_peer) ::shutdown(channel_.fd(), SHUT_RDWR);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
  {
    MutexLock lock(&in_mu_);
    in_cv_.SignalAll();
  }
  MutexLock lock(&out_mu_);
  out_.clear();  // Buffers and Trackings keep the segments they use
  counters_->segments_out.store(0);
}

// ring_out_ is set during Open and immutable after: reading the pointer
// needs no send_mu_ (the analysis cannot know that).
bool PortCore::PeerGone() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (peer_gone_.load(std::memory_order_acquire)) return true;
  bool gone = ring_out_ != nullptr && ring_out_->ConsumerClosed();
  if (!gone) {
    // No word through a ring (none, or the peer died without a BYE): a
    // system call, so only every kPeerProbeEvery calls. Racy decrements
    // only move the probe by a call.
    const uint32_t left = probe_countdown_.load(std::memory_order_relaxed);
    if (left > 0) {
      probe_countdown_.store(left - 1, std::memory_order_relaxed);
      return false;
    }
    probe_countdown_.store(kPeerProbeEvery, std::memory_order_relaxed);
    gone = PeerHungUp();
  }
  if (gone) peer_gone_.store(true, std::memory_order_release);
  return gone;
}

bool PortCore::PeerHungUp() const {
  pollfd p{channel_.fd(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)) != 0;
}

void PortCore::DropInbox() {
  MessageQueue unread;  // destroyed after the lock is released
  {
    MutexLock lock(&in_mu_);
    unread.swap(inbox_);
  }
}

void PortCore::ProtocolError(const absl::Status& error) {
  counters_->protocol_errors.fetch_add(1, std::memory_order_relaxed);
  Log(LogLevel::kWarning, "port_protocol_error",
      {{"port", options_.port_id},
       {"peer_pid", static_cast<int64_t>(peer_.pid)},
       {"peer", peer_.name},
       {"reason", error.message()}});
  Close(absl::UnavailableError(
            absl::StrCat("protocol error from the peer: ", error.message())),
        /*send_bye=*/false);
}

// ---------------------------------------------------------------------------
// Outgoing memory.

Buffer PortCore::MakeBuffer(Claim claim, size_t size) {
  return BufferAccess::Shared(shared_from_this(), std::move(claim.segment),
                              claim.first, claim.count, size);
}

std::optional<PortCore::Claim> PortCore::TryClaim(uint32_t chunks,
                                                  uint32_t min_chunks) {
  MutexLock lock(&out_mu_);
  // First fit, lowest segment first: the chunks the receiver freed last
  // are reused first, so the memory both sides touch stays small and hot
  // in cache, and higher segments fall idle and get released.
  for (uint32_t want = chunks; want >= min_chunks && want > 0;) {
    for (uint32_t id = 0; id < out_.size(); ++id) {
      OutSegment& out = out_[id];
      if (!out.segment || out.retiring) continue;
      if (auto first = out.segment->chunks().Allocate(want, 0)) {
        out.last_used = absl::InfinitePast();  // "used since the last check"
        return Claim{out.segment, *first, want};
      }
    }
    if (want == min_chunks) break;
    want = std::max(min_chunks, want / 2);
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<PortCore::Claim>> PortCore::GrowPool(
    uint32_t chunks) {
  // Only a port with outgoing memory needs the Reclaimer, and not at Open:
  // its thread makes the process multi-threaded for good, and glibc and
  // libstdc++ then lock every mutex, shared_ptr count and malloc free
  // list (9 more locked instructions per 1 KiB message on each side).
  if (options_.idle_segment_timeout != absl::InfiniteDuration()) {
    std::call_once(reclaim_registered_,
                   [this] { RegisterForReclaim(weak_from_this()); });
  }
  MutexLock lock(&out_mu_);
  if (closed()) return std::optional<Claim>();
  uint32_t live = 0;
  uint32_t free_id = static_cast<uint32_t>(out_.size());
  for (uint32_t i = 0; i < out_.size(); ++i) {
    if (out_[i].segment) {
      ++live;
    } else if (free_id == out_.size()) {
      free_id = i;
    }
  }
  if (live >= options_.max_segments) return std::optional<Claim>();
  auto seg = Segment::Create(free_id, options_.geometry, peer_.pid);
  if (!seg.ok()) {
    return absl::Status(seg.status().code(),
                        absl::StrCat("cannot add an outgoing segment: ",
                                     seg.status().message()));
  }
  if (free_id == out_.size()) out_.emplace_back();
  OutSegment& out = out_[free_id];
  out.segment = *std::move(seg);
  out.announced = false;
  out.retiring = false;
  out.last_used = absl::InfinitePast();
  counters_->segments_out.fetch_add(1, std::memory_order_relaxed);
  if (chunks == 0) return std::optional<Claim>();
  auto first = out.segment->chunks().Allocate(chunks, 0);
  if (!first) return std::optional<Claim>();
  return std::optional<Claim>(Claim{out.segment, *first, chunks});
}

void PortCore::RaiseOosm() {
  {
    MutexLock lock(&out_mu_);
    for (OutSegment& out : out_) {
      if (out.segment) out.segment->oosm().store(1, std::memory_order_seq_cst);
    }
  }
  // Pairs with the fence in OnIncomingFreed: either the receiver sees our
  // flag after its free, or our re-check below sees its freed bits.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

template <typename T, typename ClaimFn, typename GrowFn, typename RefuseFn>
absl::StatusOr<T> PortCore::ClaimOrWait(const Deadline& deadline, bool blocking,
                                        ClaimFn claim, GrowFn grow,
                                        RefuseFn refuse) {
  bool counted = false;
  while (true) {
    if (closed()) return closed_reason();
    if (std::optional<T> got = claim()) return *std::move(got);
    absl::StatusOr<std::optional<T>> grown = grow();
    if (!grown.ok()) return grown.status();
    if (grown->has_value()) return **std::move(grown);
    // The pool is at its limit and full: ask the receiver for memory.
    const uint64_t seen = memory_epoch_.load(std::memory_order_acquire);
    RaiseOosm();
    if (std::optional<T> got = claim()) return *std::move(got);
    if (!counted) {
      counters_->oosm_waits.fetch_add(1, std::memory_order_relaxed);
      counted = true;
    }
    SendControl(wire::MessageType::kOosm);
    if (!blocking) return refuse(/*timed_out=*/false);
    if (!WaitForMemory(seen, deadline)) {
      if (std::optional<T> got = claim()) return *std::move(got);
      return refuse(/*timed_out=*/true);
    }
  }
}

absl::StatusOr<Buffer> PortCore::Allocate(size_t size, size_t min_size,
                                          const Deadline& deadline,
                                          bool blocking) {
  if (closed()) return closed_reason();
  if (PeerGone()) return peer_gone_reason();
  if (min_size > size) min_size = size;
  if (size < options_.inline_threshold || size == 0) {
    return BufferAccess::Inline(
        std::max<size_t>(options_.inline_threshold, 1) - 1, size);
  }
  const uint64_t data_size = options_.geometry.data_size();
  if (size > data_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot allocate %u bytes: one buffer must fit one segment's data "
        "area (%u bytes = %u chunks x %u); use SendCopy, which splits, or "
        "open the port with larger chunks",
        size, data_size, options_.geometry.chunk_count,
        options_.geometry.chunk_size));
  }
  const uint32_t chunk = options_.geometry.chunk_size;
  const uint32_t chunks = static_cast<uint32_t>((size + chunk - 1) / chunk);
  const uint32_t min_chunks = std::max<uint32_t>(
      1, static_cast<uint32_t>((min_size + chunk - 1) / chunk));
  const uint32_t least = std::min(min_chunks, chunks);
  absl::StatusOr<Claim> claim = ClaimOrWait<Claim>(
      deadline, blocking, [&] { return TryClaim(chunks, least); },
      [&] { return GrowPool(chunks); },
      [&](bool timed_out) {
        const PortStats s = stats();
        if (!timed_out) {
          return absl::ResourceExhaustedError(absl::StrFormat(
              "out of shared memory: %u bytes wanted, %u chunks in use in %u "
              "segments (limit %u); the receiver has not freed them yet. "
              "Retry after fd() turns readable and TryReceive() ran",
              size, s.chunks_in_use, s.segments_out, options_.max_segments));
        }
        return absl::DeadlineExceededError(absl::StrFormat(
            "no shared memory for %u bytes before the deadline: %u chunks in "
            "use in %u segments (limit %u), the receiver holds them",
            size, s.chunks_in_use, s.segments_out, options_.max_segments));
      });
  if (!claim.ok()) return claim.status();
  return MakeBuffer(*std::move(claim), size);
}

void PortCore::OnOutgoingFreed() {
  memory_epoch_.fetch_add(1, std::memory_order_acq_rel);
  if (memory_waiters_.load() == 0) return;
  {
    MutexLock lock(&in_mu_);
    in_cv_.SignalAll();
  }
  // A waiter may be the reader, asleep in poll().
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
}

void PortCore::OnIncomingFreed(Segment& segment) {
  // Pairs with RaiseOosm: our freed bits are visible before we look at oosm.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::atomic<uint32_t>& oosm = segment.oosm();
  if (oosm.load(std::memory_order_relaxed) == 0) return;
  uint32_t raised = 1;
  if (oosm.compare_exchange_strong(raised, 0, std::memory_order_seq_cst)) {
    SendControl(wire::MessageType::kShmAck);
  }
}

// ---------------------------------------------------------------------------
// Tracking.

absl::StatusOr<wire::TrackingRef> PortCore::ClaimTrackingSlot(
    uint32_t stream, std::shared_ptr<Segment>* segment) {
  const Deadline deadline(options_.allocate_timeout);
  auto try_claim = [&]() -> std::optional<wire::TrackingRef> {
    MutexLock lock(&out_mu_);
    for (uint32_t id = 0; id < out_.size(); ++id) {
      OutSegment& out = out_[id];
      if (!out.segment || out.retiring) continue;
      auto slot = out.segment->tracking_slots().Allocate(1, 0);
      if (!slot) continue;
      uint32_t generation = ++tracking_generation_;
      if (generation == 0) generation = ++tracking_generation_;
      out.segment->tracking_word(*slot).store(TrackingWord(generation, stream),
                                              std::memory_order_release);
      *segment = out.segment;
      out.last_used = absl::InfinitePast();
      return wire::TrackingRef{id, *slot, generation};
    }
    return std::nullopt;
  };
  return ClaimOrWait<wire::TrackingRef>(
      deadline, /*blocking=*/true, try_claim,
      // No live segment has a free slot: add one (without claiming chunks).
      [&]() -> absl::StatusOr<std::optional<wire::TrackingRef>> {
        auto grown = GrowPool(0);
        if (!grown.ok()) return grown.status();
        return try_claim();
      },
      // Every slot stayed in flight: the receiver acks when it frees a
      // slot in a segment marked oosm, and did not.
      [&](bool) {
        return absl::DeadlineExceededError(absl::StrFormat(
            "every tracking slot stayed in flight (%u segments x %u slots) "
            "until the deadline; the receiver is not consuming tracked "
            "messages",
            options_.max_segments, layout::kTrackingSlots));
      });
}

bool PortCore::WaitForMemory(uint64_t seen, const Deadline& deadline) {
  memory_waiters_.fetch_add(1);
  bool in_time;
  {
    MutexLock lock(&in_mu_);
    in_time = WaitFor(lock, deadline, /*spin=*/false, [&] {
      return memory_epoch_.load(std::memory_order_acquire) != seen;
    });
  }
  memory_waiters_.fetch_sub(1);
  return in_time;
}

absl::StatusOr<bool> PortCore::Cancel(Tracking& tracking) {
  if (TrackingAccess::settled(tracking)) return false;
  if (closed()) return closed_reason();
  const TrackingAccess::Slot t = TrackingAccess::Settle(tracking);
  uint64_t expected = t.word;
  if (t.segment->tracking_word(t.slot).compare_exchange_strong(
          expected, 0, std::memory_order_acq_rel)) {
    t.segment->tracking_slots().Free(t.slot, 1);
    counters_->cancels_won.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  counters_->cancels_lost.fetch_add(1, std::memory_order_relaxed);
  return false;
}

absl::StatusOr<bool> PortCore::ClaimTracked(const wire::TrackingRef& ref,
                                            uint32_t stream) {
  if (ref.segment_id >= peer_max_segments_) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tracking segment_id %u out of range [0, %u)",
                        ref.segment_id, peer_max_segments_));
  }
  if (ref.slot >= layout::kTrackingSlots || ref.generation == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tracking slot %u (generation %u) out of range [0, %u)",
                        ref.slot, ref.generation, layout::kTrackingSlots));
  }
  std::shared_ptr<Segment> segment;
  {
    MutexLock lock(&in_mu_);
    segment = in_[ref.segment_id];
  }
  if (!segment) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tracking names segment %u, which was never announced",
                        ref.segment_id));
  }
  uint64_t expected = TrackingWord(ref.generation, stream);
  if (segment->tracking_word(ref.slot).compare_exchange_strong(
          expected, 0, std::memory_order_acq_rel)) {
    segment->tracking_slots().Free(ref.slot, 1);
    OnIncomingFreed(*segment);  // the sender may wait for a slot
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Sending.

absl::Status PortCore::SendLocked(const Frame& frame, absl::Span<const int> fds,
                                  const Deadline& deadline) {
  while (true) {
    absl::Status s =
        channel_.Send(frame.parts(), fds, false, /*dont_wait=*/true);
    if (s.ok()) return s;
    if (closed()) return closed_reason();
    if (!IsWouldBlock(s)) {
      Close(absl::UnavailableError(absl::StrCat(
                "the peer closed the connection (", s.message(), ")")),
            false);
      return closed_reason();
    }
    if (deadline.passed()) {
      return absl::DeadlineExceededError(
          absl::StrCat("the socket to the peer stayed full for ",
                       absl::FormatDuration(deadline.timeout()),
                       "; is the peer still reading?"));
    }
    // While the socket is full, drain what the peer sends us (if nobody
    // else is reading): two ends that both only send must not deadlock.
    bool reader = false;
    {
      MutexLock lock(&in_mu_);
      if (!reader_active_ && inbox_.size() < kMaxInboxWhileSending) {
        reader_active_ = reader = true;
      }
    }
    pollfd p{channel_.fd(), static_cast<short>(POLLOUT | (reader ? POLLIN : 0)),
             0};
    int r;
    while ((r = ::poll(&p, 1, PollTimeoutMs(deadline))) < 0 && errno == EINTR) {
    }
    if (reader) {
      if (r > 0 && (p.revents & POLLIN)) {
        PumpOnce(Deadline::Passed(), true, false);
      }
      MutexLock lock(&in_mu_);
      EndReading();
    }
  }
}

absl::Status PortCore::PublishRing(const Deadline& deadline) {
  if (!ring_out_->Publish()) return absl::OkStatus();
  wire::Encoder e(wire::MessageType::kRingWake, 0);
  return SendLocked(Frame(e), {}, deadline);
}

bool PortCore::AppendToRing(const Frame& frame, const Deadline& deadline) {
  auto append = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ring_out_->TryAppend(ring_layout::kKindMessage, frame.parts());
  };
  if (append()) return true;
  // Full. A reader that keeps up frees room within microseconds, and the
  // socket is the slower road for both ends (a system call per message
  // each side): wait a little before taking it. Yield while waiting: the
  // reader may share this CPU.
  return SpinUntil(
      [&] { return std::min(deadline.at(), absl::Now() + kRingFullPatience); },
      /*yield=*/true, append);
}

absl::Status PortCore::SendOrdered(const Frame& frame,
                                   absl::Span<const int> fds,
                                   const Deadline& deadline) {
  if (ring_out_ != nullptr) {
    if (fds.empty()) {
      if (!ring_mode_out_ && ring_out_->Drained()) {
        // The peer has read past our marker: tell it to return to the ring.
        wire::Encoder e(wire::MessageType::kRingResume, 0);
        if (absl::Status s = SendLocked(Frame(e), {}, deadline); !s.ok()) {
          return s;
        }
        ring_mode_out_ = true;
      }
      if (ring_mode_out_ && AppendToRing(frame, deadline)) {
        AddSingleWriter(counters_->sent_via_ring, 1);
        return PublishRing(deadline);
      }
    }
    if (ring_out_->corrupt()) {
      ProtocolError(absl::InvalidArgumentError(
          "the peer wrote an impossible head into our ring"));
      return closed_reason();
    }
    if (ring_mode_out_) {
      // Ring full, or the message carries an fd: the socket takes over
      // after a marker, so the peer keeps the order.
      ring_out_->AppendMarker();
      ring_mode_out_ = false;
      counters_->ring_fallbacks.fetch_add(1, std::memory_order_relaxed);
      if (absl::Status s = PublishRing(deadline); !s.ok()) return s;
    }
  }
  return SendLocked(frame, fds, deadline);
}

void PortCore::SendControl(wire::MessageType type) {
  if (closed()) return;
  wire::Encoder e(type, 0);
  absl::Status s = channel_.Send(e.bytes(), {}, false, /*dont_wait=*/true);
  if (IsWouldBlock(s) && type == wire::MessageType::kShmAck) {
    // Must not be lost: the sender waits for it. Retried by the next call.
    ack_pending_.store(true, std::memory_order_release);
  }
}

void PortCore::FlushPendingAck() {
  if (ack_pending_.load(std::memory_order_acquire) &&
      ack_pending_.exchange(false)) {
    SendControl(wire::MessageType::kShmAck);
  }
}

void PortCore::ReleaseUnusedChunks(absl::Span<Buffer> buffers) {
  bool freed = false;
  for (Buffer& b : buffers) freed |= BufferAccess::TrimToSize(b);
  if (freed) OnOutgoingFreed();
}

absl::Status PortCore::CheckSendable(absl::Span<const Buffer> buffers,
                                     size_t* inline_count,
                                     size_t* total) const {
  if (buffers.empty()) {
    return absl::InvalidArgumentError("Send needs at least one buffer");
  }
  if (buffers.size() > wire::kMaxDescriptors) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%u buffers in one message; the limit is %u",
                        buffers.size(), wire::kMaxDescriptors));
  }
  for (const Buffer& b : buffers) {
    if (b.data() == nullptr) {
      return absl::InvalidArgumentError(
          "cannot send an empty (default-constructed or moved-from) Buffer");
    }
    if (!b.in_shared_memory()) {
      ++*inline_count;
    } else if (BufferAccess::owner(b) != this) {
      return absl::InvalidArgumentError(
          "the buffer was allocated by another port");
    }
    *total += b.size();
  }
  if (*inline_count > 0 && buffers.size() > 1) {
    return absl::InvalidArgumentError(
        "an inline buffer (smaller than the inline threshold) must be sent on "
        "its own");
  }
  return absl::OkStatus();
}

absl::Status PortCore::FindUnannounced(absl::Span<const Buffer> buffers,
                                       const wire::TrackingRef* tracking,
                                       std::vector<Unannounced>& out) {
  MutexLock lock(&out_mu_);
  auto need = [&](Segment* seg) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    const uint32_t id = seg->id();
    if (id >= out_.size() || out_[id].segment.get() != seg) {
      return closed() ? closed_reason()
                      : absl::InternalError(absl::StrFormat(
                            "segment %u is no longer in the pool", id));
    }
    if (!out_[id].announced &&
        std::find(out.begin(), out.end(), Unannounced{id, seg}) == out.end()) {
      out.push_back({id, seg});
    }
    return absl::OkStatus();
  };
  for (const Buffer& b : buffers) {
    if (!b.in_shared_memory()) continue;
    if (absl::Status s = need(BufferAccess::segment(b)); !s.ok()) return s;
  }
  if (tracking == nullptr) return absl::OkStatus();
  if (tracking->segment_id >= out_.size() ||
      !out_[tracking->segment_id].segment) {
    return closed() ? closed_reason()
                    : absl::InternalError("tracking segment vanished");
  }
  return need(out_[tracking->segment_id].segment.get());
}

absl::Status PortCore::Announce(absl::Span<const Unannounced> segments,
                                const Deadline& deadline) {
  for (const auto& [id, seg] : segments) {
    wire::Encoder e(wire::MessageType::kNewSegment, 0);
    e.SetNewSegment({id, 0, seg->file_size(), seg->token()});
    const int fd = seg->fd();
    if (absl::Status s =
            SendOrdered(Frame(e), absl::MakeConstSpan(&fd, 1), deadline);
        !s.ok()) {
      return s;
    }
    seg->CloseFd();  // sent once; the mapping keeps the memory alive
    MutexLock lock(&out_mu_);
    if (id < out_.size() && out_[id].segment.get() == seg) {
      out_[id].announced = true;
    }
  }
  return absl::OkStatus();
}

absl::Status PortCore::SendPayload(uint32_t stream,
                                   absl::Span<const Buffer> buffers,
                                   uint8_t flags,
                                   const wire::TrackingRef* tracking,
                                   const Deadline& deadline) {
  if (!buffers[0].in_shared_memory()) {  // inline: the bytes follow the head
    const Buffer& b = buffers[0];
    wire::Encoder e(wire::MessageType::kData, stream, flags);
    if (tracking != nullptr) e.SetTracking(*tracking);
    e.SetInlineLength(static_cast<uint32_t>(b.size()));
    return SendOrdered(Frame(e, b.span()), {}, deadline);
  }
  wire::Encoder e(wire::MessageType::kMmapData, stream, flags);
  if (tracking != nullptr) e.SetTracking(*tracking);
  for (const Buffer& b : buffers) {
    if (b.size() == 0) continue;  // nothing to read; its chunks stay ours
    e.AddDescriptor({BufferAccess::segment(b)->id(),
                     BufferAccess::first_chunk(b),
                     static_cast<uint32_t>(b.size())});
  }
  if (e.descriptor_count() > 0) return SendOrdered(Frame(e), {}, deadline);
  // Only empty buffers: an empty inline message says the same.
  wire::Encoder empty(wire::MessageType::kData, stream, flags);
  if (tracking != nullptr) empty.SetTracking(*tracking);
  return SendOrdered(Frame(empty), {}, deadline);
}

absl::Status PortCore::Send(uint32_t stream, absl::Span<Buffer> buffers,
                            bool last, const wire::TrackingRef* tracking) {
  size_t inline_count = 0;
  size_t total = 0;
  if (absl::Status s = CheckSendable(buffers, &inline_count, &total); !s.ok()) {
    return s;
  }
  if (closed()) return closed_reason();
  if (PeerGone()) return peer_gone_reason();
  ReleaseUnusedChunks(buffers);
  const Deadline deadline(options_.send_timeout);
  MutexLock send_lock(&send_mu_);
  FlushPendingAck();
  // Every segment named by this message (and its tracking slot) must have
  // crossed the socket first.
  if (inline_count == 0 || tracking != nullptr) {
    std::vector<Unannounced> unannounced;
    if (absl::Status s = FindUnannounced(buffers, tracking, unannounced);
        !s.ok()) {
      return s;
    }
    if (!unannounced.empty()) {
      if (absl::Status s = Announce(unannounced, deadline); !s.ok()) return s;
    }
  }
  if (absl::Status s = SendPayload(stream, buffers, last ? wire::kFlagLast : 0,
                                   tracking, deadline);
      !s.ok()) {
    return s;  // the buffers still own (and free) chunks
  }
  // The peer owns the chunks now: it frees them when its Message dies.
  for (Buffer& b : buffers) BufferAccess::HandOver(b);
  AddSingleWriter(counters_->messages_sent, 1);
  AddSingleWriter(counters_->bytes_sent, total);
  return absl::OkStatus();
}

absl::Status PortCore::SendCopy(uint32_t stream,
                                absl::Span<const uint8_t> bytes, bool last) {
  const Deadline deadline(options_.allocate_timeout);
  if (bytes.size() < options_.inline_threshold) {
    auto b = Allocate(bytes.size(), bytes.size(), deadline, true);
    if (!b.ok()) return b.status();
    if (!bytes.empty()) std::memcpy(b->data(), bytes.data(), bytes.size());
    return Send(stream, absl::MakeSpan(&*b, 1), last, nullptr);
  }
  const uint64_t piece = options_.geometry.data_size();
  const uint64_t pool = piece * options_.max_segments;
  if (bytes.size() > pool) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a %u-byte payload exceeds this port's shared memory (%u segments x "
        "%u bytes = %u)",
        bytes.size(), options_.max_segments, piece, pool));
  }
  std::vector<Buffer> buffers;
  for (size_t offset = 0; offset < bytes.size(); offset += piece) {
    const size_t n = std::min<size_t>(piece, bytes.size() - offset);
    // A tail below the inline threshold still goes to shared memory: all
    // fragments of one message travel as descriptors.
    const size_t want = std::max<size_t>(n, options_.inline_threshold);
    auto b = Allocate(want, want, deadline, true);
    if (!b.ok()) return b.status();
    b->Resize(n);
    std::memcpy(b->data(), bytes.data() + offset, n);
    buffers.push_back(*std::move(b));
  }
  return Send(stream, absl::MakeSpan(buffers), last, nullptr);
}

absl::StatusOr<Tracking> PortCore::SendTracked(uint32_t stream, Buffer buffer,
                                               bool last) {
  if (closed()) return closed_reason();
  if (PeerGone()) return peer_gone_reason();
  std::shared_ptr<Segment> segment;
  auto ref = ClaimTrackingSlot(stream, &segment);
  if (!ref.ok()) return ref.status();
  absl::Status s = Send(stream, absl::MakeSpan(&buffer, 1), last, &*ref);
  const uint64_t word = TrackingWord(ref->generation, stream);
  if (!s.ok()) {
    uint64_t expected = word;
    if (segment->tracking_word(ref->slot).compare_exchange_strong(expected,
                                                                  0)) {
      segment->tracking_slots().Free(ref->slot, 1);
    }
    return s;
  }
  return TrackingAccess::Make(shared_from_this(), std::move(segment), ref->slot,
                              word, stream);
}

// ---------------------------------------------------------------------------
// Receiving.

template <typename Ready>
bool PortCore::WaitFor(MutexLock& lock, const Deadline& deadline, bool spin,
                       Ready ready) {
  while (!ready()) {
    if (closed_.load(std::memory_order_acquire)) return true;
    if (reader_active_) {
      if (!CvWait(in_cv_, lock, deadline)) return ready();
      continue;
    }
    if (deadline.expired()) return false;
    reader_active_ = true;
    // On the mutex, not `lock` (which stays the owner of record): the
    // analysis follows a mutex through this call, not a lock by reference.
    in_mu_.Unlock();
    PumpOnce(deadline, /*dont_wait=*/false, spin);
    in_mu_.Lock();
    EndReading();
  }
  return true;
}

absl::StatusOr<Message> PortCore::Receive(const Deadline& deadline) {
  FlushPendingAck();
  MutexLock lock(&in_mu_);
  while (inbox_.empty()) {
    if (closed_.load(std::memory_order_acquire)) return closed_reason_;
    if (!WaitFor(lock, deadline, /*spin=*/true, [&] {
          in_mu_.AssertHeld();  // WaitFor calls it under in_mu_
          return !inbox_.empty();
        })) {
      return absl::DeadlineExceededError("no message before the deadline");
    }
  }
  return inbox_.TakeFront();  // one move, into the result
}

absl::StatusOr<std::optional<Message>> PortCore::TryReceive() {
  FlushPendingAck();
  MutexLock lock(&in_mu_);
  while (true) {
    if (!inbox_.empty()) return std::optional<Message>(inbox_.TakeFront());
    if (closed_.load(std::memory_order_acquire)) return closed_reason_;
    if (reader_active_) return std::optional<Message>();
    reader_active_ = true;
    lock.Unlock();
    const PumpResult r =
        PumpOnce(Deadline::Passed(), /*dont_wait=*/true, /*spin=*/false);
    lock.Lock();
    EndReading();
    if (r == PumpResult::kTimeout && inbox_.empty()) {
      return std::optional<Message>();
    }
  }
}

void PortCore::EndReading() {
  // What this turn delivered, in order, under the lock the caller took
  // anyway (none of its own per message).
  if (inbox_.empty()) {
    inbox_.swap(batch_);  // the usual case: no message moves
  } else {
    while (!batch_.empty()) inbox_.push_back(batch_.TakeFront());
  }
  reader_active_ = false;
  if (closed_.load(std::memory_order_relaxed)) stash_.Clear();
  in_cv_.SignalAll();
}

bool PortCore::PollSocket(const Deadline& deadline) {
  pollfd p[2] = {{channel_.fd(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
  int r;
  while ((r = ::poll(p, 2, PollTimeoutMs(deadline))) < 0 && errno == EINTR) {
  }
  if (r == 0) return false;
  if (p[1].revents & POLLIN) {
    uint64_t value;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &value, sizeof(value));
  }
  return true;
}

absl::StatusOr<std::optional<ReceivedMessage>> PortCore::ReceiveBlocking(
    const Deadline& deadline) {
  // SO_RCVTIMEO bounds the sleep. It changes only when the time left drops
  // below a second, so a long wait costs no extra system call per message.
  absl::Duration want = absl::ZeroDuration();  // zero: no timeout
  if (!deadline.infinite()) {
    const absl::Duration left = deadline.left();
    if (left <= absl::ZeroDuration()) return std::optional<ReceivedMessage>();
    want = left >= absl::Seconds(1) ? absl::Seconds(1)
                                    : absl::Ceil(left, absl::Milliseconds(1));
  }
  if (want != receive_timeout_) {
    const timeval tv = absl::ToTimeval(want);
    if (::setsockopt(channel_.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) !=
        0) {
      return ErrnoToStatus(errno, "setsockopt(SO_RCVTIMEO)");
    }
    receive_timeout_ = want;
  }
  return channel_.Receive(
      absl::MakeSpan(receive_buffer_.get(), wire::kMaxMessageBytes),
      /*dont_wait=*/false);
}

bool PortCore::Process(absl::Span<const uint8_t> bytes,
                       std::vector<UniqueFd>& fds) {
  auto decoded = wire::Decode(bytes, static_cast<int>(fds.size()));
  if (!decoded.ok()) {
    ProtocolError(decoded.status());
    return false;
  }
  if (absl::Status s = Dispatch(*decoded, fds); !s.ok()) {
    const std::string what =
        absl::StrCat(wire::MessageTypeName(decoded->type()), ": ", s.message());
    if (absl::IsResourceExhausted(s)) {
      // This process ran out (memory or fds to map what the peer sent,
      // within the limits it agreed to): not the peer's fault.
      Log(LogLevel::kWarning, "port_out_of_resources",
          {{"port", options_.port_id}, {"reason", what}});
      Close(absl::UnavailableError(
                absl::StrCat("this process could not take the peer's ", what)),
            /*send_bye=*/false);
    } else {
      ProtocolError(absl::Status(s.code(), what));
    }
    return false;
  }
  return true;
}

PortCore::PumpResult PortCore::DrainRing(int max) {
  int n = 0;
  std::vector<UniqueFd> no_fds;
  while (ring_mode_in_ && n < max) {
    auto entry = ring_in_->Pop(
        absl::MakeSpan(receive_buffer_.get(), wire::kMaxMessageBytes));
    if (!entry.ok()) {
      ProtocolError(entry.status());
      return PumpResult::kClosed;
    }
    if (!entry->has_value()) break;
    ++n;
    if ((*entry)->kind == ring_layout::kKindSocketMarker) {
      ring_mode_in_ = false;  // the next ordered messages are on the socket
      break;
    }
    if (!Process(absl::MakeConstSpan(receive_buffer_.get(), (*entry)->length),
                 no_fds)) {
      return PumpResult::kClosed;
    }
  }
  return n > 0 ? PumpResult::kProgress : PumpResult::kTimeout;
}

bool PortCore::SpinOnRing(const Deadline& deadline) {
  constexpr uint32_t kMissesBeforeGivingUp = 8;
  constexpr uint32_t kRetryEvery = 64;
  absl::Duration window = options_.receive_spin;
  const bool adaptive = window <= absl::ZeroDuration();
  if (adaptive) {
    window = options_.adaptive_spin;
    if (window <= absl::ZeroDuration()) return false;
    if (spin_misses_ >= kMissesBeforeGivingUp &&
        ++waits_without_spin_ % kRetryEvery != 0) {
      return false;
    }
  }
  AddSingleWriter(counters_->receive_spins, 1);
  if (SpinUntil([&] { return std::min(deadline.at(), absl::Now() + window); },
                /*yield=*/false, [&] { return !ring_in_->Empty(); })) {
    AddSingleWriter(counters_->receive_spin_hits, 1);
    spin_misses_ = 0;
    return true;
  }
  if (adaptive && spin_misses_ < kMissesBeforeGivingUp) ++spin_misses_;
  return false;
}

PortCore::PumpResult PortCore::PumpOnce(const Deadline& deadline,
                                        bool dont_wait, bool spin) {
  if (closed()) return PumpResult::kClosed;
  // Ordered messages that are ready come first.
  if (ring_mode_in_) {
    const PumpResult r = DrainRing(64);
    if (r != PumpResult::kTimeout) return r;
  }
  if (!ring_mode_in_ && !stash_.empty()) {
    ReorderStash::Entry next = stash_.Pop();
    return Process(next.bytes, next.fds) ? PumpResult::kProgress
                                         : PumpResult::kClosed;
  }
  if (!dont_wait) {
    if (ring_mode_in_) {
      if (spin && SpinOnRing(deadline)) return DrainRing(64);
      // Raise the sleep flag, then look once more (no lost wake-up).
      if (!ring_in_->PrepareToSleep()) return DrainRing(64);
    }
  }
  absl::StatusOr<std::optional<ReceivedMessage>> got;
  if (!dont_wait && spin) {
    // A Receive caller sleeps in recvmsg itself: one system call per wake-up
    // instead of poll + recvmsg. Nothing but the socket needs to wake it
    // (Close() shuts the socket down; memory waiters sleep on in_cv_).
    got = ReceiveBlocking(deadline);
    if (ring_mode_in_) ring_in_->Awake();
  } else {
    if (!dont_wait) {
      const bool ready = PollSocket(deadline);
      if (ring_mode_in_) ring_in_->Awake();
      if (!ready) {
        return ring_mode_in_ && !ring_in_->Empty() ? DrainRing(64)
                                                   : PumpResult::kTimeout;
      }
    }
    got = channel_.Receive(
        absl::MakeSpan(receive_buffer_.get(), wire::kMaxMessageBytes),
        /*dont_wait=*/true);
  }
  if (!got.ok()) {
    if (closed()) return PumpResult::kClosed;
    if (got.status().code() == absl::StatusCode::kUnavailable) {
      // Whatever the peer put in the ring before it went away still counts.
      if (ring_mode_in_ && !ring_in_->Empty()) return DrainRing(1 << 30);
      Close(absl::UnavailableError("the peer closed the connection"), false);
    } else if (absl::IsResourceExhausted(got.status())) {
      // This process ran out (of fds: the kernel dropped one the peer
      // sent); the peer did nothing wrong.
      Close(absl::UnavailableError(got.status().message()), false);
    } else {
      ProtocolError(got.status());
    }
    return PumpResult::kClosed;
  }
  if (!got->has_value()) {
    if (ring_mode_in_ && !ring_in_->Empty()) return DrainRing(64);
    // Nothing anywhere and the caller will not wait here: it waits on fd()
    // (an event loop). Raise the sleep flag so that the next entry comes
    // with a RING_WAKE that makes fd() readable; look once more after.
    if (dont_wait && ring_mode_in_ && !ring_in_->PrepareToSleep()) {
      return DrainRing(64);
    }
    return dont_wait || spin ? PumpResult::kTimeout : PumpResult::kProgress;
  }
  ReceivedMessage& m = **got;
  const absl::Span<const uint8_t> bytes(receive_buffer_.get(), m.size);
  if (ring_mode_in_ && m.size >= wire::kHeaderBytes &&
      !wire::IsUnordered(static_cast<wire::MessageType>(bytes[4]))) {
    // An ordered message on the socket while we read the ring: it follows
    // a marker already in the ring. Keep it (bounded) until we reach the
    // marker.
    if (absl::Status s = stash_.Push(bytes, m.fds); !s.ok()) {
      ProtocolError(s);
      return PumpResult::kClosed;
    }
    return PumpResult::kProgress;
  }
  return Process(bytes, m.fds) ? PumpResult::kProgress : PumpResult::kClosed;
}

absl::Status PortCore::Dispatch(const wire::Decoded& m,
                                std::vector<UniqueFd>& fds) {
  switch (m.type()) {
    case wire::MessageType::kHello:
      return absl::InvalidArgumentError("a second HELLO");
    case wire::MessageType::kData:
      return OnData(m);
    case wire::MessageType::kMmapData:
      return OnMmapData(m);
    case wire::MessageType::kNewSegment:
      return OnNewSegment(m, std::move(fds[0]));
    case wire::MessageType::kReleaseSegment:
      return OnReleaseSegment(m);
    case wire::MessageType::kOosm:
      return absl::OkStatus();  // the shared oosm flag carries the state
    case wire::MessageType::kShmAck: {
      memory_epoch_.fetch_add(1, std::memory_order_acq_rel);
      MutexLock lock(&in_mu_);
      in_cv_.SignalAll();
      return absl::OkStatus();
    }
    case wire::MessageType::kBye:
      Close(absl::UnavailableError("the peer closed the port"), false);
      return absl::OkStatus();
    case wire::MessageType::kNewRing:
      return OnNewRing(m, std::move(fds[0]));
    case wire::MessageType::kRingWake:
      return absl::OkStatus();  // its job was to end our poll()
    case wire::MessageType::kRingResume:
      if (ring_in_ == nullptr || ring_mode_in_) {
        return absl::InvalidArgumentError("RING_RESUME without a marker");
      }
      ring_mode_in_ = true;
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown message type");
}

absl::Status PortCore::OnData(const wire::Decoded& m) {
  if (m.tracking.has_value()) {
    auto claimed = ClaimTracked(*m.tracking, m.header.stream);
    if (!claimed.ok()) return claimed.status();
    if (!*claimed) {
      counters_->cancelled_dropped.fetch_add(1, std::memory_order_relaxed);
      return absl::OkStatus();
    }
  }
  // Built where the inbox will hold it (no move).
  Message& message = batch_.emplace_back();
  MessageAccess::FillInline(message, m.header.stream,
                            (m.header.flags & wire::kFlagLast) != 0, m.body);
  CountDelivered(message);
  return absl::OkStatus();
}

absl::Status PortCore::OnMmapData(const wire::Decoded& m) {
  const uint32_t chunk_size = peer_geometry_.chunk_size;
  const uint32_t chunk_count = peer_geometry_.chunk_count;
  Message msg = MessageAccess::Shared(m.header.stream,
                                      (m.header.flags & wire::kFlagLast) != 0);
  {
    MutexLock lock(&in_mu_);
    for (int i = 0; i < m.descriptor_count(); ++i) {
      const wire::Descriptor d = m.descriptor(i);
      if (d.segment_id >= peer_max_segments_) {
        return absl::InvalidArgumentError(
            absl::StrFormat("descriptor %d: segment_id %u out of range [0, %u)",
                            i, d.segment_id, peer_max_segments_));
      }
      const std::shared_ptr<Segment>& seg = in_[d.segment_id];
      if (!seg) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "descriptor %d names segment %u, which was never announced "
            "(no NEW_SEGMENT)",
            i, d.segment_id));
      }
      if (d.size == 0) {
        return absl::InvalidArgumentError(
            absl::StrFormat("descriptor %d: size 0", i));
      }
      if (d.chunk_id >= chunk_count) {
        return absl::InvalidArgumentError(
            absl::StrFormat("descriptor %d: chunk_id %u out of range [0, %u)",
                            i, d.chunk_id, chunk_count));
      }
      const uint64_t needed =
          (static_cast<uint64_t>(d.size) + chunk_size - 1) / chunk_size;
      if (needed > chunk_count - d.chunk_id) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "descriptor %d: %u bytes from chunk %u need %u chunks, past the "
            "segment's %u",
            i, d.size, d.chunk_id, needed, chunk_count));
      }
      MessageAccess::AddFragment(msg, seg, d.chunk_id,
                                 static_cast<uint32_t>(needed), d.size);
    }
  }
  // From here on the Message owns (and on drop frees) the chunks.
  MessageAccess::SetOwner(msg, shared_from_this());
  if (m.tracking.has_value()) {
    auto claimed = ClaimTracked(*m.tracking, m.header.stream);
    if (!claimed.ok()) return claimed.status();
    if (!*claimed) {
      counters_->cancelled_dropped.fetch_add(1, std::memory_order_relaxed);
      return absl::OkStatus();  // msg dies here: chunks go back
    }
  }
  Deliver(std::move(msg));
  return absl::OkStatus();
}

absl::Status PortCore::OnNewSegment(const wire::Decoded& m, UniqueFd fd) {
  const wire::NewSegment ns = m.new_segment();
  if (ns.segment_id >= peer_max_segments_) {
    return absl::InvalidArgumentError(
        absl::StrFormat("segment_id %u out of range [0, %u)", ns.segment_id,
                        peer_max_segments_));
  }
  {
    MutexLock lock(&in_mu_);
    if (in_[ns.segment_id]) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "segment %u announced twice (it is already mapped)", ns.segment_id));
    }
  }
  bool over_cap = false;
  auto seg = OpenCountedPeerSegment(
      std::move(fd), {ns.segment_id, ns.size, ns.token, peer_geometry_},
      in_mapped_, peer_max_segments_, &over_cap);
  if (over_cap) {
    // Within the peer's grant but past this process's cap: not the peer's
    // protocol error, and the caller sees why (Process's Close is a no-op).
    Log(LogLevel::kWarning, "port_peer_segment_cap",
        {{"port", options_.port_id}, {"reason", seg.status().message()}});
    Close(seg.status(), /*send_bye=*/false);
  }
  if (!seg.ok()) return seg.status();
  MutexLock lock(&in_mu_);
  if (closed_.load()) return absl::OkStatus();
  in_[ns.segment_id] = *std::move(seg);
  counters_->segments_in.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status PortCore::OnNewRing(const wire::Decoded& m, UniqueFd fd) {
  if (options_.ring_capacity == 0) {
    return absl::InvalidArgumentError("a ring, but this end offered none");
  }
  if (ring_in_ != nullptr) return absl::InvalidArgumentError("a second ring");
  const wire::NewRing r = m.new_ring();
  auto ring = RingReader::Open(std::move(fd), r.size, r.token);
  if (!ring.ok()) return ring.status();
  ring_in_ = *std::move(ring);
  ring_in_for_close_.store(ring_in_.get(), std::memory_order_release);
  if (closed()) ring_in_->MarkClosed();  // Close ran before this store
  ring_mode_in_ = true;
  return absl::OkStatus();
}

absl::Status PortCore::OnReleaseSegment(const wire::Decoded& m) {
  const uint32_t id = m.release_segment().segment_id;
  MutexLock lock(&in_mu_);
  if (id >= peer_max_segments_ || !in_[id]) {
    return absl::InvalidArgumentError(
        absl::StrFormat("segment %u is not mapped", id));
  }
  in_[id].reset();  // Messages still out keep the mapping
  counters_->segments_in.fetch_sub(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

void PortCore::Deliver(Message&& message) {
  CountDelivered(message);
  batch_.push_back(std::move(message));
}

void PortCore::CountDelivered(const Message& message) {
  AddSingleWriter(counters_->messages_received, 1);
  AddSingleWriter(counters_->bytes_received, message.size());
}

PortStats PortCore::stats() const {
  PortStats s;
  ReadCounters(*counters_, s);
  std::vector<std::shared_ptr<Segment>> mapped;
  {
    MutexLock lock(&out_mu_);
    for (const OutSegment& out : out_) {
      if (!out.segment) continue;
      s.chunks_in_use += out.segment->geometry().chunk_count -
                         out.segment->chunks().CountFree();
      s.tracking_in_flight +=
          layout::kTrackingSlots - out.segment->tracking_slots().CountFree();
      mapped.push_back(out.segment);
    }
  }
  // mincore outside the lock: allocations need not wait for it.
  for (const auto& segment : mapped) {
    s.mapped_bytes_out += segment->file_size();
    s.resident_bytes_out += segment->ResidentBytes();
  }
  return s;
}

}  // namespace shmport::internal
