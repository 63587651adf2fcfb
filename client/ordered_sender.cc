#include "client/ordered_sender.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/port_core.h"
#include "common/errors.h"

namespace shmport::internal {

absl::Status OrderedSender::StartRing(uint32_t capacity,
                                      const Deadline& deadline) {
  auto ring = RingWriter::Create(capacity);
  if (!ring.ok()) return ring.status();
  Exclusive lock(*this);
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
  if (IsWouldBlock(s))
    s = SendFrame(frame, absl::MakeConstSpan(&fd, 1), deadline);
  if (!s.ok()) return s;
  (*ring)->CloseFd();
  ring_ = *std::move(ring);
  mode_ = RingMode::kRing;
  return absl::OkStatus();
}

absl::Status OrderedSender::SendFrame(const Frame& frame,
                                      absl::Span<const int> fds,
                                      const Deadline& deadline) {
  while (true) {
    absl::Status s =
        channel_.Send(frame.parts(), fds, false, /*dont_wait=*/true);
    if (s.ok()) return s;
    if (core_.closed()) return core_.closed_reason();
    if (!IsWouldBlock(s)) {
      core_.Close(absl::UnavailableError(absl::StrCat(
                      "the peer closed the connection (", s.message(), ")")),
                  false);
      return core_.closed_reason();
    }
    if (deadline.passed()) {
      return absl::DeadlineExceededError(
          absl::StrCat("the socket to the peer stayed full for ",
                       absl::FormatDuration(deadline.timeout()),
                       "; is the peer still reading?"));
    }
    core_.WaitForRoom(deadline);
  }
}

absl::Status OrderedSender::PublishRing(const Deadline& deadline) {
  if (!ring_->Publish()) return absl::OkStatus();
  wire::Encoder e(wire::MessageType::kRingWake, 0);
  return SendFrame(Frame(e), {}, deadline);
}

bool OrderedSender::AppendToRing(const Frame& frame, const Deadline& deadline) {
  // SpinUntil calls it with the token held (the analysis cannot follow a
  // lambda).
  auto append = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ring_->TryAppend(ring_layout::kKindMessage, frame.parts());
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

absl::Status OrderedSender::SendOrdered(const Frame& frame,
                                        absl::Span<const int> fds,
                                        const Deadline& deadline) {
  if (mode_ == RingMode::kNone) return SendFrame(frame, fds, deadline);
  if (fds.empty()) {
    if (mode_ == RingMode::kSocket && ring_->Drained()) {
      // The peer has read past our marker: tell it to return to the ring.
      wire::Encoder e(wire::MessageType::kRingResume, 0);
      if (absl::Status s = SendFrame(Frame(e), {}, deadline); !s.ok()) {
        return s;
      }
      mode_ = RingMode::kRing;
    }
    if (mode_ == RingMode::kRing && AppendToRing(frame, deadline)) {
      AddSingleWriter(counters_.sent_via_ring, 1);
      return PublishRing(deadline);
    }
  }
  if (ring_->corrupt()) {
    core_.ProtocolError(absl::InvalidArgumentError(
        "the peer wrote an impossible head into our ring"));
    return core_.closed_reason();
  }
  if (mode_ == RingMode::kRing) {
    // Ring full, or the message carries an fd: the socket takes over after
    // a marker, so the peer keeps the order.
    ring_->AppendMarker();
    mode_ = RingMode::kSocket;
    counters_.ring_fallbacks.fetch_add(1, std::memory_order_relaxed);
    if (absl::Status s = PublishRing(deadline); !s.ok()) return s;
  }
  return SendFrame(frame, fds, deadline);
}

absl::Status OrderedSender::WakePeer(const Deadline& deadline) {
  wire::Encoder e(wire::MessageType::kRingWake, 0);
  const Frame frame(e);
  // Unordered, like SendControl's messages: one datagram needs no lock.
  // The mutex path only to wait while the socket is full (or to fail).
  if (channel_.Send(frame.parts(), {}, false, /*dont_wait=*/true).ok()) {
    return absl::OkStatus();
  }
  Exclusive lock(*this);
  return SendFrame(frame, {}, deadline);
}

void OrderedSender::TrySendBye() {
  if (!mu_.TryLock()) return;
  writer_.Lock();  // a lone sender's append ends without waiting
  wire::Encoder e(wire::MessageType::kBye, 0);
  SendOrdered(Frame(e), {}, Deadline::Passed()).IgnoreError();
  writer_.Unlock();
  mu_.Unlock();
}

void OrderedSender::SendControl(wire::MessageType type) {
  if (core_.closed()) return;
  wire::Encoder e(type, 0);
  absl::Status s =
      channel_.Send(Frame(e).parts(), {}, false, /*dont_wait=*/true);
  if (IsWouldBlock(s) && type == wire::MessageType::kShmAck) {
    // Must not be lost: the sender waits for it. Retried by the next call.
    ack_pending_.store(true, std::memory_order_release);
  }
}

}  // namespace shmport::internal
