// ReceiveBuffer: the bytes a socket reader reads each datagram into, made
// at the first read and reused, never zeroed (the kernel writes only the
// datagram). A fresh zeroed vector per read costs its whole size in
// allocation, clearing and page faults for a frame of a few dozen bytes.
#ifndef SHMPORT_COMMON_RECEIVE_BUFFER_H_
#define SHMPORT_COMMON_RECEIVE_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/types/span.h"

namespace shmport {

// Not thread-safe: one reader (the owner's lock or thread) uses it.
class ReceiveBuffer {
 public:
  // `size`: the largest datagram to take, plus one to see an oversized one.
  explicit ReceiveBuffer(size_t size) : size_(size) {}

  absl::Span<uint8_t> span() {
    if (bytes_ == nullptr) {
      bytes_ = std::make_unique_for_overwrite<uint8_t[]>(size_);
    }
    return absl::MakeSpan(bytes_.get(), size_);
  }

 private:
  size_t size_;
  std::unique_ptr<uint8_t[]> bytes_;
};

}  // namespace shmport

#endif  // SHMPORT_COMMON_RECEIVE_BUFFER_H_
