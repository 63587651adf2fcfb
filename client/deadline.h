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

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_DEADLINE_H_
