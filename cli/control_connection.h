// ControlConnection: shmportctl's link to one shmportd — the address it
// found, the stub, per-call deadlines, the admin token, and errors turned
// into sentences that say what to do next.
#ifndef SHMPORT_CLI_CONTROL_CONNECTION_H_
#define SHMPORT_CLI_CONTROL_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "shmport/v1/control.grpc.pb.h"

namespace shmport::cli {

struct ConnectionOptions {
  // gRPC address; empty: DefaultControlAddress() ($SHMPORT_ADDRESS, else
  // the per-user socket if it exists, else /run/shmport/control.sock if it
  // exists, else the per-user one), as the library chooses.
  std::string address;
  // Where admin.token lives when it is not next to the socket (the
  // daemon's --runtime_dir; required for unix-abstract: addresses).
  std::string runtime_dir;
  // Bound on each call.
  absl::Duration timeout = absl::Seconds(5);
  // Calls wait (up to `timeout`) for a daemon that is not there yet instead
  // of failing at once: for scripts that have just started one.
  bool wait_for_ready = false;
};

// Thread-safety: the methods may be called from several threads (the stub
// is thread-safe); the object itself is immutable after Create.
class ControlConnection {
 public:
  // Resolves the address (no connection is made yet: gRPC connects on the
  // first call). INVALID_ARGUMENT for an address shmport cannot use (TCP,
  // an over-long socket path), naming it.
  static absl::StatusOr<ControlConnection> Create(
      const ConnectionOptions& options);

  const std::string& address() const { return address_; }
  v1::ControlPlane::Stub& stub() const { return *stub_; }

  // A context with the call deadline set, and the admin token attached
  // when `as_admin` (read from admin.token on each call, so a restarted
  // daemon's new token is picked up). Errors: see AdminToken() and
  // CheckDaemon().
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> NewContext(
      bool as_admin = false) const;
  // A context without a deadline, for streams that run until stopped.
  // Errors: see CheckDaemon().
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> NewStreamContext() const;

  // Whether the daemon at the address is one this user trusts (its
  // directory and socket belong to this uid, $SHMPORT_DAEMON_UID, or root;
  // common/paths/daemon_identity.h). Checked before every call, so that a
  // daemon that appears later (status --wait) is checked too.
  // PERMISSION_DENIED naming the owner uid.
  absl::Status CheckDaemon() const;

  // The operator's secret from the daemon's admin.token (mode 0600).
  // Errors name the file and say who may read it (PERMISSION_DENIED,
  // NOT_FOUND when no daemon wrote it there).
  absl::StatusOr<std::string> AdminToken() const;

  // Asks grpc.health.v1.Health/Check about the whole server and returns
  // the answer: "serving", "not_serving" or "unknown". Errors as for any
  // call (see Explain).
  absl::StatusOr<std::string> CheckHealth() const;

  // A failed call's status as an absl::Status whose message a person can
  // act on: "cannot reach shmportd at ADDRESS (...): is shmportd running?
  // ..." for connection failures, the daemon's own message (which names
  // the problem) otherwise.
  absl::Status Explain(const grpc::Status& status) const;

 private:
  ControlConnection() = default;

  std::string address_;
  std::string admin_token_path_;  // empty: unknown (abstract address)
  absl::Duration timeout_;
  bool wait_for_ready_ = false;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<v1::ControlPlane::Stub> stub_;
};

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_CONTROL_CONNECTION_H_
