// The demo's payload: the message's sequence number in its first 8 bytes,
// then every byte equal to the sequence number's low byte. The worker writes
// each byte once; the router reads each byte once to check it, so the
// throughput shown is that of real data crossing shared memory, not of
// descriptors alone.
#ifndef SHMPORT_EXAMPLES_PAYLOAD_PATTERN_H_
#define SHMPORT_EXAMPLES_PAYLOAD_PATTERN_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"

namespace shmport::examples {

// Fills `bytes` (at least 8) for message `sequence`.
void WritePattern(absl::Span<uint8_t> bytes, uint64_t sequence);

// The sequence number of a well-formed payload; nullopt when it is shorter
// than 8 bytes or any byte differs from the pattern.
std::optional<uint64_t> CheckPattern(absl::Span<const uint8_t> bytes);

}  // namespace shmport::examples

#endif  // SHMPORT_EXAMPLES_PAYLOAD_PATTERN_H_
