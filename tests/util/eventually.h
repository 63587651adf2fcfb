// A deadline-bounded wait on a condition that another thread or process
// changes: the tests' replacement for sleeping.
#ifndef SHMPORT_TESTS_UTIL_EVENTUALLY_H_
#define SHMPORT_TESTS_UTIL_EVENTUALLY_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shmport::testing {

// Polls `done` (every `every`) until it holds (true) or `timeout` passes
// (false).
inline bool Eventually(const std::function<bool()>& done,
                       absl::Duration timeout = absl::Seconds(20),
                       absl::Duration every = absl::Milliseconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(every);
  }
  return true;
}

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_UTIL_EVENTUALLY_H_
