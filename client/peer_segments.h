// PeerSegments: the peer's segments as this port end maps them.
#ifndef SHMPORT_CLIENT_PEER_SEGMENTS_H_
#define SHMPORT_CLIENT_PEER_SEGMENTS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/segment.h"
#include "common/wire.h"
#include "shmport/message.h"
#include "shmport/unique_fd.h"

namespace shmport::internal {

struct PortCounters;

// The table of the peer's segments, indexed by segment id: NEW_SEGMENT
// maps one read-only (validated against the HELLO geometry, bounded by the
// peer's declared max_segments and the process-wide cap of
// peer_mapping_budget.h), RELEASE_SEGMENT drops it, and every descriptor
// and tracking reference the peer sends is checked against it before use.
// Messages keep the mappings they use after the table lets go.
//
// Not thread-safe, and needs no lock (decision D33): the reader owns the
// table. Only the holder of the port's reader role calls it (the dispatch
// of NEW_SEGMENT, RELEASE_SEGMENT, MMAP_DATA and tracked messages, and
// Drop once the port closed), apart from Open, before any reader, and
// MarkClosed, from any thread.
class PeerSegments {
 public:
  explicit PeerSegments(PortCounters& counters);
  PeerSegments(const PeerSegments&) = delete;
  PeerSegments& operator=(const PeerSegments&) = delete;

  // From the peer's HELLO, before any other call (then immutable).
  void Open(uint32_t max_segments, const SegmentGeometry& geometry);
  uint32_t max_segments() const { return max_segments_; }

  // NEW_SEGMENT. RESOURCE_EXHAUSTED with *over_cap: within the peer's grant
  // but past this process's cap (not the peer's fault).
  absl::Status Map(const wire::NewSegment& ns, UniqueFd fd, bool* over_cap);
  // RELEASE_SEGMENT.
  absl::Status Release(uint32_t id);
  // MMAP_DATA: validates each descriptor of `m` and adds its chunks to
  // `message`.
  absl::Status AddFragments(const wire::Decoded& m, Message& message);
  // CAS on the peer's tracking slot. The segment whose slot this end freed
  // (the message is this end's), or null when the sender cancelled first.
  absl::StatusOr<std::shared_ptr<Segment>> ClaimTracked(
      const wire::TrackingRef& ref, uint32_t stream);
  // Any thread (PortCore::Close): maps no more.
  void MarkClosed() { closed_.store(true, std::memory_order_release); }
  // The role holder, once closed: drops every segment (Messages keep
  // theirs) and takes them off the segments_in count.
  void Drop();

 private:
  PortCounters& counters_;
  uint32_t max_segments_ = 0;  // from HELLO, then immutable
  SegmentGeometry geometry_;   // likewise
  // Peer segments of this port still mapped (also those only Messages
  // keep): bounded by max_segments_.
  const std::shared_ptr<std::atomic<uint32_t>> mapped_;

  // The reader role's, like the rest of the reader's state.
  std::vector<std::shared_ptr<Segment>> table_;
  std::atomic<bool> closed_{false};
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PEER_SEGMENTS_H_
