#include "server/rate_limiter.h"

#include <algorithm>

namespace shmport::server {

RateLimiter::RateLimiter(uint32_t per_second, uint32_t burst, absl::Time now)
    : per_second_(std::max<uint32_t>(1, per_second)),
      burst_(std::max<uint32_t>(1, burst)),
      tokens_(burst_),
      last_(now) {}

bool RateLimiter::TryAcquire(absl::Time now, absl::Duration* retry_after) {
  if (now > last_) {
    tokens_ = std::min(
        burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
    last_ = now;
  }
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  *retry_after = absl::Seconds((1.0 - tokens_) / per_second_);
  return false;
}

}  // namespace shmport::server
