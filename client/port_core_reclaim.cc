// PortCore's half of giving memory back: called by the process-wide
// Reclaimer thread (client/reclaimer.h), never from the data path.
#include <mutex>

#include "client/port_core.h"

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
  if (pool_.ReturnFreeRuns(now, options_.port_id)) {
    OnOutgoingFreed();  // allocators may have waited
  }
}

void PortCore::ReleaseIdleSegments(absl::Time now) {
  // OrderedSender::mu_ orders RELEASE_SEGMENT after the last descriptor
  // naming the segment. A sender holding it is busy, not idle: try next
  // round.
  if (!sender_.mu().TryLock()) return;
  sender_.writer().Lock();  // a lone sender's append ends without waiting
  ReleaseIdleSegmentsLocked(now);
  sender_.writer().Unlock();
  sender_.mu().Unlock();
}

void PortCore::ReleaseIdleSegmentsLocked(absl::Time now) {
  const Deadline deadline(kReleasePatience);
  bool sending = true;
  for (const auto& [id, segment] : pool_.TakeIdle(now)) {
    if (sending) {
      wire::Encoder e(wire::MessageType::kReleaseSegment, 0);
      e.SetReleaseSegment({id});
      sending = sender_.SendOrdered(Frame(e), {}, deadline).ok();
    }
    pool_.FinishRelease(id, segment, /*released=*/sending);
  }
}

}  // namespace shmport::internal
