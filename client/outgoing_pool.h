// OutgoingPool: the shared memory one port end sends from.
#ifndef SHMPORT_CLIENT_OUTGOING_POOL_H_
#define SHMPORT_CLIENT_OUTGOING_POOL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/deadline.h"
#include "client/port_counters.h"
#include "client/port_handles.h"
#include "common/mutex.h"
#include "common/segment.h"
#include "common/wire.h"
#include "shmport/buffer.h"
#include "shmport/port_stats.h"

namespace shmport::internal {

// Up to `max_segments` segments this end creates lazily (Grow) and claims
// chunks and tracking slots from, first fit and lowest segment first; the
// peer frees chunks in place. When the pool is at its limit and full,
// RaiseOosm() flags every segment so that the peer's next free sends an
// SHM_ACK, and ClaimOrWait waits for it. Idle segments are released (the
// ones the peer knows of after a RELEASE_SEGMENT) and large free runs of
// quiet ones go back to the kernel. Knows nothing of the socket: the port
// end tells it what was announced and does the asking and the waiting.
//
// Thread-safe: the segments are guarded by mu_ (a leaf: nothing else is
// taken while it is held).
class OutgoingPool {
 public:
  struct Limits {
    SegmentGeometry geometry;
    uint32_t max_segments = 0;
    absl::Duration idle_timeout = absl::InfiniteDuration();
    uint64_t free_run_bytes = 0;  // zero: keep free runs mapped
    pid_t peer_pid = 0;           // the segments are sealed for it
  };
  struct Claim {
    std::shared_ptr<Segment> segment;
    uint32_t first = 0;
    uint32_t count = 0;
  };
  // A segment a descriptor names that the peer has not been told of.
  struct Unannounced {
    uint32_t id;
    Segment* segment;
    bool operator==(const Unannounced&) const = default;
  };

  OutgoingPool(const Limits& limits, PortCounters& counters)
      : limits_(limits), counters_(counters) {}
  OutgoingPool(const OutgoingPool&) = delete;
  OutgoingPool& operator=(const OutgoingPool&) = delete;

  // `chunks` contiguous chunks, else the largest run of at least
  // `min_chunks` (halving), from a live segment; nullopt when none fits.
  std::optional<Claim> TryClaim(uint32_t chunks, uint32_t min_chunks)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A free tracking slot, armed for `stream`; `segment` gets its segment.
  std::optional<wire::TrackingRef> TryClaimTrackingSlot(
      uint32_t stream, std::shared_ptr<Segment>* segment)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Adds a segment (none once closed or at max_segments) and claims
  // `chunks` from it (none for zero); an error if the kernel refused one.
  absl::StatusOr<std::optional<Claim>> Grow(uint32_t chunks)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Flags every segment `oosm`: the peer's next free there sends SHM_ACK.
  void RaiseOosm() ABSL_LOCKS_EXCLUDED(mu_);

  // The bounded wait Allocate and tracking-slot claims share: claim(),
  // else grow() the pool, else raise OOSM, claim() once more, ask the peer
  // for memory and wait until it frees some or the deadline passes (not
  // `blocking`: give up at once); refuse(timed_out) says why it failed.
  // `port` provides closed(), closed_reason(), AskForMemory() and
  // WaitForMemory(seen_epoch, deadline) (false at the deadline).
  template <typename T, typename Port, typename ClaimFn, typename GrowFn,
            typename RefuseFn>
  absl::StatusOr<T> ClaimOrWait(Port& port, const Deadline& deadline,
                                bool blocking, ClaimFn claim, GrowFn grow,
                                RefuseFn refuse);

  // Memory came back (an SHM_ACK, a local free): bumps the epoch waiters
  // watch; true when someone waits (and needs waking).
  bool NoteFreed() {
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    return waiters_.load() != 0;
  }
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  // Whether every segment the buffers name was announced (the steady
  // state), without the lock. The flag is set once, by Announce with the
  // OrderedSender's writer token held, after its NEW_SEGMENT was written;
  // a Buffer keeps its segment alive, and a segment with a claimed chunk
  // is never released, so the flag is the one the peer's table will find.
  static bool AllAnnounced(absl::Span<const Buffer> buffers) {
    return std::all_of(buffers.begin(), buffers.end(), [](const Buffer& b) {
      return !b.in_shared_memory() || BufferAccess::segment(b)->announced();
    });
  }
  // Send's check, with the segments the message's buffers and tracking slot
  // name: appends those not yet announced to `out`. An error names a
  // segment no longer in the pool (the port closed under the caller).
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline absl::Status FindUnannounced(
      absl::Span<const Buffer> buffers, const wire::TrackingRef* tracking,
      std::vector<Unannounced>& out) ABSL_LOCKS_EXCLUDED(mu_);
  // NEW_SEGMENT for `id` went out: descriptors may name it now.
  void MarkAnnounced(uint32_t id, const Segment* segment)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Idle release, first half: drops idle, empty segments the peer never
  // heard of and returns the announced ones (hands off: no claims, id not
  // reused) for a RELEASE_SEGMENT each. The first segment stays.
  std::vector<std::pair<uint32_t, std::shared_ptr<Segment>>> TakeIdle(
      absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // Second half: `released` (the peer was told) drops the segment, else it
  // goes back to the pool to be tried next round.
  void FinishRelease(uint32_t id, const std::shared_ptr<Segment>& segment,
                     bool released) ABSL_LOCKS_EXCLUDED(mu_);
  // Gives free runs of at least free_run_bytes in idle segments back to the
  // kernel (claimed while their pages go); true if it returned any.
  bool ReturnFreeRuns(absl::Time now, uint64_t port_id)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Adds chunks and tracking slots in use, mapped and resident bytes.
  void AddStats(PortStats& s) const ABSL_LOCKS_EXCLUDED(mu_);
  // Drops every segment (Buffers and Trackings keep those they use); no
  // more growth.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct OutSegment {
    std::shared_ptr<Segment> segment;
    bool retiring = false;  // RELEASE_SEGMENT being sent: hands off
    absl::Time last_used;   // InfinitePast: used since the last idle check
    // CountFree() when its free runs last went back to the kernel; more
    // free chunks than this means there may be new runs to return.
    uint32_t free_when_returned = 0;
  };
  // True once `out` saw no claim for the idle timeout.
  bool IdleFor(OutSegment& out, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pool's entry for `segment` (by its id), or null.
  OutSegment* Find(const Segment* segment) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const uint32_t id = segment->id();
    return id < out_.size() && out_[id].segment.get() == segment ? &out_[id]
                                                                 : nullptr;
  }

