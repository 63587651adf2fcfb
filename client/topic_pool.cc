#include "client/topic_pool.h"

#include <utility>

#include "absl/status/status.h"

namespace shmport::internal {

uint32_t TopicPool::ChunksFor(uint64_t bytes) const {
  const uint64_t n = (bytes + geometry_.chunk_size - 1) / geometry_.chunk_size;
  return n == 0 ? 1 : static_cast<uint32_t>(n);
}

absl::StatusOr<std::optional<ChunkRun>> TopicPool::Allocate(uint64_t bytes) {
  const uint32_t n = ChunksFor(bytes);
  for (;;) {
    for (size_t i = 0; i < segments_.size(); ++i) {
      Slot& slot = *segments_[i];
      std::optional<uint32_t> first = slot.chunks.Allocate(n, slot.hint);
      if (!first) continue;
      slot.hint = (*first + n) % geometry_.chunk_count;
      chunks_in_use_ += n;
      return ChunkRun{static_cast<uint32_t>(i), *first, n};
    }
    if (segments_.size() >= max_segments_) return std::nullopt;
    if (absl::Status s = Grow(); !s.ok()) return s;
  }
}

void TopicPool::Free(const ChunkRun& run) {
  segments_[run.segment]->chunks.Free(run.first, run.count);
  chunks_in_use_ -= run.count;
}

uint8_t* TopicPool::data(const ChunkRun& run) const {
  return segments_[run.segment]->memory->data() +
         static_cast<uint64_t>(run.first) * geometry_.chunk_size;
}

absl::Status TopicPool::Grow() {
  const uint32_t id = static_cast<uint32_t>(segments_.size());
  absl::StatusOr<std::unique_ptr<TopicSegment>> memory =
      TopicSegment::Create(id, geometry_.data_size());
  if (!memory.ok()) return memory.status();
  auto slot = std::make_unique<Slot>(
      Slot{std::move(*memory),
           std::vector<std::atomic<uint64_t>>(
               ChunkMap::WordsFor(geometry_.chunk_count)),
           ChunkMap(nullptr, 0)});
  slot->chunks = ChunkMap(slot->free_words.data(), geometry_.chunk_count);
  slot->chunks.InitAllFree();
  segments_.push_back(std::move(slot));
  return absl::OkStatus();
}

}  // namespace shmport::internal
