#include "bench/memcpy_reference.h"

#include <chrono>
#include <cstring>
#include <memory>

namespace shmport::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Keeps the compiler from dropping or merging copies whose result is never
// read: the destination escapes into an opaque asm statement.
void Escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

// Copies until `until`, checking the clock every `stride` copies; returns
// the number of copies.
uint64_t CopyUntil(uint8_t* dst, const uint8_t* src, size_t bytes,
                   Clock::time_point until, uint64_t stride) {
  uint64_t copies = 0;
  do {
    for (uint64_t i = 0; i < stride; ++i) {
      std::memcpy(dst, src, bytes);
      Escape(dst);
    }
    copies += stride;
  } while (Clock::now() < until);
  return copies;
}

}  // namespace

CellMeasurement MeasureMemcpy(size_t payload_bytes, absl::Duration warmup,
                              absl::Duration duration) {
  auto src = std::make_unique<uint8_t[]>(payload_bytes);
  auto dst = std::make_unique<uint8_t[]>(payload_bytes);
  std::memset(src.get(), 0x5a, payload_bytes);
  std::memset(dst.get(), 0, payload_bytes);
  const uint64_t stride = payload_bytes < 65536 ? 256 : 1;
  CopyUntil(dst.get(), src.get(), payload_bytes,
            Clock::now() + absl::ToChronoNanoseconds(warmup), stride);
  const Clock::time_point start = Clock::now();
  const uint64_t copies =
      CopyUntil(dst.get(), src.get(), payload_bytes,
                start + absl::ToChronoNanoseconds(duration), stride);
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  CellMeasurement m;
  m.messages = copies;
  m.seconds = seconds;
  m.msgs_per_s = static_cast<double>(copies) / seconds;
  m.gbytes_per_s = m.msgs_per_s * static_cast<double>(payload_bytes) / 1e9;
  return m;
}

}  // namespace shmport::bench
