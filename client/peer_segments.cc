#include "client/peer_segments.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "client/peer_mapping_budget.h"
#include "client/port_counters.h"
#include "client/port_handles.h"

namespace shmport::internal {

PeerSegments::PeerSegments(PortCounters& counters)
    : counters_(counters),
      mapped_(std::make_shared<std::atomic<uint32_t>>(0)) {}

void PeerSegments::Open(uint32_t max_segments,
                        const SegmentGeometry& geometry) {
  max_segments_ = max_segments;
  geometry_ = geometry;
  table_.resize(max_segments);
}

absl::Status PeerSegments::Map(const wire::NewSegment& ns, UniqueFd fd,
                               bool* over_cap) {
  if (ns.segment_id >= max_segments_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment_id %u out of range [0, %u)", ns.segment_id, max_segments_));
  }
  if (table_[ns.segment_id]) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment %u announced twice (it is already mapped)", ns.segment_id));
  }
  auto seg = OpenCountedPeerSegment(
      std::move(fd), {ns.segment_id, ns.size, ns.token, geometry_}, mapped_,
      max_segments_, over_cap);
  if (!seg.ok()) return seg.status();
  if (closed_.load(std::memory_order_acquire)) return absl::OkStatus();
  table_[ns.segment_id] = *std::move(seg);
  counters_.segments_in.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status PeerSegments::Release(uint32_t id) {
  if (id >= max_segments_ || !table_[id]) {
    return absl::InvalidArgumentError(
        absl::StrFormat("segment %u is not mapped", id));
  }
  table_[id].reset();  // Messages still out keep the mapping
  counters_.segments_in.fetch_sub(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status PeerSegments::AddFragments(const wire::Decoded& m,
                                        Message& message) {
  const uint32_t chunk_size = geometry_.chunk_size;
  const uint32_t chunk_count = geometry_.chunk_count;
  for (int i = 0; i < m.descriptor_count(); ++i) {
    const wire::Descriptor d = m.descriptor(i);
    if (d.segment_id >= max_segments_) {
      return absl::InvalidArgumentError(
          absl::StrFormat("descriptor %d: segment_id %u out of range [0, %u)",
                          i, d.segment_id, max_segments_));
    }
    const std::shared_ptr<Segment>& seg = table_[d.segment_id];
    if (!seg) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "descriptor %d names segment %u, which was never announced "
          "(no NEW_SEGMENT)",
          i, d.segment_id));
    }
    if (d.size == 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("descriptor %d: size 0", i));
    }
    if (d.chunk_id >= chunk_count) {
      return absl::InvalidArgumentError(
          absl::StrFormat("descriptor %d: chunk_id %u out of range [0, %u)", i,
                          d.chunk_id, chunk_count));
    }
    const uint64_t needed =
        (static_cast<uint64_t>(d.size) + chunk_size - 1) / chunk_size;
    if (needed > chunk_count - d.chunk_id) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "descriptor %d: %u bytes from chunk %u need %u chunks, past the "
          "segment's %u",
          i, d.size, d.chunk_id, needed, chunk_count));
    }
    MessageAccess::AddFragment(message, seg, d.chunk_id,
                               static_cast<uint32_t>(needed), d.size);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Segment>> PeerSegments::ClaimTracked(
    const wire::TrackingRef& ref, uint32_t stream) {
  if (ref.segment_id >= max_segments_) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tracking segment_id %u out of range [0, %u)",
                        ref.segment_id, max_segments_));
  }
  if (ref.slot >= layout::kTrackingSlots || ref.generation == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tracking slot %u (generation %u) out of range [0, %u)",
                        ref.slot, ref.generation, layout::kTrackingSlots));
  }
  const std::shared_ptr<Segment>& segment = table_[ref.segment_id];
  if (!segment) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tracking names segment %u, which was never announced",
                        ref.segment_id));
  }
  uint64_t expected = TrackingWord(ref.generation, stream);
  if (!segment->tracking_word(ref.slot).compare_exchange_strong(
          expected, 0, std::memory_order_acq_rel)) {
    return std::shared_ptr<Segment>();
  }
  segment->tracking_slots().Free(ref.slot, 1);
  return segment;
}

void PeerSegments::Drop() {
  for (auto& seg : table_) {
    if (!seg) continue;
    seg.reset();
    counters_.segments_in.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace shmport::internal
