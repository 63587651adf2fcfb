// StopSignal: SIGINT and SIGTERM as an event that long-running subcommands
// (watch, top) wait on, so Ctrl-C ends them cleanly with exit code 0.
#ifndef SHMPORT_CLI_STOP_SIGNAL_H_
#define SHMPORT_CLI_STOP_SIGNAL_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "shmport/unique_fd.h"

namespace shmport::cli {

// Blocks SIGINT and SIGTERM in the calling thread, which every thread
// started later inherits, and reads them from a signalfd on a thread of its
// own. Construct it in main() before anything starts threads (gRPC does):
// a thread that does not block the signals would take the default action.
//
// Until a subcommand sets a stop action, a signal ends the process at once
// with exit status 128 + signal, as if nothing were installed.
//
// Thread-safety: all methods may be called from any thread.
class StopSignal {
 public:
  StopSignal();
  // Stops the signal thread and unblocks the signals again.
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // From now on a signal marks the stop and runs `action` (on the signal
  // thread, under the lock: it must not block nor call back into this
  // object) instead of ending the process. Once this returns, an action
  // set before is never called again.
  void SetStopAction(std::function<void()> action) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits up to `timeout` for a stop; true when one happened.
  bool WaitFor(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  bool stopped() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  UniqueFd signal_fd_;
  UniqueFd wake_fd_;  // eventfd: the destructor's "stop reading"
  // Guards the two below. Lock order (docs/architecture.md, "Locks"): a
  // leaf apart from the action, which runs under it.
  mutable Mutex mu_;
  CondVar stop_cv_;  // signalled when stopped_ turns true
  std::function<void()> action_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started last, joined first
};

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_STOP_SIGNAL_H_
