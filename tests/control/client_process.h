// ClientProcess: a //tests/control:control_client child, driven through
// its stdin (closing it ends the child) and read through its stdout lines.
#ifndef SHMPORT_TESTS_CONTROL_CLIENT_PROCESS_H_
#define SHMPORT_TESTS_CONTROL_CLIENT_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/util/piped_child.h"

namespace shmport::testing {

// Thread-safety: none; one test thread drives it.
class ClientProcess {
 public:
  // Runs control_client with `args` (e.g. "--name=a", "--mode=echo").
  static absl::StatusOr<ClientProcess> Spawn(std::vector<std::string> args);
  // Runs `wrapper` with control_client's path and `args` appended (e.g.
  // {"/usr/bin/unshare", "--pid", "--fork", "--kill-child"}; for a shell,
  // {..., "sh", "-c", "...; exec \"$0\" \"$@\""}). pid() is then the
  // wrapper's, which must end when control_client does.
  static absl::StatusOr<ClientProcess> SpawnUnder(
      std::vector<std::string> wrapper, std::vector<std::string> args);

  ClientProcess(ClientProcess&& other) noexcept = default;
  ClientProcess& operator=(ClientProcess&&) = delete;
  // Kills (SIGKILL) and reaps the child if it still runs.
  ~ClientProcess() = default;

  pid_t pid() const { return child_.pid(); }

  // The next stdout line (without "\n"), waiting up to `timeout`.
  // DEADLINE_EXCEEDED, or UNAVAILABLE at EOF (the child exited).
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout) {
    return child_.ReadLine(timeout);
  }
  // Closes stdin (the child then exits) and waits for its exit code.
  absl::StatusOr<int> Finish(absl::Duration timeout);
  // Sends `signal` and reaps the child (so: a signal that ends it).
  void Kill(int signal);

  // The path of control_client (runfiles of the running test).
  static std::string FindBinary();

 private:
  explicit ClientProcess(PipedChild child) : child_(std::move(child)) {}

  PipedChild child_;  // stdin: closed to end it; stdout: its report lines
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_CONTROL_CLIENT_PROCESS_H_
