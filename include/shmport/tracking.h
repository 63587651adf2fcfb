// Tracking: the sender's handle on a cancellable (tracked) message.
#ifndef SHMPORT_TRACKING_H_
#define SHMPORT_TRACKING_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"

namespace shmport {

class Segment;
namespace internal {
class PortCore;
struct TrackingAccess;
}  // namespace internal

// A tracked message sits in a slot of the sender's segment holding
// (generation << 32 | stream). The receiver, before acting on the message,
// and the sender, to cancel it, both try CAS(slot, word -> 0): exactly one
// wins. A receiver that loses drops the message; a sender that loses knows
// the request is being processed. The generation makes the word unique per
// use, so neither CAS can hit a slot that has since been reused.
//
// Move-only. Dropping a Tracking does not cancel. Thread-safety: Cancel may
// race with the peer (that is its purpose) but not with itself.
class Tracking {
 public:
  Tracking() = default;
  Tracking(Tracking&&) noexcept = default;
  Tracking& operator=(Tracking&&) noexcept = default;
  Tracking(const Tracking&) = delete;
  Tracking& operator=(const Tracking&) = delete;
  ~Tracking() = default;

  uint32_t stream() const { return stream_; }

  // true: cancelled before the peer picked the message up; the peer will
  // drop it unseen. false: the peer had already claimed it (or Cancel was
  // already called). UNAVAILABLE: the port closed before the cancel; the
  // peer may or may not have processed the message.
  absl::StatusOr<bool> Cancel();

 private:
  // The library makes trackings (client/port_handles.h), nobody else.
  friend struct internal::TrackingAccess;
  Tracking(std::shared_ptr<internal::PortCore> core,
           std::shared_ptr<Segment> segment, uint32_t slot, uint64_t word,
           uint32_t stream)
      : core_(std::move(core)),
        segment_(std::move(segment)),
        slot_(slot),
        word_(word),
        stream_(stream) {}
  std::shared_ptr<internal::PortCore> core_;
  std::shared_ptr<Segment> segment_;
  uint32_t slot_ = 0;
  uint64_t word_ = 0;
  uint32_t stream_ = 0;
};

}  // namespace shmport

#endif  // SHMPORT_TRACKING_H_
