#include "server/rate_limiter.h"

#include "gtest/gtest.h"

namespace shmport::server {
namespace {

TEST(RateLimiterTest, BurstIsAvailableAtOnceThenRefused) {
  const absl::Time t0 = absl::UnixEpoch();
  RateLimiter limiter(10, 3, t0);
  absl::Duration wait;
  EXPECT_TRUE(limiter.TryAcquire(t0, &wait));
  EXPECT_TRUE(limiter.TryAcquire(t0, &wait));
  EXPECT_TRUE(limiter.TryAcquire(t0, &wait));
  EXPECT_FALSE(limiter.TryAcquire(t0, &wait));
  EXPECT_EQ(wait, absl::Milliseconds(100));
}

TEST(RateLimiterTest, TokensRefillAtTheRate) {
  const absl::Time t0 = absl::UnixEpoch();
  RateLimiter limiter(10, 1, t0);
  absl::Duration wait;
  EXPECT_TRUE(limiter.TryAcquire(t0, &wait));
  EXPECT_FALSE(limiter.TryAcquire(t0 + absl::Milliseconds(50), &wait));
  EXPECT_TRUE(limiter.TryAcquire(t0 + absl::Milliseconds(100), &wait));
}

TEST(RateLimiterTest, IdleTimeDoesNotBankMoreThanTheBurst) {
  const absl::Time t0 = absl::UnixEpoch();
  RateLimiter limiter(100, 2, t0);
  absl::Duration wait;
  const absl::Time later = t0 + absl::Hours(1);
  EXPECT_TRUE(limiter.TryAcquire(later, &wait));
  EXPECT_TRUE(limiter.TryAcquire(later, &wait));
  EXPECT_FALSE(limiter.TryAcquire(later, &wait));
}

}  // namespace
}  // namespace shmport::server
