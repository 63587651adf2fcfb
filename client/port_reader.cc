#include "client/port_reader.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/peer_segments.h"
#include "client/port_core.h"
#include "client/port_handles.h"
#include "common/errors.h"
#include "common/log.h"

namespace shmport::internal {

PortReader::PortReader(PortCore& core, UnixChannel& channel, int wake_fd,
                       PeerSegments& peer_segments, PortCounters& counters,
                       const PortOptions& options)
    : core_(core),
      channel_(channel),
      wake_fd_(wake_fd),
      peer_segments_(peer_segments),
      counters_(counters),
      options_(options),
      receive_buffer_(new uint8_t[wire::kMaxMessageBytes]),
      stash_({options.max_stash_messages, options.max_stash_bytes,
              options.max_stash_fds}) {}

// ---------------------------------------------------------------------------
// Pumping: the ring, the stash, the socket.

PortReader::PumpResult PortReader::OnSocketMessage(ReceivedMessage& m) {
  const absl::Span<const uint8_t> bytes(receive_buffer_.get(), m.size);
  if (mode_ == RingMode::kRing && m.size >= wire::kHeaderBytes &&
      !wire::IsUnordered(static_cast<wire::MessageType>(bytes[4]))) {
    // An ordered message on the socket while we read the ring: it follows
    // a marker already in the ring. Keep it (bounded) until we reach the
    // marker.
    if (absl::Status s = stash_.Push(bytes, m.fds); !s.ok()) {
      core_.ProtocolError(s);
      return PumpResult::kClosed;
    }
    return PumpResult::kProgress;
  }
  return Process(bytes, m.fds) ? PumpResult::kProgress : PumpResult::kClosed;
}

PortReader::PumpResult PortReader::PumpOnce(const Deadline& deadline,
                                            PumpMode mode) {
  if (core_.closed()) return PumpResult::kClosed;
  // Ordered messages that are ready come first.
  if (mode_ == RingMode::kRing) {
    const PumpResult r = DrainRing(64);
    if (r != PumpResult::kTimeout) return r;
  }
  if (mode_ != RingMode::kRing && !stash_.empty()) {
    ReorderStash::Entry next = stash_.Pop();
    return Process(next.bytes, next.fds) ? PumpResult::kProgress
                                         : PumpResult::kClosed;
  }
  if (mode != PumpMode::kNoWait && mode_ == RingMode::kRing) {
    if (mode == PumpMode::kReceive && SpinOnRing(deadline)) {
      return DrainRing(64);
    }
    // Raise the sleep flag, then look once more (no lost wake-up).
    if (!ring_->PrepareToSleep()) return DrainRing(64);
  }
  absl::StatusOr<std::optional<ReceivedMessage>> got;
  if (mode == PumpMode::kReceive) {
    // Receive sleeps in recvmsg itself: one system call per wake-up
    // instead of poll + recvmsg. Nothing but the socket needs to wake it
    // (Close() shuts the socket down; memory waiters sleep on a CondVar).
    got = ReceiveBlocking(deadline);
    if (mode_ == RingMode::kRing) ring_->Awake();
  } else {
    if (mode == PumpMode::kWait) {
      const bool ready = PollSocket(deadline);
      if (mode_ == RingMode::kRing) ring_->Awake();
      if (!ready) {
        return RingHasEntries() ? DrainRing(64) : PumpResult::kTimeout;
      }
    }
    got = channel_.Receive(receive_buffer(), /*dont_wait=*/true);
  }
  if (!got.ok()) return OnSocketError(got.status());
  if (!got->has_value()) return OnSocketEmpty(mode);
  return OnSocketMessage(**got);
}

PortReader::PumpResult PortReader::OnSocketError(const absl::Status& error) {
  if (core_.closed()) return PumpResult::kClosed;
  if (error.code() == absl::StatusCode::kUnavailable) {
    // Whatever the peer put in the ring before it went away still counts.
    if (RingHasEntries()) return DrainRing(1 << 30);
    core_.Close(absl::UnavailableError("the peer closed the connection"),
                false);
  } else if (absl::IsResourceExhausted(error)) {
    // This process ran out (of fds: the kernel dropped one the peer
    // sent); the peer did nothing wrong.
    core_.Close(absl::UnavailableError(error.message()), false);
  } else {
    core_.ProtocolError(error);
  }
  return PumpResult::kClosed;
}

PortReader::PumpResult PortReader::OnSocketEmpty(PumpMode mode) {
  if (RingHasEntries()) return DrainRing(64);
  // Nothing anywhere and the caller will not wait here: it waits on fd()
  // (an event loop). Raise the sleep flag so that the next entry comes
  // with a RING_WAKE that makes fd() readable; look once more after.
  if (mode == PumpMode::kNoWait && mode_ == RingMode::kRing &&
      !ring_->PrepareToSleep()) {
    return DrainRing(64);
  }
  return mode != PumpMode::kWait ? PumpResult::kTimeout : PumpResult::kProgress;
}

PortReader::PumpResult PortReader::DrainRing(int max) {
  int n = 0;
  std::vector<UniqueFd> no_fds;
  while (mode_ == RingMode::kRing && n < max) {
    auto entry = ring_->Pop(receive_buffer());
    if (!entry.ok()) {
      core_.ProtocolError(entry.status());
      return PumpResult::kClosed;
    }
    if (!entry->has_value()) break;
    ++n;
    if ((*entry)->kind == ring_layout::kKindSocketMarker) {
      mode_ = RingMode::kSocket;  // the next ordered messages are on the socket
      break;
    }
    if (!Process(absl::MakeConstSpan(receive_buffer_.get(), (*entry)->length),
                 no_fds)) {
      return PumpResult::kClosed;
    }
  }
  return n > 0 ? PumpResult::kProgress : PumpResult::kTimeout;
}

bool PortReader::SpinOnRing(const Deadline& deadline) {
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
  AddSingleWriter(counters_.receive_spins, 1);
  // A Close of this end ends the spin too: the caller sees it at once.
  if (SpinUntil([&] { return std::min(deadline.at(), absl::Now() + window); },
                /*yield=*/false,
                [&] { return !ring_->Empty() || core_.closed(); })) {
    if (core_.closed()) return true;
    AddSingleWriter(counters_.receive_spin_hits, 1);
    spin_misses_ = 0;
    return true;
  }
  if (adaptive && spin_misses_ < kMissesBeforeGivingUp) ++spin_misses_;
  return false;
}

bool PortReader::PollSocket(const Deadline& deadline) {
  pollfd p[2] = {{channel_.fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  int r;
  while ((r = ::poll(p, 2, PollTimeoutMs(deadline))) < 0 && errno == EINTR) {
  }
  if (r == 0) return false;
  if (p[1].revents & POLLIN) {
    uint64_t value;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_, &value, sizeof(value));
  }
  return true;
}

absl::StatusOr<std::optional<ReceivedMessage>> PortReader::ReceiveBlocking(
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
  return channel_.Receive(receive_buffer(), /*dont_wait=*/false);
}

// ---------------------------------------------------------------------------
// Dispatch.

bool PortReader::Process(absl::Span<const uint8_t> bytes,
                         std::vector<UniqueFd>& fds) {
  auto decoded = wire::Decode(bytes, static_cast<int>(fds.size()));
  if (!decoded.ok()) {
    core_.ProtocolError(decoded.status());
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
      core_.Close(absl::UnavailableError(absl::StrCat(
                      "this process could not take the peer's ", what)),
                  /*send_bye=*/false);
    } else {
      core_.ProtocolError(absl::Status(s.code(), what));
    }
    return false;
  }
  return true;
}

absl::Status PortReader::Dispatch(const wire::Decoded& m,
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
      return peer_segments_.Release(m.release_segment().segment_id);
    case wire::MessageType::kOosm:
      return absl::OkStatus();  // the shared oosm flag carries the state
    case wire::MessageType::kShmAck:
      core_.OnShmAck();
      return absl::OkStatus();
    case wire::MessageType::kBye:
      core_.Close(absl::UnavailableError("the peer closed the port"), false);
      return absl::OkStatus();
    case wire::MessageType::kNewRing:
      return OnNewRing(m, std::move(fds[0]));
    case wire::MessageType::kRingWake:
      return absl::OkStatus();  // its job was to end our poll()
    case wire::MessageType::kRingResume:
      return OnRingResume();
  }
  return absl::InvalidArgumentError("unknown message type");
}

