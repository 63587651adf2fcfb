// LogThrottle: at most one log line per interval for an event that a peer
// can trigger at will (accept failures, refused connections), with a count
// of the lines it held back, so a flood costs the log a line a second.
#ifndef SHMPORT_SERVER_LOG_THROTTLE_H_
#define SHMPORT_SERVER_LOG_THROTTLE_H_

#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shmport::server {

// Thread-safety: none; guard it with the lock of the code that logs.
class LogThrottle {
 public:
  explicit LogThrottle(absl::Duration interval = absl::Seconds(1))
      : interval_(interval) {}

  // True when a line may be written now; `*suppressed` is then the number
  // of lines held back since the last one. False (and counted) otherwise.
  bool Allow(uint64_t* suppressed) {
    const absl::Time now = absl::Now();
    if (now < next_) {
      ++suppressed_;
      return false;
    }
    next_ = now + interval_;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  const absl::Duration interval_;
  absl::Time next_ = absl::InfinitePast();
  uint64_t suppressed_ = 0;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_LOG_THROTTLE_H_
