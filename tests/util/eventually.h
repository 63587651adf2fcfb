// Eventually: waits, bounded, for a condition another process brings
// about (a daemon's state, a child's fds). Not a sleep: it returns as soon
// as the condition holds, and a test asserts on its result.
#ifndef SHMPORT_TESTS_UTIL_EVENTUALLY_H_
#define SHMPORT_TESTS_UTIL_EVENTUALLY_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shmport::testing {

// Polls `done` every 5 ms until it returns true (then true) or `bound`
// has passed (then false).
inline bool Eventually(const std::function<bool()>& done,
                       absl::Duration bound = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + bound;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_UTIL_EVENTUALLY_H_
