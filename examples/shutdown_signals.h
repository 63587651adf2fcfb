// ShutdownSignals: SIGINT and SIGTERM as something a demo's main loop can
// wait on, so that Ctrl-C (or the demo script's SIGTERM) ends it cleanly
// with a summary instead of killing it mid-message.
#ifndef SHMPORT_EXAMPLES_SHUTDOWN_SIGNALS_H_
#define SHMPORT_EXAMPLES_SHUTDOWN_SIGNALS_H_

#include <signal.h>

#include "absl/time/time.h"

namespace shmport::examples {

// Blocks SIGINT and SIGTERM in the calling thread; threads started later
// inherit the mask, so construct it first thing in main(), before the
// Session starts its threads. The signals then stay pending until Wait or
// Requested collects them.
//
// Thread-safety: Wait and Requested from one thread (main) only.
class ShutdownSignals {
 public:
  ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Waits up to `timeout` for a signal; true once one has arrived (and
  // from then on at once).
  bool Wait(absl::Duration timeout);
  // Wait(0): never blocks.
  bool Requested() { return Wait(absl::ZeroDuration()); }

 private:
  sigset_t set_;
  bool seen_ = false;
};

}  // namespace shmport::examples

#endif  // SHMPORT_EXAMPLES_SHUTDOWN_SIGNALS_H_
