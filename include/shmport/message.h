// Message: what Port::Receive hands out.
#ifndef SHMPORT_MESSAGE_H_
#define SHMPORT_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace shmport {

class Segment;
namespace internal {
class PortCore;
struct MessageAccess;
}  // namespace internal

// One received message: one or more fragments, each either a read-only view
// straight into the sender's shared memory or an inline copy. Sending one
// Buffer gives one fragment; Port::Send of several buffers (or SendCopy of
// a payload larger than a segment) gives several, in order.
//
// Dropping the Message frees its chunks in place, in the shared free map;
// no release message crosses the socket (an SHM_ACK does only when the
// sender is waiting for memory). Views are valid while the Message lives,
// even after the Port is closed.
//
// Move-only. Thread-safety: a Message belongs to one thread at a time.
class Message {
 public:
  Message() = default;
  Message(Message&& other) noexcept;
  Message& operator=(Message&& other) noexcept;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message();

  uint32_t stream() const { return stream_; }
  // The sender marked this the last message of its stream.
  bool last() const { return last_; }

  size_t size() const { return size_; }
  size_t fragment_count() const {
    return fragments_ == 0 ? (size_ > 0 ? 1 : 0) : fragments_;
  }
  absl::Span<const uint8_t> fragment(size_t i) const {
    if (fragments_ == 0) return {inline_data(), size_};
    const Fragment& f = i == 0 ? first_ : more_[i - 1];
    return {f.data, f.size};
  }
  // The first fragment: the whole payload when fragment_count() <= 1.
  absl::Span<const uint8_t> data() const {
    return fragment_count() == 0 ? absl::Span<const uint8_t>() : fragment(0);
  }
  bool in_shared_memory() const { return fragments_ != 0; }

  // Copies every fragment, in order, to `out` (size() bytes).
  void CopyTo(uint8_t* out) const;
  std::string ToString() const;

 private:
  // The library makes messages (client/port_handles.h), nobody else.
  friend struct internal::MessageAccess;
  Message(uint32_t stream, bool last) : stream_(stream), last_(last) {}
  // Views into the sender's segments (shared-memory messages only).
  struct Fragment {
    std::shared_ptr<Segment> segment;
    uint32_t first_chunk = 0;
    uint32_t chunk_count = 0;
    const uint8_t* data = nullptr;
    uint32_t size = 0;
  };
  // Inline payloads up to this size live in the Message itself (no heap);
  // a move copies all of them, a fixed-size copy without a call.
  static constexpr size_t kSmallInline = 64;

  const uint8_t* inline_data() const {
    return inline_heap_ != nullptr ? inline_heap_.get() : small_;
  }
  // Room for an inline payload of `n` bytes; sets size().
  uint8_t* PrepareInline(size_t n);
  void Release();
  // Takes what `other` holds (this holds nothing).
  void TakeFrom(Message& other);

  std::shared_ptr<internal::PortCore> core_;  // to send SHM_ACK when owed
  // The fragments of a shared-memory message: the first in the Message
  // itself (one Send of one Buffer allocates nothing), the rest after it.
  Fragment first_;
  std::vector<Fragment> more_;
  std::unique_ptr<uint8_t[]> inline_heap_;  // inline payloads > kSmallInline
  size_t size_ = 0;
  uint32_t fragments_ = 0;  // 0 for inline (and moved-from) messages
  uint32_t stream_ = 0;
  bool last_ = false;
  alignas(8) uint8_t small_[kSmallInline];
};

}  // namespace shmport

#endif  // SHMPORT_MESSAGE_H_
