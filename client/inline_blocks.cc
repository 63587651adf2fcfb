#include "client/inline_blocks.h"

#include <array>
#include <utility>

namespace shmport::internal {
namespace {

// Enough for a sender that allocates a few small buffers before sending
// them; more are freed.
constexpr size_t kKeptPerThread = 4;

struct Kept {
  std::unique_ptr<uint8_t[]> block;
  size_t size = 0;
};

// Set once this thread's shelf is destroyed (a trivial thread_local, valid
// to the end): a Buffer dropped later (by a static's destructor at exit)
// frees its block.
thread_local bool shelf_gone = false;

struct Shelf {
  ~Shelf() { shelf_gone = true; }
  std::array<Kept, kKeptPerThread> kept;
};

// Null once destroyed.
std::array<Kept, kKeptPerThread>* ThisThread() {
  if (shelf_gone) return nullptr;
  thread_local Shelf shelf;
  return &shelf.kept;
}

}  // namespace

std::unique_ptr<uint8_t[]> InlineBlocks::Take(size_t size) {
  if (size == 0) size = 1;
  if (auto* kept = ThisThread(); kept != nullptr) {
    for (Kept& k : *kept) {
      if (k.block != nullptr && k.size >= size) {
        k.size = 0;
        return std::move(k.block);
      }
    }
  }
  return std::unique_ptr<uint8_t[]>(new uint8_t[size]);
}

void InlineBlocks::Give(std::unique_ptr<uint8_t[]> block, size_t size) {
  if (block == nullptr) return;
  auto* kept = ThisThread();
  if (kept == nullptr) return;  // freed here
  for (Kept& k : *kept) {
    if (k.block == nullptr) {
      k.block = std::move(block);
      k.size = size > 0 ? size : 1;  // Take gave at least one byte
      return;
    }
  }
}  // none free: `block` is freed here

}  // namespace shmport::internal
