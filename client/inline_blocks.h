// InlineBlocks: the heap blocks of inline Buffers, kept by the thread that
// let them go for its next small send.
#ifndef SHMPORT_CLIENT_INLINE_BLOCKS_H_
#define SHMPORT_CLIENT_INLINE_BLOCKS_H_

#include <cstddef>
#include <cstdint>
#include <memory>

namespace shmport::internal {

// An inline Buffer (a payload below the inline threshold) owns a block of
// inline_threshold - 1 bytes that Send copies into the message. Sending
// small payloads one after another would allocate and free one such block
// each; instead a dropped Buffer's block waits here, per thread, for the
// next Allocate on that thread (the steady state allocates nothing). A few
// blocks at most stay per thread, freed when it exits. Thread-safe (each
// thread has its own).
class InlineBlocks {
 public:
  // A block of at least `size` bytes (at least one).
  static std::unique_ptr<uint8_t[]> Take(size_t size);
  // Keeps `block` (`size` bytes, or more) for a later Take, or frees it.
  static void Give(std::unique_ptr<uint8_t[]> block, size_t size);
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_INLINE_BLOCKS_H_
