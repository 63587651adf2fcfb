// Fuzz target: Segment::Open, where a receiver decides whether a memfd that
// a peer sent may be mapped (seals, fstat size, header bytes, geometry,
// token; protocol.md §2).
//
// Each input becomes a real descriptor (segment_open_input.h), so the kernel
// answers F_GET_SEALS, fstat and mmap exactly as it would for a peer. Checked
// on every run:
//   - Open accepts exactly what the reference model accepts;
//   - the fd handed in is closed afterwards, on success and on failure;
//   - a rejected segment leaves no mapping, and a destroyed one neither;
//   - an accepted segment maps the whole geometry, the header writable and
//     the data area read-only (docs/decisions.md D5).
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/segment.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/mapping_probe.h"
#include "tests/fuzz/segment_open_input.h"

namespace shmport::fuzz {
namespace {

volatile uint8_t sink;

// True if `p` is writable memory. read() from a pipe into a read-only page
// fails with EFAULT instead of faulting, so the probe cannot crash. The pipe
// holds one byte for the whole run; the probe consumes it only when it
// finds `p` writable, and then the run is over anyway.
bool IsWritable(void* p) {
  static const int probe_read_end = [] {
    int fds[2];
    SHMPORT_FUZZ_CHECK(::pipe2(fds, O_CLOEXEC) == 0) << "pipe2: " << errno;
    SHMPORT_FUZZ_CHECK(::write(fds[1], "x", 1) == 1);
    return fds[0];  // both ends stay open for the life of the process
  }();
  const ssize_t n = ::read(probe_read_end, p, 1);
  SHMPORT_FUZZ_CHECK(n == 1 || errno == EFAULT)
      << "probe read: errno " << errno;
  return n == 1;
}

void CheckOpened(const Segment& s, const SegmentOpenInput& in) {
  const SegmentGeometry g = in.geometry();
  SHMPORT_FUZZ_CHECK(s.role() == Segment::Role::kPeer);
  SHMPORT_FUZZ_CHECK(s.id() == in.control.segment_id);
  SHMPORT_FUZZ_CHECK(s.geometry() == g);
  SHMPORT_FUZZ_CHECK(s.token() == in.control.token);
  SHMPORT_FUZZ_CHECK(s.file_size() == in.file_size());
  SHMPORT_FUZZ_CHECK(s.fd() == -1) << "the peer keeps no segment fd (D4)";

  // The mapping shows the bytes the peer wrote.
  const size_t n =
      std::min(in.header_bytes.size(), sizeof(layout::SegmentInfo));
  SHMPORT_FUZZ_CHECK(
      std::memcmp(&s.header()->info, in.header_bytes.data(), n) == 0);
  // Bounds come from the local geometry, never from the shared bitmap.
  SHMPORT_FUZZ_CHECK(s.chunks().CountFree() <= g.chunk_count);
  SHMPORT_FUZZ_CHECK(s.tracking_slots().CountFree() <= layout::kTrackingSlots);
  // The header is writable: the receiver clears oosm there.
  s.oosm().fetch_or(0);

  // The whole data area is mapped (its last byte reads, no SIGBUS) and is
  // read-only for the receiver.
  const uint8_t* first = s.chunk_data(0);
  const uint8_t* last = s.chunk_data(g.chunk_count - 1) + g.chunk_size - 1;
  sink = *first ^ *last;
  SHMPORT_FUZZ_CHECK(!IsWritable(s.chunk_data(0)))
      << "the receiver's data area is writable";
}

bool ExpectedErrorCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:    // bad seals, size, header
    case absl::StatusCode::kPermissionDenied:   // write-sealed: no RW header
    case absl::StatusCode::kResourceExhausted:  // mmap: ENOMEM
      return true;
    default:
      return false;
  }
}

// One execution: make the fd, open it, check everything above.
void OpenOne(absl::Span<const uint8_t> bytes) {
  const SegmentOpenInput in = SegmentOpenInput::Parse(bytes);
  absl::StatusOr<UniqueFd> fd = MakeSegmentFd(in);
  SHMPORT_FUZZ_CHECK(fd.ok()) << "making the fd: " << fd.status();
  const int fd_number = fd->get();
  const bool should_open = in.ShouldOpen();

  const uint64_t pages_before = MappedPages();
  absl::StatusOr<std::shared_ptr<Segment>> segment =
      OpenSegment(in, std::move(*fd));

  if (fd_number >= 0) {
    SHMPORT_FUZZ_CHECK(::fcntl(fd_number, F_GETFD) == -1 && errno == EBADF)
        << "Open left fd " << fd_number << " open ("
        << (segment.ok() ? "accepted" : "rejected") << ")";
  }
  if (segment.ok()) {
    SHMPORT_FUZZ_CHECK(should_open) << "accepted a segment the model rejects";
  } else {
    SHMPORT_FUZZ_CHECK(!should_open)
        << "rejected a segment the model accepts: " << segment.status();
  }

  if (!segment.ok()) {
    const absl::Status& s = segment.status();
    SHMPORT_FUZZ_CHECK(ExpectedErrorCode(s.code())) << s;
    SHMPORT_FUZZ_CHECK(absl::StrContains(
        s.message(), absl::StrCat("segment ", in.control.segment_id)))
        << "the error does not name the segment: " << s;
    CheckNoMemfdMapped(kMemfdName, pages_before, "a rejected Open");
    return;
  }
  CheckOpened(**segment, in);
  segment->reset();
  CheckNoMemfdMapped(kMemfdName, pages_before, "the Segment's destruction");
}

}  // namespace
}  // namespace shmport::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shmport::fuzz::OpenOne({data, size});
  return 0;
}
