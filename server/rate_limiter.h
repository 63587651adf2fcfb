// RateLimiter: a token bucket that bounds how often something may happen
// (Register calls, daemon-wide).
#ifndef SHMPORT_SERVER_RATE_LIMITER_H_
#define SHMPORT_SERVER_RATE_LIMITER_H_

#include <cstdint>

#include "absl/time/time.h"

namespace shmport::server {

// Holds up to `burst` tokens and gains `per_second` tokens a second.
// Not thread-safe: the owner serialises calls (the Switchboard's mutex).
class RateLimiter {
 public:
  RateLimiter(uint32_t per_second, uint32_t burst, absl::Time now);

  // Takes one token at `now`. When none is left returns false and sets
  // `*retry_after` to the wait until the next token.
  bool TryAcquire(absl::Time now, absl::Duration* retry_after);

 private:
  double per_second_;
  double burst_;
  double tokens_;    // available now, fractional between refills
  absl::Time last_;  // when tokens_ was last brought up to date
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_RATE_LIMITER_H_
