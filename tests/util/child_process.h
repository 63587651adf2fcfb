// Runs test code in a forked child process. The child reports through its
// exit code (0 = success), never through gtest, whose state it must not touch.
#ifndef SHMPORT_TESTS_UTIL_CHILD_PROCESS_H_
#define SHMPORT_TESTS_UTIL_CHILD_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shmport::testing {

// A forked child. The destructor SIGKILLs and reaps it if still running.
class ChildProcess {
 public:
  // Forks; the child runs `body` and _exit()s with its return value.
  static ChildProcess Fork(std::function<int()> body);
  // Takes charge of `pid`, which must already be this process's child
  // (e.g. an orphan reparented to it as a child subreaper).
  static ChildProcess Adopt(pid_t pid) { return ChildProcess(pid); }

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // Waits up to `timeout` for the child to end. Returns a description:
  // "exit 0", "exit 3", "signal 9", or "timeout" (the child is then killed).
  std::string Wait(absl::Duration timeout = absl::Seconds(60));
  // Waits up to `timeout` for the child to end and returns its exit code;
  // INTERNAL when a signal ended it, DEADLINE_EXCEEDED when it did not end
  // in time (it is then killed).
  absl::StatusOr<int> WaitForExitCode(absl::Duration timeout);
  void Kill(int signal);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  // Reaps the child, waiting up to `timeout`: its waitpid status, or
  // nullopt when it had to be killed at the timeout.
  std::optional<int> Reap(absl::Duration timeout);

  pid_t pid_;
  bool reaped_ = false;
  std::optional<int> status_;  // waitpid status, once reaped in time
  std::string hang_;           // what the child was doing when a wait timed out
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_UTIL_CHILD_PROCESS_H_
