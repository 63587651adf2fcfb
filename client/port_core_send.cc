// PortCore's sending side: claiming memory (through the OutgoingPool),
// checking and announcing what a message names, and handing it to the
// OrderedSender. The data path: Allocate and Send are the hot functions.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "client/port_core.h"
#include "client/port_handles.h"
#include "common/tsan_sync.h"

namespace shmport::internal {

// ---------------------------------------------------------------------------
// Outgoing memory.

absl::StatusOr<std::optional<OutgoingPool::Claim>> PortCore::GrowPool(
    uint32_t chunks) {
  auto grown = pool_.Grow(chunks);
  // A second segment is one the Reclaimer may release (D28).
  if (grown.ok() &&
      counters_->segments_out.load(std::memory_order_relaxed) > 1) {
    StartReclaimer();
  }
  return grown;
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
  absl::StatusOr<OutgoingPool::Claim> claim =
      pool_.ClaimOrWait<OutgoingPool::Claim>(
          *this, deadline, blocking,
          [&] { return pool_.TryClaim(chunks, least); },
          [&] { return GrowPool(chunks); },
          [&](bool timed_out) {
            const PortStats s = stats();
            if (!timed_out) {
              return absl::ResourceExhaustedError(absl::StrFormat(
                  "out of shared memory: %u bytes wanted, %u chunks in use "
                  "in %u segments (limit %u); the receiver has not freed "
                  "them yet. Retry after fd() turns readable and "
                  "TryReceive() ran",
                  size, s.chunks_in_use, s.segments_out,
                  options_.max_segments));
            }
            return absl::DeadlineExceededError(absl::StrFormat(
                "no shared memory for %u bytes before the deadline: %u "
                "chunks in use in %u segments (limit %u), the receiver "
                "holds them",
                size, s.chunks_in_use, s.segments_out, options_.max_segments));
          });
  if (!claim.ok()) return claim.status();
  // Written memory reaching a whole free run is memory the Reclaimer may
  // return (D28).
  const uint64_t run = options_.reclaim_free_run_bytes;
  if (run > 0 && uint64_t{claim->first + claim->count} * chunk >= run) {
    StartReclaimer();
  }
  return BufferAccess::Shared(shared_from_this(), std::move(claim->segment),
                              claim->first, claim->count, size);
}

void PortCore::OnOutgoingFreed() {
  if (!pool_.NoteFreed()) return;
  {
    MutexLock lock(&in_mu_);
    in_cv_.SignalAll();
  }
  // A waiter may be the reader, asleep in poll().
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
}

void PortCore::OnIncomingFreed(Segment& segment) {
  // Pairs with OutgoingPool::RaiseOosm: our freed bits are visible before
  // we look at oosm.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::atomic<uint32_t>& oosm = segment.oosm();
  if (oosm.load(std::memory_order_relaxed) == 0) return;
  uint32_t raised = 1;
  if (oosm.compare_exchange_strong(raised, 0, std::memory_order_seq_cst)) {
    sender_.SendControl(wire::MessageType::kShmAck);
  }
}

// ---------------------------------------------------------------------------
// Tracking.

absl::StatusOr<wire::TrackingRef> PortCore::ClaimTrackingSlot(
    uint32_t stream, std::shared_ptr<Segment>* segment) {
  const Deadline deadline(options_.allocate_timeout);
  auto try_claim = [&] { return pool_.TryClaimTrackingSlot(stream, segment); };
  return pool_.ClaimOrWait<wire::TrackingRef>(
      *this, deadline, /*blocking=*/true, try_claim,
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

// ---------------------------------------------------------------------------
// Sending.

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

absl::Status PortCore::Announce(
    absl::Span<const OutgoingPool::Unannounced> segments,
    const Deadline& deadline) {
  for (const auto& [id, seg] : segments) {
    wire::Encoder e(wire::MessageType::kNewSegment, 0);
    e.SetNewSegment({id, 0, seg->file_size(), seg->token()});
    const int fd = seg->fd();
    if (absl::Status s = sender_.SendOrdered(
            Frame(e), absl::MakeConstSpan(&fd, 1), deadline);
        !s.ok()) {
      return s;
    }
    seg->CloseFd();  // sent once; the mapping keeps the memory alive
    pool_.MarkAnnounced(id, seg);
  }
  return absl::OkStatus();
}

template <typename SendFrame>
auto PortCore::SendPayload(uint32_t stream, absl::Span<const Buffer> buffers,
                           uint8_t flags, const wire::TrackingRef* tracking,
                           SendFrame send) {
  if (!buffers[0].in_shared_memory()) {  // inline: the bytes follow the head
    const Buffer& b = buffers[0];
    wire::Encoder e(wire::MessageType::kData, stream, flags);
    if (tracking != nullptr) e.SetTracking(*tracking);
    e.SetInlineLength(static_cast<uint32_t>(b.size()));
    return send(Frame(e, b.span()));
  }
  wire::Encoder e(wire::MessageType::kMmapData, stream, flags);
  if (tracking != nullptr) e.SetTracking(*tracking);
  for (const Buffer& b : buffers) {
    if (b.size() == 0) continue;  // nothing to read; its chunks stay ours
    e.AddDescriptor({BufferAccess::segment(b)->id(),
                     BufferAccess::first_chunk(b),
                     static_cast<uint32_t>(b.size())});
  }
  if (e.descriptor_count() > 0) return send(Frame(e));
  // Only empty buffers: an empty inline message says the same.
  wire::Encoder empty(wire::MessageType::kData, stream, flags);
  if (tracking != nullptr) empty.SetTracking(*tracking);
  return send(Frame(empty));
}

namespace {

// The peer may free the buffers' chunks as soon as it reads the message,
// in its own mapping, which TSan cannot follow (common/tsan_sync.h).
void ReleaseChunksToPeer(absl::Span<const Buffer> buffers) {
  for (const Buffer& b : buffers) {
    if (const Segment* segment = BufferAccess::segment(b)) TsanRelease(segment);
  }
}

}  // namespace

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
  sender_.FlushPendingAck();
  const uint8_t flags = last ? wire::kFlagLast : 0;
  // The lone sender's path (D33): nothing to announce, the ring in use,
  // with room, and no other thread writing.
  if (tracking == nullptr && OutgoingPool::AllAnnounced(buffers)) {
    ReleaseChunksToPeer(buffers);
    const OrderedSender::AloneResult sent = SendPayload(
        stream, buffers, flags, nullptr,
        [&](const Frame& frame) { return sender_.TrySendAlone(frame, total); });
    if (sent != OrderedSender::AloneResult::kNotSent) {
      // The peer owns the chunks now: it frees them when its Message dies.
      for (Buffer& b : buffers) BufferAccess::HandOver(b);
      if (sent == OrderedSender::AloneResult::kSent) return absl::OkStatus();
      return sender_.WakePeer(Deadline(options_.send_timeout));
    }
  }
  return SendShared(stream, buffers, flags, tracking, inline_count, total);
}

absl::Status PortCore::SendShared(uint32_t stream, absl::Span<Buffer> buffers,
                                  uint8_t flags,
                                  const wire::TrackingRef* tracking,
                                  size_t inline_count, size_t total) {
  const Deadline deadline(options_.send_timeout);
  OrderedSender::Exclusive send_lock(sender_);
  // Every segment named by this message (and its tracking slot) must have
  // crossed the socket first.
  if (inline_count == 0 || tracking != nullptr) {
    std::vector<OutgoingPool::Unannounced> unannounced;
    if (absl::Status s = pool_.FindUnannounced(buffers, tracking, unannounced);
        !s.ok()) {
      return closed() ? closed_reason() : s;
    }
    if (!unannounced.empty()) {
      if (absl::Status s = Announce(unannounced, deadline); !s.ok()) return s;
    }
  }
  ReleaseChunksToPeer(buffers);
  if (absl::Status s = SendPayload(stream, buffers, flags, tracking,
                                   [&](const Frame& frame) {
                                     sender_.mu().AssertHeld();
                                     sender_.writer().AssertHeld();
                                     return sender_.SendOrdered(frame, {},
                                                                deadline);
                                   });
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

}  // namespace shmport::internal