  const Limits limits_;
  PortCounters& counters_;

  // Bumped on every SHM_ACK and local free; waiters wait for it to move.
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int> waiters_{0};

  // The first segment, for claims without the lock (the steady state: the
  // lowest segment is tried first and usually has room). It is created
  // once and never released (the idle release keeps it), so `first_` is
  // written once, under mu_, before `first_segment_` publishes it, and
  // lives as long as the pool; Close only stops the fast path. A claim
  // there sets `first_used_`, which the idle check reads as "used".
  std::shared_ptr<Segment> first_;
  std::atomic<Segment*> first_segment_{nullptr};
  std::atomic<bool> first_used_{false};

  // A leaf (docs/architecture.md "Locks"): taken under the port's
  // OrderedSender::mu_ (Send, Reclaim), never with PortCore::in_mu_, and
  // nothing is taken while it is held.
  mutable Mutex mu_;
  std::vector<OutSegment> out_ ABSL_GUARDED_BY(mu_);  // index = segment id
  uint32_t tracking_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

template <typename T, typename Port, typename ClaimFn, typename GrowFn,
          typename RefuseFn>
absl::StatusOr<T> OutgoingPool::ClaimOrWait(Port& port,
                                            const Deadline& deadline,
                                            bool blocking, ClaimFn claim,
                                            GrowFn grow, RefuseFn refuse) {
  bool counted = false;
  while (true) {
    if (port.closed()) return port.closed_reason();
    if (std::optional<T> got = claim()) return *std::move(got);
    absl::StatusOr<std::optional<T>> grown = grow();
    if (!grown.ok()) return grown.status();
    if (grown->has_value()) return **std::move(grown);
    // At its limit and full: ask the receiver for memory.
    const uint64_t seen = epoch();
    RaiseOosm();
    if (std::optional<T> got = claim()) return *std::move(got);
    if (!counted) {
      counters_.oosm_waits.fetch_add(1, std::memory_order_relaxed);
      counted = true;
    }
    port.AskForMemory();
    if (!blocking) return refuse(/*timed_out=*/false);
    waiters_.fetch_add(1);
    const bool in_time = port.WaitForMemory(seen, deadline);
    waiters_.fetch_sub(1);
    if (!in_time) {
      if (std::optional<T> got = claim()) return *std::move(got);
      return refuse(/*timed_out=*/true);
    }
  }
}

absl::Status OutgoingPool::FindUnannounced(absl::Span<const Buffer> buffers,
                                           const wire::TrackingRef* tracking,
                                           std::vector<Unannounced>& out) {
  if (tracking == nullptr && AllAnnounced(buffers)) return absl::OkStatus();
  MutexLock lock(&mu_);
  auto need = [&](Segment* seg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const OutSegment* entry = Find(seg);
    if (entry == nullptr) {
      return absl::InternalError(
          absl::StrFormat("segment %u is no longer in the pool", seg->id()));
    }
    if (!seg->announced() &&
        std::find(out.begin(), out.end(), Unannounced{seg->id(), seg}) ==
            out.end()) {
      out.push_back({seg->id(), seg});
    }
    return absl::OkStatus();
  };
  for (const Buffer& b : buffers) {
    if (!b.in_shared_memory()) continue;
    if (absl::Status s = need(BufferAccess::segment(b)); !s.ok()) return s;
  }
  if (tracking == nullptr) return absl::OkStatus();
  if (tracking->segment_id >= out_.size() ||
      !out_[tracking->segment_id].segment) {
    return absl::InternalError("tracking segment vanished");
  }
  return need(out_[tracking->segment_id].segment.get());
}

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_OUTGOING_POOL_H_
