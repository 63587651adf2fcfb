// Registering and attaching from the test process itself, with raw gRPC
// and a raw BrokerLink, so tests can play any number of processes (and
// misbehave on purpose) without a Session.
#ifndef SHMPORT_TESTS_CONTROL_RAW_CLIENT_H_
#define SHMPORT_TESTS_CONTROL_RAW_CLIENT_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/broker_link.h"
#include "grpcpp/client_context.h"
#include "shmport/v1/control.grpc.pb.h"

namespace shmport::testing {

// One registration held by the test process.
struct RawRegistration {
  uint64_t id = 0;
  std::string token;
  std::string broker_address;
  BrokerLink link;  // invalid until attached
};

// Register(name, pid = this process) without attaching.
absl::StatusOr<RawRegistration> RegisterOnly(v1::ControlPlane::Stub& stub,
                                             const std::string& name);
// Register declaring `pid` as pid namespace `pid_namespace` numbers it
// (0: the daemon's), without attaching.
absl::StatusOr<RawRegistration> RegisterDeclaring(v1::ControlPlane::Stub& stub,
                                                  const std::string& name,
                                                  pid_t pid,
                                                  uint64_t pid_namespace);
// Register and attach the broker link.
absl::StatusOr<RawRegistration> RegisterAndAttach(v1::ControlPlane::Stub& stub,
                                                  const std::string& name);

// The next frame on `link`, waiting up to `timeout`.
absl::StatusOr<BrokerNotice> NextNotice(BrokerLink& link,
                                        absl::Duration timeout);

// OpenPort from `from` (with its token) to the process named `to`.
grpc::Status OpenPortByName(v1::ControlPlane::Stub& stub,
                            const RawRegistration& from, const std::string& to,
                            v1::OpenPortResponse* response);

// A context with a 10 s deadline, optionally carrying the admin token.
std::unique_ptr<grpc::ClientContext> Context(
    const std::string& admin_token = "");

// "NOT_FOUND: message" for failure messages.
std::string Describe(const grpc::Status& status);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_CONTROL_RAW_CLIENT_H_
