#include "client/outgoing_pool.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/tsan_sync.h"

namespace shmport::internal {

std::optional<OutgoingPool::Claim> OutgoingPool::TryClaim(uint32_t chunks,
                                                          uint32_t min_chunks) {
  // The first step of the search below, without the lock: `chunks` from
  // the first segment (acquire: pairs with Grow's release of first_).
  if (Segment* first = first_segment_.load(std::memory_order_acquire);
      first != nullptr && chunks > 0) {
    if (auto got = first->chunks().Allocate(chunks, 0)) {
      first_used_.store(true, std::memory_order_relaxed);
      TsanAcquire(first);  // the peer freed them after our last send
      return Claim{first_, *got, chunks};
    }
  }
  MutexLock lock(&mu_);
  // First fit, lowest segment first: the chunks the receiver freed last
  // are reused first, so the memory both sides touch stays small and hot
  // in cache, and higher segments fall idle and get released.
  for (uint32_t want = chunks; want >= min_chunks && want > 0;) {
    for (uint32_t id = 0; id < out_.size(); ++id) {
      OutSegment& out = out_[id];
      if (!out.segment || out.retiring) continue;
      if (auto first = out.segment->chunks().Allocate(want, 0)) {
        out.last_used = absl::InfinitePast();  // "used since the last check"
        TsanAcquire(out.segment.get());
        return Claim{out.segment, *first, want};
      }
    }
    if (want == min_chunks) break;
    want = std::max(min_chunks, want / 2);
  }
  return std::nullopt;
}

std::optional<wire::TrackingRef> OutgoingPool::TryClaimTrackingSlot(
    uint32_t stream, std::shared_ptr<Segment>* segment) {
  MutexLock lock(&mu_);
  for (uint32_t id = 0; id < out_.size(); ++id) {
    OutSegment& out = out_[id];
    if (!out.segment || out.retiring) continue;
    auto slot = out.segment->tracking_slots().Allocate(1, 0);
    if (!slot) continue;
    uint32_t generation = ++tracking_generation_;
    if (generation == 0) generation = ++tracking_generation_;
    out.segment->tracking_word(*slot).store(TrackingWord(generation, stream),
                                            std::memory_order_release);
    *segment = out.segment;
    out.last_used = absl::InfinitePast();
    return wire::TrackingRef{id, *slot, generation};
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<OutgoingPool::Claim>> OutgoingPool::Grow(
    uint32_t chunks) {
  MutexLock lock(&mu_);
  if (closed_) return std::optional<Claim>();
  uint32_t live = 0;
  uint32_t free_id = static_cast<uint32_t>(out_.size());
  for (uint32_t i = 0; i < out_.size(); ++i) {
    if (out_[i].segment) {
      ++live;
    } else if (free_id == out_.size()) {
      free_id = i;
    }
  }
  if (live >= limits_.max_segments) return std::optional<Claim>();
  auto seg = Segment::Create(free_id, limits_.geometry, limits_.peer_pid);
  if (!seg.ok()) {
    return absl::Status(seg.status().code(),
                        absl::StrCat("cannot add an outgoing segment: ",
                                     seg.status().message()));
  }
  if (free_id == out_.size()) out_.emplace_back();
  OutSegment& out = out_[free_id];
  out.segment = *std::move(seg);
  out.retiring = false;
  out.last_used = absl::InfinitePast();
  counters_.segments_out.fetch_add(1, std::memory_order_relaxed);
  if (free_id == 0 && first_ == nullptr) {
    first_ = out.segment;
    first_segment_.store(first_.get(), std::memory_order_release);
  }
  if (chunks == 0) return std::optional<Claim>();
  auto first = out.segment->chunks().Allocate(chunks, 0);
  if (!first) return std::optional<Claim>();
  return std::optional<Claim>(Claim{out.segment, *first, chunks});
}

void OutgoingPool::RaiseOosm() {
  {
    MutexLock lock(&mu_);
    for (OutSegment& out : out_) {
      if (out.segment) out.segment->oosm().store(1, std::memory_order_seq_cst);
    }
  }
  // Pairs with the fence in PortCore::OnIncomingFreed: either the receiver
  // sees our flag after its free, or our re-check sees its freed bits.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void OutgoingPool::MarkAnnounced(uint32_t id, const Segment* segment) {
  MutexLock lock(&mu_);
  if (id < out_.size() && out_[id].segment.get() == segment) {
    out_[id].segment->MarkAnnounced();
  }
}

bool OutgoingPool::IdleFor(OutSegment& out, absl::Time now) {
  if (out.segment == first_ &&
      first_used_.exchange(false, std::memory_order_relaxed)) {
    out.last_used = absl::InfinitePast();  // claimed without the lock
  }
  if (out.last_used == absl::InfinitePast()) {
    // Used since the last look: the clock starts again, and whatever was
    // returned to the kernel may be back in RAM.
    out.last_used = now;
    out.free_when_returned = 0;
    return false;
  }
  return now - out.last_used >= limits_.idle_timeout;
}

std::vector<std::pair<uint32_t, std::shared_ptr<Segment>>>
OutgoingPool::TakeIdle(absl::Time now) {
  std::vector<std::pair<uint32_t, std::shared_ptr<Segment>>> retiring;
  MutexLock lock(&mu_);
  for (uint32_t id = 1; id < out_.size(); ++id) {  // the first one stays
    OutSegment& out = out_[id];
    if (!out.segment || !IdleFor(out, now)) continue;
    const Segment& seg = *out.segment;
    if (seg.chunks().CountFree() != seg.geometry().chunk_count ||
        seg.tracking_slots().CountFree() != layout::kTrackingSlots) {
      continue;
    }
    if (seg.announced()) {
      // Hands off (no allocation, id not reused) until the peer is told.
      out.retiring = true;
      retiring.emplace_back(id, out.segment);
    } else {
      out.segment.reset();
      counters_.segments_out.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  return retiring;
}

void OutgoingPool::FinishRelease(uint32_t id,
                                 const std::shared_ptr<Segment>& segment,
                                 bool released) {
  MutexLock lock(&mu_);
  if (id >= out_.size() || out_[id].segment != segment) return;  // closed
  OutSegment& out = out_[id];
  out.retiring = false;
  if (released) {
    out.segment.reset();
    counters_.segments_out.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool OutgoingPool::ReturnFreeRuns(absl::Time now, uint64_t port_id) {
  const uint64_t threshold = limits_.free_run_bytes;
  if (threshold == 0) return false;
  struct Claimed {
    std::shared_ptr<Segment> segment;
    ChunkMap::Run run;
  };
  std::vector<Claimed> claimed;
  {
    MutexLock lock(&mu_);
    for (OutSegment& out : out_) {
      if (!out.segment || out.retiring || !IdleFor(out, now)) continue;
      ChunkMap chunks = out.segment->chunks();
      const uint32_t free = chunks.CountFree();
      if (free <= out.free_when_returned) continue;  // nothing new freed
      out.free_when_returned = free;
      const uint64_t chunk_size = out.segment->geometry().chunk_size;
      uint32_t from = 0;
      while (std::optional<ChunkMap::Run> run = chunks.NextFreeRun(from)) {
        from = run->first + run->length;
        // Claiming the run makes it ours: no allocation can hand it out
        // while its pages go, and the receiver holds none of it.
        if (run->length * chunk_size >= threshold &&
            chunks.TryClaim(run->first, run->length)) {
          claimed.push_back({out.segment, *run});
        }
      }
    }
  }
  for (const Claimed& c : claimed) {
    if (absl::Status s = c.segment->Discard(c.run.first, c.run.length);
        !s.ok()) {
      Log(LogLevel::kWarning, "segment_discard_failed",
          {{"port", port_id}, {"error", s.message()}});
    }
    c.segment->chunks().Free(c.run.first, c.run.length);
  }
  return !claimed.empty();
}

void OutgoingPool::AddStats(PortStats& s) const {
  std::vector<std::shared_ptr<Segment>> mapped;
  {
    MutexLock lock(&mu_);
    for (const OutSegment& out : out_) {
      if (!out.segment) continue;
      s.chunks_in_use += out.segment->geometry().chunk_count -
                         out.segment->chunks().CountFree();
      s.tracking_in_flight +=
          layout::kTrackingSlots - out.segment->tracking_slots().CountFree();
      mapped.push_back(out.segment);
    }
  }
  // mincore outside the lock: allocations need not wait for it.
  for (const auto& segment : mapped) {
    s.mapped_bytes_out += segment->file_size();
    s.resident_bytes_out += segment->ResidentBytes();
  }
}

void OutgoingPool::Close() {
  MutexLock lock(&mu_);
  closed_ = true;
  first_segment_.store(nullptr, std::memory_order_release);
  out_.clear();  // Buffers and Trackings keep the segments they use
  counters_.segments_out.store(0);
}

}  // namespace shmport::internal
