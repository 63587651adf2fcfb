#include "examples/payload_pattern.h"

#include <cstring>

namespace shmport::examples {

void WritePattern(absl::Span<uint8_t> bytes, uint64_t sequence) {
  if (bytes.size() < sizeof(sequence)) return;
  std::memcpy(bytes.data(), &sequence, sizeof(sequence));
  std::memset(bytes.data() + sizeof(sequence),
              static_cast<int>(sequence & 0xff),
              bytes.size() - sizeof(sequence));
}

std::optional<uint64_t> CheckPattern(absl::Span<const uint8_t> bytes) {
  uint64_t sequence = 0;
  if (bytes.size() < sizeof(sequence)) return std::nullopt;
  std::memcpy(&sequence, bytes.data(), sizeof(sequence));
  const uint8_t fill = static_cast<uint8_t>(sequence & 0xff);
  uint64_t word;
  std::memset(&word, fill, sizeof(word));
  // Word by word (memcpy: the payload need not be aligned), then the tail.
  size_t i = sizeof(sequence);
  uint64_t mismatch = 0;
  for (; i + sizeof(word) <= bytes.size(); i += sizeof(word)) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, sizeof(w));
    mismatch |= w ^ word;
  }
  for (; i < bytes.size(); ++i) mismatch |= bytes[i] ^ fill;
  if (mismatch != 0) return std::nullopt;
  return sequence;
}

}  // namespace shmport::examples
