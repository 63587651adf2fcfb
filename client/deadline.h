// Deadline: a point in time computed only when someone needs it.
#ifndef SHMPORT_CLIENT_DEADLINE_H_
#define SHMPORT_CLIENT_DEADLINE_H_

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
  // Reads the clock unless the answer is known without it (an infinite
  // deadline, or Passed()).
  bool passed() const {
    const absl::Time t = at();
    if (t == absl::InfiniteFuture()) return false;
    return t == absl::InfinitePast() || absl::Now() >= t;
  }
  // passed(), but a deadline nobody has asked for yet (no wait has started)
  // has not passed unless its timeout is zero or less: no clock read.
  bool expired() const {
    if (!known_) return timeout_ <= absl::ZeroDuration();
    return passed();
  }
  // The time left (InfiniteDuration if infinite, negative once passed),
  // with one clock read; the first ask starts the wait: all of timeout().
  absl::Duration left() const {
    if (infinite()) return absl::InfiniteDuration();
    const absl::Time now = absl::Now();
    if (!known_) {
      at_ = now + timeout_;
      known_ = true;
      return timeout_;
    }
    return at_ - now;
  }
  bool infinite() const { return timeout_ == absl::InfiniteDuration(); }
  absl::Duration timeout() const { return timeout_; }

 private:
  Deadline(absl::Duration timeout, bool past)
      : timeout_(timeout), at_(absl::InfinitePast()), known_(past) {}

  absl::Duration timeout_;
  mutable absl::Time at_;
  mutable bool known_ = false;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_DEADLINE_H_
