#include "examples/payload_pattern.h"

#include <vector>

#include "gtest/gtest.h"

namespace shmport::examples {
namespace {

TEST(PayloadPatternTest, WrittenPatternChecksOutWithItsSequence) {
  for (size_t size : {8, 9, 15, 16, 4096, 262147}) {
    std::vector<uint8_t> bytes(size);
    WritePattern(absl::MakeSpan(bytes), 0x1234'5678'9abc'de01ull);
    std::optional<uint64_t> sequence = CheckPattern(bytes);
    ASSERT_TRUE(sequence.has_value()) << size;
    EXPECT_EQ(*sequence, 0x1234'5678'9abc'de01ull);
  }
}

TEST(PayloadPatternTest, AnyChangedByteIsCaught) {
  std::vector<uint8_t> bytes(1027);
  WritePattern(absl::MakeSpan(bytes), 7);
  for (size_t i : {size_t{8}, size_t{500}, bytes.size() - 1}) {
    std::vector<uint8_t> damaged = bytes;
    damaged[i] ^= 0x40;
    EXPECT_FALSE(CheckPattern(damaged).has_value()) << i;
  }
}

TEST(PayloadPatternTest, PayloadShorterThanTheSequenceIsRejected) {
  std::vector<uint8_t> bytes(7, 0);
  EXPECT_FALSE(CheckPattern(bytes).has_value());
}

}  // namespace
}  // namespace shmport::examples
