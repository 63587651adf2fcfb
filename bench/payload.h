// Payload: how every benchmark message is written and read.
//
// Fairness across transports rests on this file: for every transport the
// sender writes each payload byte exactly once (Fill) and the receiver reads
// each byte exactly once (Read), and what was read is checked against what
// the pattern says must have been written.
//
// A payload is an array of little-endian 64-bit words:
//   word 0      header: kind (top 8 bits) | sequence number (low 56 bits)
//   word 1, 2   kEnd only: the count and checksum the sender declares
//   the rest    pattern: seed(header) + k * kStride for word k
// Its sum over all words is known in closed form from the header, so the
// receiver verifies each message in O(1) on top of the one read pass.
#ifndef SHMPORT_BENCH_PAYLOAD_H_
#define SHMPORT_BENCH_PAYLOAD_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace shmport::bench {

enum class PayloadKind : uint8_t {
  kWarmup = 1,    // sent before the measured window
  kMeasured = 2,  // counted by the measurement
  kEnd = 3,       // last message; carries the declared count and checksum
  kPong = 4,      // a ping-pong reply
};

// Smallest payload: a header and the two declaration words of kEnd.
inline constexpr size_t kMinPayloadBytes = 24;

// How much of each payload the workloads write and read.
//   kAll   every byte, once on each side: what an application that
//          produces and consumes its data pays (the default).
//   kNone  only the header words (kMinPayloadBytes): the transport moves a
//          payload_bytes message that nobody fills or reads, as zero-copy
//          benchmarks such as iceoryx's iceperf measure. A transport that
//          copies still copies every byte.
enum class Touch { kAll, kNone };

// "all", "none".
const char* TouchName(Touch touch);

// The leading bytes of a `bytes`-byte payload that Fill writes and Read
// reads under `touch`; the workloads pass that prefix to Fill, Read, Verify
// and ExpectedSum, so a kNone payload is checked like a kMinPayloadBytes
// one (its header, kind, sequence and declaration, not its body).
size_t TouchedBytes(size_t bytes, Touch touch);

// Payload sizes must be whole words and at least kMinPayloadBytes.
absl::Status ValidatePayloadSize(size_t bytes);

uint64_t MakeHeader(PayloadKind kind, uint64_t seq);
PayloadKind HeaderKind(uint64_t header);
uint64_t HeaderSeq(uint64_t header);

// Writes every byte of `out` once: the header, then the pattern. For kEnd,
// words 1 and 2 hold `declared_count` and `declared_sum` instead.
// `out.size()` must pass ValidatePayloadSize.
void Fill(absl::Span<uint8_t> out, PayloadKind kind, uint64_t seq,
          uint64_t declared_count = 0, uint64_t declared_sum = 0);

// The word sum Fill produces for a non-kEnd payload of `bytes` bytes.
uint64_t ExpectedSum(uint64_t header, size_t bytes);

// What one read pass over a payload found.
struct ReadPayload {
  uint64_t header = 0;
  uint64_t word1 = 0;
  uint64_t word2 = 0;
  uint64_t sum = 0;  // of all words
};

// Reads every byte of `in` once (summing its words).
ReadPayload Read(absl::Span<const uint8_t> in);

// Checks `read` against what Fill writes for its header: DATA_LOSS naming
// the sequence number when the sum differs.
absl::Status Verify(const ReadPayload& read, size_t bytes);

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_PAYLOAD_H_
