// DaemonProcess: a real shmportd for tests and load runs. Starts the
// binary on a fresh socket directory under /tmp, waits until it serves
// (its --ready_fd signal, then a grpc.health.v1 check), and stops or kills
// it at the end.
//
//   auto daemon = DaemonProcess::Start();
//   ASSERT_TRUE(daemon.ok()) << daemon.status();
//   auto stub = (*daemon)->NewStub();
#ifndef SHMPORT_TESTS_CONTROL_DAEMON_PROCESS_H_
#define SHMPORT_TESTS_CONTROL_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shmport/unique_fd.h"
#include "shmport/v1/control.grpc.pb.h"
#include "tests/util/other_user.h"

namespace shmport::testing {

struct DaemonProcessOptions {
  // Path of shmportd; empty: FindDaemonBinary().
  std::string binary;
  // A text-format DaemonConfig; non-empty: written to the socket directory
  // and passed with --config.
  std::string config_text;
  // Passed to shmportd as --log_level. The daemon logs to this process's
  // stderr (the test log).
  std::string log_level = "warning";
  // More flags for shmportd.
  std::vector<std::string> extra_args;
  // Bound on start-up (a sanitizer build starts slowly).
  absl::Duration ready_timeout = absl::Seconds(30);
  // Socket directory; empty: a fresh /tmp/shmport-tXXXXXX (unique, short
  // enough for sockaddr_un), removed by the destructor.
  std::string directory;
  // > 0: the daemon runs with RLIMIT_NOFILE (soft and hard) at this.
  int fd_limit = 0;
  // Non-empty: the daemon's stderr (its log) goes to this file instead.
  std::string log_path;
  // Runs the daemon as this uid:gid (a copy of the binary that uid can
  // read; the caller must be root). Give a `directory` that uid can create
  // (the fresh default one is root's), and no config_text.
  struct User {
    uid_t uid;
    gid_t gid;
  };
  std::optional<User> run_as;
};

// Thread-safety: not thread-safe; one test thread drives it. The stubs it
// makes are thread-safe.
class DaemonProcess {
 public:
  // Starts shmportd and waits until it answers a health check. Errors:
  // NOT_FOUND (no binary), the daemon's exit status if it dies on the way
  // (its own log line says why), DEADLINE_EXCEEDED.
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const DaemonProcessOptions& options = {});

  // Kills the daemon (SIGKILL) if it still runs, reaps it, and removes
  // the directory it created.
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // "unix:/tmp/shmport-tXXXXXX/control.sock"
  const std::string& address() const { return address_; }
  const std::string& directory() const { return directory_; }
  std::string broker_address() const { return directory_ + "/broker.sock"; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !reaped_; }

  // The operator token from admin.token.
  absl::StatusOr<std::string> AdminToken() const;
  // A new stub on a new channel to the daemon.
  std::unique_ptr<v1::ControlPlane::Stub> NewStub() const;
  // Calls grpc.health.v1.Health/Check for the whole server: OK when it
  // answers SERVING.
  absl::Status CheckHealth(absl::Duration timeout = absl::Seconds(5)) const;

  // Sends SIGTERM and waits up to `timeout` for the daemon to exit.
  // Returns its exit code (0 for a clean stop); INTERNAL when a signal
  // killed it; DEADLINE_EXCEEDED when it did not exit (it is then killed).
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(5));
  // Sends `signal` (e.g. SIGKILL) and reaps the daemon.
  void Kill(int signal);

  // The path of the shmportd binary: $SHMPORTD if set, else the runfiles of
  // the running test or binary (data dependency //server:shmportd), else
  // bazel-bin/server/shmportd.
  static std::string FindDaemonBinary();

 private:
  DaemonProcess() = default;
  // Waits up to `timeout` for the child to exit and reaps it.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);

  std::string address_;
  std::string directory_;
  bool owns_directory_ = false;
  pid_t pid_ = 0;
  UniqueFd pidfd_;                    // readable when the daemon exits
  std::unique_ptr<BinaryCopy> copy_;  // the binary, for options.run_as
  bool reaped_ = false;
  int exit_status_ = 0;  // waitpid status once reaped
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_CONTROL_DAEMON_PROCESS_H_
