// PortCore's half of giving memory back: called by the process-wide
// Reclaimer thread (client/reclaimer.h), never from the data path.
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "client/port_core.h"
#include "common/log.h"

namespace shmport::internal {
namespace {

// How long Reclaim waits for a full socket to take a RELEASE_SEGMENT: the
// thread serves every port of the process, so not long. The segment stays
// in the pool and is tried again on the next round.
constexpr absl::Duration kReleasePatience = absl::Milliseconds(20);

}  // namespace

void PortCore::StartReclaimer() {
  // Once the process has a second thread, glibc and libstdc++ lock every
  // mutex, shared_ptr count and malloc free list: 18 more locked
  // instructions per 1 KiB round trip on each side. A port whose written
  // memory is one segment's first few chunks has nothing to give back, so
  // it does not pay that.
  if (options_.idle_segment_timeout == absl::InfiniteDuration()) return;
  std::call_once(reclaim_registered_,
                 [this] { RegisterForReclaim(weak_from_this()); });
}

absl::Duration PortCore::reclaim_period() const {
  // Four looks per timeout: an idle segment goes within 1.25 timeouts (the
  // Reclaimer caps the period at 250 ms, so within timeout + 0.5 s).
  if (options_.idle_segment_timeout == absl::InfiniteDuration()) {
    return absl::InfiniteDuration();
  }
  return options_.idle_segment_timeout / 4;
}

void PortCore::Reclaim(absl::Time now) {
  if (closed() || options_.idle_segment_timeout == absl::InfiniteDuration()) {
    return;
  }
  ReleaseIdleSegments(now);
  ReturnFreeRuns(now);
}

bool PortCore::IdleFor(OutSegment& out, absl::Time now) const {
  if (out.last_used == absl::InfinitePast()) {
    // Used since the last look: the clock starts again, and whatever was
    // returned to the kernel may be back in RAM.
    out.last_used = now;
    out.free_when_returned = 0;
    return false;
  }
  return now - out.last_used >= options_.idle_segment_timeout;
}

void PortCore::ReleaseIdleSegments(absl::Time now) {
  // send_mu_ orders RELEASE_SEGMENT after the last descriptor naming the
  // segment. A sender holding it is busy, not idle: try next round.
  if (!send_mu_.TryLock()) return;
  ReleaseIdleSegmentsLocked(now);
  send_mu_.Unlock();
}

void PortCore::ReleaseIdleSegmentsLocked(absl::Time now) {
  std::vector<std::pair<uint32_t, std::shared_ptr<Segment>>> retiring;
  {
    MutexLock lock(&out_mu_);
    for (uint32_t id = 1; id < out_.size(); ++id) {  // the first one stays
      OutSegment& out = out_[id];
      if (!out.segment || !IdleFor(out, now)) continue;
      const Segment& seg = *out.segment;
      if (seg.chunks().CountFree() != seg.geometry().chunk_count ||
          seg.tracking_slots().CountFree() != layout::kTrackingSlots) {
        continue;
      }
      if (out.announced) {
        // Hands off (no allocation, id not reused) until the peer is told.
        out.retiring = true;
        retiring.emplace_back(id, out.segment);
      } else {
        out.segment.reset();
        counters_->segments_out.fetch_sub(1, std::memory_order_relaxed);
      }
    }
  }
  const Deadline deadline(kReleasePatience);
  bool sending = true;
  for (const auto& [id, segment] : retiring) {
    if (sending) {
      wire::Encoder e(wire::MessageType::kReleaseSegment, 0);
      e.SetReleaseSegment({id});
      sending = SendOrdered(Frame(e), {}, deadline).ok();
    }
    MutexLock lock(&out_mu_);
    if (id >= out_.size() || out_[id].segment != segment) continue;  // closed
    OutSegment& out = out_[id];
    out.retiring = false;
    if (sending) {
      out.segment.reset();
      counters_->segments_out.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

void PortCore::ReturnFreeRuns(absl::Time now) {
  const uint64_t threshold = options_.reclaim_free_run_bytes;
  if (threshold == 0) return;
  struct Claimed {
    std::shared_ptr<Segment> segment;
    ChunkMap::Run run;
  };
  std::vector<Claimed> claimed;
  {
    MutexLock lock(&out_mu_);
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
          {{"port", options_.port_id}, {"error", s.message()}});
    }
    c.segment->chunks().Free(c.run.first, c.run.length);
  }
  if (!claimed.empty()) OnOutgoingFreed();  // allocators may have waited
}

}  // namespace shmport::internal
