#include "examples/shutdown_signals.h"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "absl/time/clock.h"

namespace shmport::examples {

ShutdownSignals::ShutdownSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

bool ShutdownSignals::Wait(absl::Duration timeout) {
  if (seen_) return true;
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const timespec wait = absl::ToTimespec(
        std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (::sigtimedwait(&set_, nullptr, &wait) > 0) {
      seen_ = true;
      return true;
    }
    if (errno != EINTR || absl::Now() >= deadline) return false;
  }
}

}  // namespace shmport::examples
