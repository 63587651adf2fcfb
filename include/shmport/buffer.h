// Buffer: memory a sender fills before handing it to Port::Send.
#ifndef SHMPORT_BUFFER_H_
#define SHMPORT_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/types/span.h"

namespace shmport {

class Segment;
namespace internal {
class PortCore;
struct BufferAccess;
}  // namespace internal

// Either a run of chunks in one of the port's outgoing segments (zero-copy:
// the receiver reads these very bytes), or a small heap block that will be
// copied inline into the message (payloads below the inline threshold).
//
// Move-only. A Buffer dropped without being sent returns its chunks.
// Thread-safety: a Buffer belongs to one thread at a time.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  // The writable bytes: size() of them, within capacity().
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  absl::Span<uint8_t> span() const { return {data_, size_}; }
  bool empty() const { return size_ == 0; }
  // False for an inline buffer (or a moved-from one).
  bool in_shared_memory() const { return segment_ != nullptr; }

  // Sets the size to `n` (<= capacity()); false (unchanged) otherwise.
  bool Resize(size_t n);

  // Grows the buffer to `new_size` bytes in place, claiming the chunks
  // right after it if needed (the bytes already written stay where they
  // are). False, with the buffer unchanged, when those chunks are busy,
  // past the segment's end, or the buffer is inline and its capacity is
  // too small.
  bool TryExtend(size_t new_size);

 private:
  // The library makes buffers (client/port_handles.h), nobody else.
  friend struct internal::BufferAccess;
  // Chunks [first_chunk, first_chunk + chunk_count) of `segment`, at `data`.
  Buffer(std::shared_ptr<internal::PortCore> core,
         std::shared_ptr<Segment> segment, uint32_t first_chunk,
         uint32_t chunk_count, uint8_t* data, size_t capacity, size_t size)
      : core_(std::move(core)),
        segment_(std::move(segment)),
        first_chunk_(first_chunk),
        chunk_count_(chunk_count),
        data_(data),
        size_(size),
        capacity_(capacity) {}
  // An inline buffer: `block`, of at least `capacity` bytes, its own.
  Buffer(std::unique_ptr<uint8_t[]> block, size_t capacity, size_t size)
      : inline_(std::move(block)),
        data_(inline_.get()),
        size_(size),
        capacity_(capacity) {}
  void Release();

  std::shared_ptr<internal::PortCore> core_;  // to return chunks, wake waiters
  std::shared_ptr<Segment> segment_;          // null for inline buffers
  uint32_t first_chunk_ = 0;
  uint32_t chunk_count_ = 0;
  std::unique_ptr<uint8_t[]> inline_;  // inline buffers own their bytes
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace shmport

#endif  // SHMPORT_BUFFER_H_
