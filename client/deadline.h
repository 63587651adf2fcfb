// Deadline: a point in time computed only when someone needs it, and the
// two ways of waiting for one (poll, spin).
#ifndef SHMPORT_CLIENT_DEADLINE_H_
#define SHMPORT_CLIENT_DEADLINE_H_

#include <algorithm>
#include <cstdint>
#include <thread>

#include "absl/base/attributes.h"
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

// Milliseconds until `deadline` for poll(): -1 for an infinite deadline,
// rounded up so that a poll never returns just before the deadline.
inline int PollTimeoutMs(const Deadline& deadline) {
  if (deadline.infinite()) return -1;
  const absl::Duration left = deadline.left();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
      1 << 30));
}

// Polls `ready` until it holds (true) or the time `until()` returns has
// passed (false), pausing the CPU between polls; every 32 polls it reads
// the clock and, with `yield`, gives the CPU to whoever else wants it. A
// wait that ends within the first 32 polls reads no clock: `until` is
// asked at the first look. Never inlined: a frame of its own, which
// bench/port_driver/hot_path.py leaves out of the work a message costs (it
// is the waiting).
template <typename Until, typename Ready>
ABSL_ATTRIBUTE_NOINLINE bool SpinUntil(Until until, bool yield, Ready ready) {
  absl::Time end = absl::InfiniteFuture();
  for (uint32_t i = 1;; ++i) {
    if (ready()) return true;
    if (i % 32 == 0) {
      if (i == 32) end = until();
      if (absl::Now() >= end) return false;
      if (yield) std::this_thread::yield();
    }
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
}

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_DEADLINE_H_
