// The library's narrow doors into the handles it gives out: Buffer, Message
// and Tracking keep their fields private, and only these make or take them
// apart. Nothing here is exported (shmport::internal stays local to
// libshmport).
#ifndef SHMPORT_CLIENT_PORT_HANDLES_H_
#define SHMPORT_CLIENT_PORT_HANDLES_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/types/span.h"
#include "client/inline_blocks.h"
#include "common/segment.h"
#include "shmport/buffer.h"
#include "shmport/message.h"
#include "shmport/tracking.h"

namespace shmport::internal {

class PortCore;

// The word a tracking slot holds while its message is in flight.
inline uint64_t TrackingWord(uint32_t generation, uint32_t stream) {
  return (static_cast<uint64_t>(generation) << 32) | stream;
}

struct BufferAccess {
  // `count` chunks from `first` of `segment`, `size` bytes of them in use
  // (at most all of them).
  static Buffer Shared(std::shared_ptr<PortCore> core,
                       std::shared_ptr<Segment> segment, uint32_t first,
                       uint32_t count, size_t size) {
    const size_t capacity =
        static_cast<size_t>(count) * segment->geometry().chunk_size;
    uint8_t* data = segment->chunk_data(first);
    return Buffer(std::move(core), std::move(segment), first, count, data,
                  capacity, std::min(size, capacity));
  }
  // Bytes below the inline threshold travel in the message itself; the
  // block comes from (and goes back to) this thread's InlineBlocks.
  static Buffer Inline(size_t capacity, size_t size) {
    return Buffer(InlineBlocks::Take(capacity), capacity, size);
  }

  static Segment* segment(const Buffer& b) { return b.segment_.get(); }
  static const PortCore* owner(const Buffer& b) { return b.core_.get(); }
  static uint32_t first_chunk(const Buffer& b) { return b.first_chunk_; }

  // Returns the chunks past the buffer's size (Buffer::Resize shrank it):
  // the peer frees only those its descriptor covers. True if it freed any.
  static bool TrimToSize(Buffer& b) {
    if (b.segment_ == nullptr || b.size_ == 0) return false;  // kept whole
    const uint64_t chunk = b.segment_->geometry().chunk_size;
    // The usual case, every chunk used, costs no division.
    if (b.size_ + chunk > b.capacity_) return false;
    const auto used = static_cast<uint32_t>((b.size_ + chunk - 1) / chunk);
    if (used >= b.chunk_count_) return false;
    b.segment_->chunks().Free(b.first_chunk_ + used, b.chunk_count_ - used);
    b.chunk_count_ = used;
    b.capacity_ = used * chunk;
    return true;
  }
  // After the send: the peer owns the chunks and frees them when its
  // Message dies. Empty and inline buffers keep what they have.
  static void HandOver(Buffer& b) {
    if (b.segment_ == nullptr || b.size_ == 0) return;
    b.segment_.reset();
    b.core_.reset();
    b.data_ = nullptr;
    b.size_ = b.capacity_ = 0;
  }
};

struct MessageAccess {
  // An inline message: its bytes are copied into it.
  static Message Inline(uint32_t stream, bool last,
                        absl::Span<const uint8_t> bytes) {
    Message m;
    FillInline(m, stream, last, bytes);
    return m;
  }
  // The same in place: `m` (empty) becomes that message.
  static void FillInline(Message& m, uint32_t stream, bool last,
                         absl::Span<const uint8_t> bytes) {
    m.stream_ = stream;
    m.last_ = last;
    if (!bytes.empty()) {
      std::memcpy(m.PrepareInline(bytes.size()), bytes.data(), bytes.size());
    }
  }
  // A shared-memory message, its fragments added one by one; it frees the
  // chunks of those it holds when it dies.
  static Message Shared(uint32_t stream, bool last) {
    return Message(stream, last);
  }
  static void AddFragment(Message& m, std::shared_ptr<Segment> segment,
                          uint32_t first_chunk, uint32_t chunk_count,
                          uint32_t size) {
    const uint8_t* data = segment->chunk_data(first_chunk);
    Message::Fragment f{std::move(segment), first_chunk, chunk_count, data,
                        size};
    if (m.fragments_ == 0) {
      m.first_ = std::move(f);
    } else {
      m.more_.push_back(std::move(f));
    }
    ++m.fragments_;
    m.size_ += size;
  }
  // From here on freeing the chunks also tells `core` (an SHM_ACK owed).
  static void SetOwner(Message& m, std::shared_ptr<PortCore> core) {
    m.core_ = std::move(core);
  }
};

struct TrackingAccess {
  static Tracking Make(std::shared_ptr<PortCore> core,
                       std::shared_ptr<Segment> segment, uint32_t slot,
                       uint64_t word, uint32_t stream) {
    return Tracking(std::move(core), std::move(segment), slot, word, stream);
  }
  // What Cancel needs; takes the segment out (a second Cancel finds none).
  struct Slot {
    std::shared_ptr<Segment> segment;  // null: already settled
    uint32_t slot = 0;
    uint64_t word = 0;
  };
  static bool settled(const Tracking& t) { return t.segment_ == nullptr; }
  static Slot Settle(Tracking& t) {
    return {std::move(t.segment_), t.slot_, t.word_};
  }
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PORT_HANDLES_H_
