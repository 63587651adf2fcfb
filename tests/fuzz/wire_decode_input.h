// The input format of wire_decode_fuzzer, shared by the target and the seed
// generator so that seeds always mean what the target reads:
//
//   byte 0      the number of fds that arrived with the datagram (int8)
//   bytes 1..   the datagram, exactly as recvmsg() would have returned it
#ifndef SHMPORT_TESTS_FUZZ_WIRE_DECODE_INPUT_H_
#define SHMPORT_TESTS_FUZZ_WIRE_DECODE_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace shmport::fuzz {

struct WireDecodeInput {
  int num_fds = 0;
  // Points into the caller's bytes and ends where they end, so a decoder
  // that reads one byte too far reads past the fuzzer's heap buffer and ASan
  // reports it.
  absl::Span<const uint8_t> datagram;

  // Splits raw fuzzer bytes; an empty input is a 0-byte datagram with 0 fds.
  static WireDecodeInput Parse(absl::Span<const uint8_t> bytes) {
    if (bytes.empty()) return {};
    return {static_cast<int8_t>(bytes[0]), bytes.subspan(1)};
  }

  // The inverse of Parse, for the seed generator.
  static std::vector<uint8_t> Serialize(int8_t num_fds,
                                        absl::Span<const uint8_t> datagram) {
    std::vector<uint8_t> out;
    out.reserve(datagram.size() + 1);
    out.push_back(static_cast<uint8_t>(num_fds));
    out.insert(out.end(), datagram.begin(), datagram.end());
    return out;
  }
};

}  // namespace shmport::fuzz

#endif  // SHMPORT_TESTS_FUZZ_WIRE_DECODE_INPUT_H_
