// Deadline: a point in time computed only when someone needs it, and the
// two ways of waiting for one (poll, spin).
#ifndef SHMPORT_CLIENT_DEADLINE_H_
#define SHMPORT_CLIENT_DEADLINE_H_

#include <algorithm>
#include <cstdint>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shmport::internal {

// "`timeout` from the first time anyone asks". Reading the clock costs as
// much as sending a small message through the ring, and most operations
// finish without waiting, so the clock is read only on the slow path.
// Not thread-safe; lives on one call's stack.
class Deadline {
 public:
  explicit Deadline(absl::Duration timeout) : timeout_(timeout) {}
  static Deadline Passed() { return Deadline(absl::ZeroDuration(), true); }

  absl::Time at() const {
    if (!known_) {
      at_ = timeout_ == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                 : absl::Now() + timeout_;
      known_ = true;
    }
    return at_;
  }
  bool passed() const { return absl::Now() >= at(); }
  bool infinite() const { return timeout_ == absl::InfiniteDuration(); }
  absl::Duration timeout() const { return timeout_; }

 private:
  Deadline(absl::Duration timeout, bool past)
      : timeout_(timeout), at_(absl::InfinitePast()), known_(past) {}

  absl::Duration timeout_;
  mutable absl::Time at_;
  mutable bool known_ = false;
};

// Milliseconds until `deadline` for poll(): -1 for an infinite deadline,
// rounded up so that a poll never returns just before the deadline.
inline int PollTimeoutMs(const Deadline& deadline) {
  if (deadline.infinite()) return -1;
  const absl::Duration left = deadline.at() - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
      1 << 30));
}

// Polls `ready` until it holds (true) or `until` has passed (false),
// pausing the CPU between polls; every 32 polls it reads the clock and,
// with `yield`, gives the CPU to whoever else wants it.
template <typename Ready>
bool SpinUntil(absl::Time until, bool yield, Ready ready) {
  for (uint32_t i = 1;; ++i) {
    if (ready()) return true;
    if (i % 32 == 0) {
      if (absl::Now() >= until) return false;
      if (yield) std::this_thread::yield();
    }
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
}

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_DEADLINE_H_
