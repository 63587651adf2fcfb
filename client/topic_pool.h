// TopicPool: the publisher's chunks, over up to max_segments TopicSegments
// made as it fills. Which chunks are free lives here, in the publisher's
// private memory: no subscriber can see or change it.
#ifndef SHMPORT_CLIENT_TOPIC_POOL_H_
#define SHMPORT_CLIENT_TOPIC_POOL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "client/topic_segment.h"
#include "common/chunk_map.h"
#include "shmport/segment_geometry.h"

namespace shmport::internal {

// A run of chunks of one segment.
struct ChunkRun {
  uint32_t segment = 0;
  uint32_t first = 0;
  uint32_t count = 0;
};

// Not thread-safe: the PublisherCore's mutex guards it.
class TopicPool {
 public:
  TopicPool(SegmentGeometry geometry, uint32_t max_segments)
      : geometry_(geometry), max_segments_(max_segments) {}

  // Chunks for `bytes` (>= 1 chunk). nullopt when every segment is full
  // and no more may be made; an error when making one failed.
  absl::StatusOr<std::optional<ChunkRun>> Allocate(uint64_t bytes);
  void Free(const ChunkRun& run);

  uint32_t ChunksFor(uint64_t bytes) const;
  uint8_t* data(const ChunkRun& run) const;
  const SegmentGeometry& geometry() const { return geometry_; }
  uint32_t max_segments() const { return max_segments_; }
  uint64_t max_sample_bytes() const { return geometry_.data_size(); }
  size_t segment_count() const { return segments_.size(); }
  const TopicSegment& segment(size_t i) const { return *segments_[i]->memory; }
  uint64_t chunks_in_use() const { return chunks_in_use_; }

 private:
  struct Slot {
    std::unique_ptr<TopicSegment> memory;
    std::vector<std::atomic<uint64_t>> free_words;
    ChunkMap chunks;
    uint32_t hint = 0;
  };
  absl::Status Grow();

  const SegmentGeometry geometry_;
  const uint32_t max_segments_;
  std::vector<std::unique_ptr<Slot>> segments_;
  uint64_t chunks_in_use_ = 0;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_POOL_H_
