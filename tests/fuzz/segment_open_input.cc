#include "tests/fuzz/segment_open_input.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/syscalls.h"

namespace shmport::fuzz {
namespace {

uint64_t Adjust(uint64_t size, uint8_t selector) {
  switch (static_cast<SizeAdjust>(selector % kSizeAdjusts)) {
    case SizeAdjust::kExact:
      return size;
    case SizeAdjust::kPlusOne:
      return size + 1;
    case SizeAdjust::kMinusOne:
      return size - 1;
    case SizeAdjust::kPlusPage:
      return size + layout::kPageSize;
    case SizeAdjust::kMinusPage:
      return size - layout::kPageSize;
    case SizeAdjust::kZero:
      return 0;
    case SizeAdjust::kHeaderOnly:
      return layout::kHeaderSize;
    case SizeAdjust::kDouble:
      return size * 2;
  }
  return size;
}

// protocol.md §2 and segment_layout.h, restated rather than calling
// ValidateGeometry, so that the model can disagree with the code.
bool GeometryIsValid(const SegmentGeometry& g) {
  return std::has_single_bit(g.chunk_size) &&
         g.chunk_size >= layout::kMinChunkSize &&
         g.chunk_size <= layout::kMaxChunkSize && g.chunk_count >= 1 &&
         g.chunk_count <= layout::kMaxChunks &&
         uint64_t{g.chunk_size} * g.chunk_count <= layout::kMaxSegmentDataBytes;
}

}  // namespace

int DefaultSeals() { return F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL; }

int FuzzedSealMask() {
  return F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
         F_SEAL_FUTURE_WRITE;
}

SegmentOpenInput SegmentOpenInput::Parse(absl::Span<const uint8_t> bytes) {
  SegmentOpenInput in;
  const size_t n = std::min(bytes.size(), sizeof(SegmentOpenControl));
  std::memcpy(&in.control, bytes.data(), n);
  in.header_bytes = bytes.subspan(n);
  return in;
}

std::vector<uint8_t> SegmentOpenInput::Serialize(
    const SegmentOpenControl& control, absl::Span<const uint8_t> header) {
  std::vector<uint8_t> out(sizeof(control));
  std::memcpy(out.data(), &control, sizeof(control));
  out.insert(out.end(), header.begin(), header.end());
  return out;
}

FdKind SegmentOpenInput::fd_kind() const {
  return static_cast<FdKind>(control.fd_kind % kFdKinds);
}

int SegmentOpenInput::seals() const {
  return (DefaultSeals() ^ control.seal_flips) & FuzzedSealMask();
}

SegmentGeometry SegmentOpenInput::geometry() const {
  return {control.chunk_size, control.chunk_count};
}

Segment::Expectation SegmentOpenInput::expectation() const {
  return {control.segment_id,
          Adjust(geometry().file_size(), control.declared_size_adjust),
          control.token, geometry()};
}

uint64_t SegmentOpenInput::file_size() const {
  const uint64_t natural = geometry().file_size();
  const uint64_t base = natural <= kMaxFileBytes
                            ? natural
                            : layout::kHeaderSize + layout::kPageSize;
  // base >= kHeaderSize, so only kDouble can leave the range.
  return std::min(Adjust(base, control.file_size_adjust), kMaxFileBytes);
}

bool SegmentOpenInput::ShouldOpen() const {
  if (fd_kind() != FdKind::kMemfd) return false;
  const int s = seals();
  // Without SHRINK and GROW the peer could resize the file under our mapping.
  if ((s & F_SEAL_SHRINK) == 0 || (s & F_SEAL_GROW) == 0) return false;
  // A write seal forbids the writable header the receiver frees chunks in.
  if ((s & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0) return false;
  const SegmentGeometry g = geometry();
  if (!GeometryIsValid(g)) return false;
  const uint64_t want = layout::kHeaderSize + g.data_size();
  if (file_size() != want || expectation().size != want) return false;
  if (mmap_fails()) return false;
  // The file reads as zeros past the bytes the peer wrote.
  layout::SegmentInfo info{};
  std::memcpy(&info, header_bytes.data(),
              std::min(header_bytes.size(), sizeof(info)));
  return info.magic == layout::kMagic && info.version == layout::kVersion &&
         info.header_size == layout::kHeaderSize &&
         info.chunk_size == g.chunk_size && info.chunk_count == g.chunk_count &&
         info.segment_id == control.segment_id &&
         info.tracking_slots == layout::kTrackingSlots &&
         info.token == control.token;
}

absl::StatusOr<UniqueFd> MakeSegmentFd(const SegmentOpenInput& input) {
  const FdKind kind = input.fd_kind();
  switch (kind) {
    case FdKind::kNoFd:
      return UniqueFd();
    case FdKind::kNotAMemfd: {
      UniqueFd fd(::eventfd(0, EFD_CLOEXEC));
      if (!fd) return ErrnoToStatus(errno, "eventfd");
      return fd;
    }
    case FdKind::kMemfd:
    case FdKind::kUnsealableMemfd:
      break;
  }
  const bool sealable = kind == FdKind::kMemfd;
  UniqueFd fd(::memfd_create(kMemfdName,
                             MFD_CLOEXEC | (sealable ? MFD_ALLOW_SEALING : 0)));
  if (!fd) return ErrnoToStatus(errno, "memfd_create");
  const uint64_t size = input.file_size();
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("ftruncate to ", size));
  }
  const size_t n = static_cast<size_t>(
      std::min<uint64_t>({input.header_bytes.size(), kMaxHeaderBytes, size}));
  if (n > 0 && ::pwrite(fd.get(), input.header_bytes.data(), n, 0) !=
                   static_cast<ssize_t>(n)) {
    return ErrnoToStatus(errno, absl::StrCat("writing ", n, " header bytes"));
  }
  // Seals last: F_SEAL_WRITE would forbid the header write above.
  if (sealable && input.seals() != 0 &&
      ::fcntl(fd.get(), F_ADD_SEALS, input.seals()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("F_ADD_SEALS ", input.seals()));
  }
  return fd;
}

absl::StatusOr<std::shared_ptr<Segment>> OpenSegment(
    const SegmentOpenInput& input, UniqueFd fd) {
  std::optional<sys::ScopedFailure> fault;
  if (input.mmap_fails()) fault.emplace(sys::Call::kMmap, ENOMEM);
  return Segment::Open(std::move(fd), input.expectation());
}

}  // namespace shmport::fuzz
