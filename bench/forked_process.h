// ForkedProcess: a child process that runs a function, owned RAII-style.
#ifndef SHMPORT_BENCH_FORKED_PROCESS_H_
#define SHMPORT_BENCH_FORKED_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shmport/unique_fd.h"

namespace shmport::bench {

// A forked child. The destructor SIGKILLs and reaps it if it still runs, so
// no error path of the parent leaves a child behind; the child also gets
// SIGKILL if the parent dies first.
class ForkedProcess {
 public:
  // Forks. The child runs `body` and _exit()s with its return value (it
  // never returns into the caller, nor runs the parent's atexit handlers).
  // The caller should be single-threaded: only the forking thread lives on
  // in the child.
  static absl::StatusOr<ForkedProcess> Start(const std::function<int()>& body);

  ForkedProcess(ForkedProcess&& other) noexcept;
  ForkedProcess& operator=(ForkedProcess&&) = delete;
  ForkedProcess(const ForkedProcess&) = delete;
  ~ForkedProcess();

  pid_t pid() const { return pid_; }

  // Waits until `deadline` for the child to end (on a pidfd; where there
  // is none, e.g. under valgrind, by checking every millisecond)
  // and describes how it ended: "exit 0", "exit 3", "signal 9". At the
  // deadline the child is killed and DEADLINE_EXCEEDED returned.
  absl::StatusOr<std::string> Wait(absl::Time deadline);

  // Sends SIGKILL (if not yet reaped).
  void Kill();

 private:
  ForkedProcess(pid_t pid, UniqueFd pidfd)
      : pid_(pid), pidfd_(std::move(pidfd)) {}

  pid_t pid_;
  UniqueFd pidfd_;
  bool reaped_ = false;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_FORKED_PROCESS_H_
