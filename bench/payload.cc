#include "bench/payload.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace shmport::bench {
namespace {

// Odd multipliers make every (kind, seq) seed distinct and every word of a
// message different, so a stale or misplaced message cannot pass.
constexpr uint64_t kSeedMul = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kSeedAdd = 0x632BE59BD9B4E019ull;
constexpr uint64_t kStride = 0xD6E8FEB86659FD93ull;
constexpr uint64_t kSeqMask = (uint64_t{1} << 56) - 1;

uint64_t Seed(uint64_t header) { return header * kSeedMul + kSeedAdd; }

// Sum of seed + k * kStride for k in [first, n), modulo 2^64.
uint64_t PatternSum(uint64_t seed, uint64_t first, uint64_t n) {
  if (n <= first) return 0;
  const uint64_t count = n - first;
  // sum of k over [first, n) = (first + n - 1) * count / 2; one of the two
  // factors is even, so halve that one to stay exact modulo 2^64.
  uint64_t a = first + n - 1;
  uint64_t b = count;
  if (a % 2 == 0) {
    a /= 2;
  } else {
    b /= 2;
  }
  return count * seed + kStride * (a * b);
}

uint64_t LoadWord(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

void StoreWord(uint8_t* p, uint64_t w) { std::memcpy(p, &w, sizeof(w)); }

}  // namespace

const char* TouchName(Touch touch) {
  return touch == Touch::kAll ? "all" : "none";
}

size_t TouchedBytes(size_t bytes, Touch touch) {
  return touch == Touch::kAll ? bytes : std::min(bytes, kMinPayloadBytes);
}

absl::Status ValidatePayloadSize(size_t bytes) {
  if (bytes < kMinPayloadBytes || bytes % 8 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload size ", bytes,
                     " must be a multiple of 8 and >= ", kMinPayloadBytes));
  }
  return absl::OkStatus();
}

uint64_t MakeHeader(PayloadKind kind, uint64_t seq) {
  return (static_cast<uint64_t>(kind) << 56) | (seq & kSeqMask);
}
PayloadKind HeaderKind(uint64_t header) {
  return static_cast<PayloadKind>(header >> 56);
}
uint64_t HeaderSeq(uint64_t header) { return header & kSeqMask; }

void Fill(absl::Span<uint8_t> out, PayloadKind kind, uint64_t seq,
          uint64_t declared_count, uint64_t declared_sum) {
  const uint64_t header = MakeHeader(kind, seq);
  const size_t words = out.size() / 8;
  uint8_t* p = out.data();
  StoreWord(p, header);
  size_t k = 1;
  if (kind == PayloadKind::kEnd) {
    StoreWord(p + 8, declared_count);
    StoreWord(p + 16, declared_sum);
    k = 3;
  }
  const uint64_t seed = Seed(header);
  uint64_t v = seed + k * kStride;
  for (; k < words; ++k) {
    StoreWord(p + 8 * k, v);
    v += kStride;
  }
}

uint64_t ExpectedSum(uint64_t header, size_t bytes) {
  return header + PatternSum(Seed(header), 1, bytes / 8);
}

ReadPayload Read(absl::Span<const uint8_t> in) {
  const uint8_t* p = in.data();
  const size_t words = in.size() / 8;
  // Four independent sums keep the loads from waiting on one add chain.
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t k = 0;
  for (; k + 4 <= words; k += 4) {
    s0 += LoadWord(p + 8 * k);
    s1 += LoadWord(p + 8 * k + 8);
    s2 += LoadWord(p + 8 * k + 16);
    s3 += LoadWord(p + 8 * k + 24);
  }
  for (; k < words; ++k) s0 += LoadWord(p + 8 * k);
  ReadPayload r;
  r.sum = s0 + s1 + s2 + s3;
  if (words >= 3) {
    r.header = LoadWord(p);
    r.word1 = LoadWord(p + 8);
    r.word2 = LoadWord(p + 16);
  }
  return r;
}

absl::Status Verify(const ReadPayload& read, size_t bytes) {
  uint64_t expected;
  if (HeaderKind(read.header) == PayloadKind::kEnd) {
    expected = read.header + read.word1 + read.word2 +
               PatternSum(Seed(read.header), 3, bytes / 8);
  } else {
    expected = ExpectedSum(read.header, bytes);
  }
  if (read.sum != expected) {
    return absl::DataLossError(absl::StrCat(
        "checksum mismatch in message seq ", HeaderSeq(read.header), " kind ",
        static_cast<int>(HeaderKind(read.header)), " of ", bytes,
        " bytes: read sum ", read.sum, ", pattern says ", expected));
  }
  return absl::OkStatus();
}

}  // namespace shmport::bench
