// The input format of segment_open_fuzzer, shared by the target and the seed
// generator, and the reference model of what Segment::Open must decide.
//
//   bytes 0..31   SegmentOpenControl: what the receiver was told (id, token,
//                 geometry, declared size) and how the fd is made (kind,
//                 seals, real size, an injected mmap failure)
//   bytes 32..    the first bytes of the file: the header as the peer wrote
//                 it (at most kMaxHeaderBytes are used)
//
// The control block comes first so that mutations which insert or erase
// header bytes leave it in place. A short input is zero-padded, and zero
// means "as Segment::Create would do it", so small inputs are valid-ish.
#ifndef SHMPORT_TESTS_FUZZ_SEGMENT_OPEN_INPUT_H_
#define SHMPORT_TESTS_FUZZ_SEGMENT_OPEN_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/segment.h"
#include "common/segment_layout.h"
#include "shmport/unique_fd.h"

namespace shmport::fuzz {

// What kind of descriptor the receiver is handed.
enum class FdKind : uint8_t {
  kMemfd = 0,            // memfd_create(MFD_ALLOW_SEALING), as a sender does
  kUnsealableMemfd = 1,  // memfd without MFD_ALLOW_SEALING: seals are fixed
  kNotAMemfd = 2,        // an eventfd: F_GET_SEALS fails
  kNoFd = 3,             // -1
};
inline constexpr int kFdKinds = 4;

// Adjustments of a size, picked by one control byte (value % kSizeAdjusts).
enum class SizeAdjust : uint8_t {
  kExact = 0,
  kPlusOne = 1,
  kMinusOne = 2,
  kPlusPage = 3,
  kMinusPage = 4,
  kZero = 5,        // size 0
  kHeaderOnly = 6,  // layout::kHeaderSize, no data area
  kDouble = 7,
};
inline constexpr int kSizeAdjusts = 8;

// Bits of SegmentOpenControl::faults.
inline constexpr uint8_t kFaultMmap = 0x01;  // the segment's mmap fails

// The seals Segment::Create applies; control.seal_flips is XORed into them.
int DefaultSeals();
// Every seal bit the fuzzer may set or clear.
int FuzzedSealMask();

struct SegmentOpenControl {
  uint64_t token;       // the NEW_SEGMENT token
  uint32_t segment_id;  // the NEW_SEGMENT id
  uint32_t chunk_size;  // the negotiated geometry
  uint32_t chunk_count;
  uint8_t fd_kind;               // FdKind, value % kFdKinds
  uint8_t seal_flips;            // XORed into DefaultSeals(), masked
  uint8_t file_size_adjust;      // SizeAdjust of the memfd's real size
  uint8_t declared_size_adjust;  // SizeAdjust of the NEW_SEGMENT size
  uint8_t faults;                // kFault* bits
  uint8_t padding[3];            // ignored
};
static_assert(sizeof(SegmentOpenControl) == 32);

// The largest memfd the target makes. Larger geometries get a small file
// (and must be rejected for the size mismatch), which keeps executions fast.
inline constexpr uint64_t kMaxFileBytes = 8ull << 20;
// Header bytes beyond the validated SegmentInfo cannot change the outcome;
// this bounds the pwrite.
inline constexpr size_t kMaxHeaderBytes = layout::kHeaderSize;
// The memfd name, so a leaked mapping is recognisable in /proc/self/maps.
inline constexpr char kMemfdName[] = "shmport-fuzz-seg";

struct SegmentOpenInput {
  SegmentOpenControl control{};
  absl::Span<const uint8_t> header_bytes;  // into the caller's input

  static SegmentOpenInput Parse(absl::Span<const uint8_t> bytes);
  // The inverse of Parse, for the seed generator.
  static std::vector<uint8_t> Serialize(const SegmentOpenControl& control,
                                        absl::Span<const uint8_t> header);

  FdKind fd_kind() const;
  int seals() const;  // what is applied to a kMemfd
  SegmentGeometry geometry() const;
  Segment::Expectation expectation() const;
  // The real size of the memfd.
  uint64_t file_size() const;
  bool mmap_fails() const { return (control.faults & kFaultMmap) != 0; }

  // The reference model: true iff a correct Segment::Open accepts this fd
  // (protocol.md §2), written independently of segment.cc.
  bool ShouldOpen() const;
};

// A descriptor made as `input` says: created, sized, header written, sealed.
// Empty for FdKind::kNoFd. An error means the test machinery failed (for
// example fds ran out), not the code under test.
absl::StatusOr<UniqueFd> MakeSegmentFd(const SegmentOpenInput& input);

// Segment::Open(fd, input.expectation()), with the mmap failure injected
// (through common/syscalls.h) when the input asks for one.
absl::StatusOr<std::shared_ptr<Segment>> OpenSegment(
    const SegmentOpenInput& input, UniqueFd fd);

}  // namespace shmport::fuzz

#endif  // SHMPORT_TESTS_FUZZ_SEGMENT_OPEN_INPUT_H_
