#include "client/peer_mapping_budget.h"

#include <atomic>

#include "absl/strings/str_format.h"

namespace shmport {
namespace {

std::atomic<uint32_t> max_segments{kDefaultMaxPeerSegmentsPerProcess};
std::atomic<uint32_t> mapped{0};

// Takes one unit of `count` unless it is at `limit`; false then.
bool TakeUnit(std::atomic<uint32_t>& count, uint32_t limit, uint32_t* seen) {
  uint32_t now = count.load(std::memory_order_relaxed);
  do {
    if (now >= limit) {
      *seen = now;
      return false;
    }
  } while (
      !count.compare_exchange_weak(now, now + 1, std::memory_order_acq_rel));
  return true;
}

// Owns one unit of both budgets and the segment it paid for.
struct CountedSegment {
  std::shared_ptr<std::atomic<uint32_t>> port_count;
  std::shared_ptr<Segment> segment;
  ~CountedSegment() {
    segment.reset();  // unmap first, then give the units back
    port_count->fetch_sub(1, std::memory_order_acq_rel);
    mapped.fetch_sub(1, std::memory_order_acq_rel);
  }
};

}  // namespace

void SetMaxPeerSegmentsPerProcess(uint32_t n) {
  max_segments.store(n < 1 ? 1 : n, std::memory_order_relaxed);
}

uint32_t MaxPeerSegmentsPerProcess() {
  return max_segments.load(std::memory_order_relaxed);
}

uint32_t PeerSegmentsMapped() { return mapped.load(std::memory_order_relaxed); }

namespace internal {

absl::StatusOr<std::shared_ptr<Segment>> OpenCountedPeerSegment(
    UniqueFd fd, const Segment::Expectation& expect,
    std::shared_ptr<std::atomic<uint32_t>> port_count, uint32_t port_limit,
    bool* over_cap) {
  *over_cap = false;
  uint32_t seen = 0;
  if (!TakeUnit(*port_count, port_limit, &seen)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment %u would make %u peer segments mapped on this port, past "
        "the max_segments %u the peer declared (released segments count "
        "while Messages still hold them)",
        expect.id, seen + 1, port_limit));
  }
  const uint32_t cap = MaxPeerSegmentsPerProcess();
  if (!TakeUnit(mapped, cap, &seen)) {
    port_count->fetch_sub(1, std::memory_order_acq_rel);
    *over_cap = true;
    return absl::ResourceExhaustedError(absl::StrFormat(
        "segment %u refused: this process maps %u peer segments already, "
        "its cap max_peer_segments_per_process = %u "
        "(SetMaxPeerSegmentsPerProcess)",
        expect.id, seen, cap));
  }
  auto counted = std::make_shared<CountedSegment>();
  counted->port_count = std::move(port_count);
  auto seg = Segment::Open(std::move(fd), expect);
  if (!seg.ok()) return seg.status();  // `counted` gives the units back
  counted->segment = *std::move(seg);
  Segment* raw = counted->segment.get();
  return std::shared_ptr<Segment>(std::move(counted), raw);
}

}  // namespace internal
}  // namespace shmport
