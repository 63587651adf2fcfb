// PeerSegments: the peer's segments as this port end maps them.
#ifndef SHMPORT_CLIENT_PEER_SEGMENTS_H_
#define SHMPORT_CLIENT_PEER_SEGMENTS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/mutex.h"
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
// Thread-safe: the table is guarded by mu_ (a leaf).
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
  absl::Status Map(const wire::NewSegment& ns, UniqueFd fd, bool* over_cap)
      ABSL_LOCKS_EXCLUDED(mu_);
  // RELEASE_SEGMENT.
  absl::Status Release(uint32_t id) ABSL_LOCKS_EXCLUDED(mu_);
  // MMAP_DATA: validates each descriptor of `m` and adds its chunks to
  // `message`.
  absl::Status AddFragments(const wire::Decoded& m, Message& message)
      ABSL_LOCKS_EXCLUDED(mu_);
  // CAS on the peer's tracking slot. The segment whose slot this end freed
  // (the message is this end's), or null when the sender cancelled first.
  absl::StatusOr<std::shared_ptr<Segment>> ClaimTracked(
      const wire::TrackingRef& ref, uint32_t stream) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops every segment and maps no more (Messages keep theirs).
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  PortCounters& counters_;
  uint32_t max_segments_ = 0;  // from HELLO, then immutable
  SegmentGeometry geometry_;   // likewise
  // Peer segments of this port still mapped (also those only Messages
  // keep): bounded by max_segments_.
  const std::shared_ptr<std::atomic<uint32_t>> mapped_;

  // A leaf (docs/architecture.md "Locks"): taken by the reader and by
  // PortCore::Close under PortCore::in_mu_, never while taking another.
  Mutex mu_;
  std::vector<std::shared_ptr<Segment>> table_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PEER_SEGMENTS_H_
