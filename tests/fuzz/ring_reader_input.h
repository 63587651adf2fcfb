// The input format of ring_reader_fuzzer, shared by the target and the seed
// generator: a hostile producer's script against a RingReader (ring.h).
//
//   bytes 0..7   RingReaderControl: ring capacity, faults in the ring's
//                header / size / seals (each must make Open fail), and the
//                size of the buffer Pop copies into
//   bytes 8..    ops, each an op byte (value % kRingOps) and its arguments
//                (little-endian), run in order; an op cut short ends the
//                script. After the script the reader pops until the ring is
//                empty or it reports an error, as a Port drains its ring.
//
//   kWrite    u16 offset, u8 n, n bytes   raw bytes into the data area
//   kAppend   u16 length, u8 kind         an entry as RingWriter lays it out
//                                         (a PAD first when it would cross
//                                         the end), at the producer's tail
//   kPublish                              shared tail = producer's tail
//   kSetTail  u64 tail                    shared tail = anything
//   kPop                                  one RingReader::Pop
#ifndef SHMPORT_TESTS_FUZZ_RING_READER_INPUT_H_
#define SHMPORT_TESTS_FUZZ_RING_READER_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/ring.h"
#include "common/ring_layout.h"

namespace shmport::fuzz {

// Bits of RingReaderControl::open_faults; any one must make Open fail.
inline constexpr uint8_t kRingBadMagic = 0x01;
inline constexpr uint8_t kRingBadVersion = 0x02;
inline constexpr uint8_t kRingBadHeaderSize = 0x04;
inline constexpr uint8_t kRingBadHeaderCapacity = 0x08;
inline constexpr uint8_t kRingBadToken = 0x10;
inline constexpr uint8_t kRingDeclaredSizeOff = 0x20;  // NEW_RING size + page
inline constexpr uint8_t kRingNoShrinkSeal = 0x40;
inline constexpr uint8_t kRingCapacityNotPowerOfTwo = 0x80;  // area + 8 bytes

struct RingReaderControl {
  uint8_t capacity_shift;  // capacity = kMinCapacity << (value % 4)
  uint8_t open_faults;     // kRing* bits
  uint16_t out_size;       // Pop's buffer; 0 = wire::kMaxMessageBytes
  uint32_t padding;        // ignored
};
static_assert(sizeof(RingReaderControl) == 8);

enum class RingOp : uint8_t {
  kWrite = 0,
  kAppend = 1,
  kPublish = 2,
  kSetTail = 3,
  kPop = 4,
};
inline constexpr int kRingOps = 5;

// The memfd name, so a leaked mapping is recognisable in /proc/self/maps.
inline constexpr char kRingMemfdName[] = "shmport-fuzz-ring";

// Builds inputs, for the seed generator.
class RingScript {
 public:
  explicit RingScript(RingReaderControl control = {});
  RingScript& Write(uint16_t offset, absl::Span<const uint8_t> bytes);
  RingScript& Append(uint16_t length, uint8_t kind);
  RingScript& Publish();
  RingScript& SetTail(uint64_t tail);
  RingScript& Pop();
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// What one Pop did, for the observer.
struct PopEvent {
  const absl::StatusOr<std::optional<RingReader::Entry>>& result;
  absl::Span<const uint8_t> out;  // the buffer Pop copied into
  uint64_t head_before;           // shared head, as the producer sees it
  uint64_t head_after;
  uint64_t tail;                   // shared tail at the call
  absl::Span<const uint8_t> data;  // the data area, as the producer sees it
};

struct RingRun {
  bool should_open = false;  // the model: no open fault
  absl::Status open;         // RingReader::Open's result
  absl::Status pop;          // the first Pop error, if any
  int entries = 0;           // entries popped
  bool drained = false;      // the final drain ended with an empty ring
};

// The producer's side and the script. Makes the memfd, writes the header,
// opens a RingReader on it (the fd is handed over), runs the ops, calling
// `observe` after every Pop, and drains. An error means the test machinery
// failed (fds ran out), not the reader. `fd_number` receives the fd handed
// to Open, to check that Open closed it.
absl::StatusOr<RingRun> RunRingScript(
    absl::Span<const uint8_t> input,
    const std::function<void(const PopEvent&)>& observe, int* fd_number);

}  // namespace shmport::fuzz

#endif  // SHMPORT_TESTS_FUZZ_RING_READER_INPUT_H_