absl::StatusOr<bool> PortReader::ClaimTracked(const wire::Decoded& m) {
  auto freed = peer_segments_.ClaimTracked(*m.tracking, m.header.stream);
  if (!freed.ok()) return freed.status();
  if (*freed == nullptr) {
    counters_.cancelled_dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  core_.OnIncomingFreed(**freed);  // the sender may wait for a slot
  return true;
}

absl::Status PortReader::OnData(const wire::Decoded& m) {
  if (m.tracking.has_value()) {
    auto claimed = ClaimTracked(m);
    if (!claimed.ok()) return claimed.status();
    if (!*claimed) return absl::OkStatus();
  }
  // Built where the inbox will hold it (no move).
  Message& message = batch_.emplace_back();
  MessageAccess::FillInline(message, m.header.stream,
                            (m.header.flags & wire::kFlagLast) != 0, m.body);
  CountDelivered(message);
  return absl::OkStatus();
}

absl::Status PortReader::OnMmapData(const wire::Decoded& m) {
  Message msg = MessageAccess::Shared(m.header.stream,
                                      (m.header.flags & wire::kFlagLast) != 0);
  if (absl::Status s = peer_segments_.AddFragments(m, msg); !s.ok()) return s;
  // From here on the Message owns (and on drop frees) the chunks.
  MessageAccess::SetOwner(msg, core_.shared_from_this());
  if (m.tracking.has_value()) {
    auto claimed = ClaimTracked(m);
    if (!claimed.ok()) return claimed.status();
    if (!*claimed) return absl::OkStatus();  // msg dies here: chunks go back
  }
  Deliver(std::move(msg));
  return absl::OkStatus();
}

absl::Status PortReader::OnNewSegment(const wire::Decoded& m, UniqueFd fd) {
  bool over_cap = false;
  absl::Status s =
      peer_segments_.Map(m.new_segment(), std::move(fd), &over_cap);
  if (over_cap) {
    // Within the peer's grant but past this process's cap: not the peer's
    // protocol error, and the caller sees why (Process's Close is a no-op).
    Log(LogLevel::kWarning, "port_peer_segment_cap",
        {{"port", options_.port_id}, {"reason", s.message()}});
    core_.Close(s, /*send_bye=*/false);
  }
  return s;
}

absl::Status PortReader::OnNewRing(const wire::Decoded& m, UniqueFd fd) {
  if (options_.ring_capacity == 0) {
    return absl::InvalidArgumentError("a ring, but this end offered none");
  }
  if (ring_ != nullptr) return absl::InvalidArgumentError("a second ring");
  const wire::NewRing r = m.new_ring();
  auto ring = RingReader::Open(std::move(fd), r.size, r.token);
  if (!ring.ok()) return ring.status();
  ring_ = *std::move(ring);
  ring_for_close_.store(ring_.get(), std::memory_order_release);
  if (core_.closed()) ring_->MarkClosed();  // Close ran before this store
  mode_ = RingMode::kRing;
  return absl::OkStatus();
}

absl::Status PortReader::OnRingResume() {
  if (mode_ != RingMode::kSocket) {
    return absl::InvalidArgumentError("RING_RESUME without a marker");
  }
  mode_ = RingMode::kRing;
  return absl::OkStatus();
}

void PortReader::Deliver(Message&& message) {
  CountDelivered(message);
  batch_.push_back(std::move(message));
}

void PortReader::CountDelivered(const Message& message) {
  AddSingleWriter(counters_.messages_received, 1);
  AddSingleWriter(counters_.bytes_received, message.size());
}

void PortReader::HandOver(MessageQueue& inbox) {
  if (inbox.empty()) {
    inbox.swap(batch_);
  } else {
    while (!batch_.empty()) inbox.push_back(batch_.TakeFront());
  }
}

}  // namespace shmport::internal
