// Fuzz target: RingReader (common/ring.h), which reads whatever the peer's
// producer leaves in a shared ring: Open validates the memfd, Pop parses
// entries out of memory the peer keeps writing.
//
// A script from the input (ring_reader_input.h) plays a hostile producer:
// raw bytes anywhere in the data area, entries as RingWriter lays them out,
// honest and impossible tails, pops in between. Checked on every run:
//   - Open accepts exactly the rings without a fault, and closes the fd;
//   - each Pop either reports the ring empty (head caught up with tail), or
//     returns a message/marker entry that fits the caller's buffer, lies
//     between the old head and the tail without wrapping, and was copied
//     byte for byte; or fails with INVALID_ARGUMENT ("ring: ..."); what it
//     skipped on the way is nothing or one pad to the end of the area;
//   - draining ends, empty or failed, within capacity / 8 + 1 pops;
//   - no mapping of the ring survives the reader.
#include <errno.h>
#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/types/span.h"
#include "common/ring.h"
#include "common/ring_layout.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/mapping_probe.h"
#include "tests/fuzz/ring_reader_input.h"

namespace shmport::fuzz {
namespace {

using ring_layout::kEntryHeaderBytes;

uint64_t AlignUp(uint64_t n) {
  return (n + ring_layout::kEntryAlign - 1) / ring_layout::kEntryAlign *
         ring_layout::kEntryAlign;
}

// What a Pop may skip before the entry it returns (or before finding the
// ring empty): nothing, or one PAD entry that fills the area from the old
// head to its end. Anything else skipped was data the reader threw away.
void CheckSkipped(const PopEvent& e, uint64_t skipped) {
  if (skipped == 0) return;
  const uint64_t capacity = e.data.size();
  const uint64_t at = e.head_before % capacity;
  SHMPORT_FUZZ_CHECK(skipped == capacity - at)
      << "skipped " << skipped << " bytes at offset " << at
      << ", which is not a pad to the end of the area";
  uint32_t stored[2];
  std::memcpy(stored, e.data.data() + at, sizeof(stored));
  SHMPORT_FUZZ_CHECK(stored[1] == ring_layout::kKindPad &&
                     kEntryHeaderBytes + AlignUp(stored[0]) == skipped)
      << "skipped {" << stored[0] << ", " << stored[1] << "} at offset " << at
      << " as a pad";
}

void CheckPop(const PopEvent& e) {
  if (!e.result.ok()) {
    SHMPORT_FUZZ_CHECK(e.result.status().code() ==
                       absl::StatusCode::kInvalidArgument)
        << e.result.status();
    SHMPORT_FUZZ_CHECK(absl::StartsWith(e.result.status().message(), "ring:"))
        << e.result.status();
    return;
  }
  SHMPORT_FUZZ_CHECK(e.head_after >= e.head_before)
      << "head went back from " << e.head_before << " to " << e.head_after;
  if (!e.result->has_value()) {
    SHMPORT_FUZZ_CHECK(e.head_after == e.tail)
        << "empty with head " << e.head_after << " and tail " << e.tail;
    CheckSkipped(e, e.head_after - e.head_before);
    return;
  }
  const RingReader::Entry entry = **e.result;
  const uint64_t capacity = e.data.size();
  SHMPORT_FUZZ_CHECK(entry.kind == ring_layout::kKindMessage ||
                     entry.kind == ring_layout::kKindSocketMarker)
      << "kind " << entry.kind;
  SHMPORT_FUZZ_CHECK(entry.length <= e.out.size())
      << entry.length << " bytes into a " << e.out.size() << "-byte buffer";
  // The entry consumed last ends at the new head; pads may precede it.
  const uint64_t span = kEntryHeaderBytes + AlignUp(entry.length);
  SHMPORT_FUZZ_CHECK(e.head_after <= e.tail && e.head_after % 8 == 0)
      << "head " << e.head_after << ", tail " << e.tail;
  SHMPORT_FUZZ_CHECK(e.head_after - e.head_before >= span &&
                     e.head_after - e.head_before <= capacity)
      << "consumed " << e.head_after - e.head_before << " bytes for a " << span
      << "-byte entry";
  CheckSkipped(e, e.head_after - span - e.head_before);
  const uint64_t start = (e.head_after - span) % capacity;
  SHMPORT_FUZZ_CHECK(start + span <= capacity)
      << "entry at " << start << " wraps the end of a " << capacity
      << "-byte area";
  uint32_t stored[2];
  std::memcpy(stored, e.data.data() + start, sizeof(stored));
  SHMPORT_FUZZ_CHECK(stored[0] == entry.length && stored[1] == entry.kind)
      << "returned {" << entry.length << ", " << entry.kind
      << "}, the ring holds {" << stored[0] << ", " << stored[1] << "}";
  SHMPORT_FUZZ_CHECK(std::memcmp(e.out.data(),
                                 e.data.data() + start + kEntryHeaderBytes,
                                 entry.length) == 0)
      << "the copy differs from the entry";
}

void RunOne(absl::Span<const uint8_t> bytes) {
  const uint64_t pages_before = MappedPages();
  int fd_number = -1;
  const absl::StatusOr<RingRun> run =
      RunRingScript(bytes, CheckPop, &fd_number);
  SHMPORT_FUZZ_CHECK(run.ok()) << "test machinery: " << run.status();
  SHMPORT_FUZZ_CHECK(::fcntl(fd_number, F_GETFD) == -1 && errno == EBADF)
      << "RingReader::Open left fd " << fd_number << " open";
  if (run->open.ok()) {
    SHMPORT_FUZZ_CHECK(run->should_open)
        << "opened a ring with a bad header, size or seals";
    SHMPORT_FUZZ_CHECK(!run->pop.ok() || run->drained)
        << "draining did not end after " << run->entries << " entries";
  } else {
    SHMPORT_FUZZ_CHECK(!run->should_open)
        << "refused a good ring: " << run->open;
    SHMPORT_FUZZ_CHECK(absl::StartsWith(run->open.message(), "ring"))
        << run->open;
  }
  CheckNoMemfdMapped(kRingMemfdName, pages_before, "the ring reader");
}

}  // namespace
}  // namespace shmport::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shmport::fuzz::RunOne({data, size});
  return 0;
}
