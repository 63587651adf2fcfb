#include "tests/control/raw_client.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "tests/util/fd_wait.h"

namespace shmport::testing {

std::unique_ptr<grpc::ClientContext> Context(const std::string& admin_token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  if (!admin_token.empty()) {
    context->AddMetadata("x-shmport-admin-token", admin_token);
  }
  return context;
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(status.error_code(), ": ", status.error_message());
}

absl::StatusOr<RawRegistration> RegisterOnly(v1::ControlPlane::Stub& stub,
                                             const std::string& name) {
  return RegisterDeclaring(stub, name, ::getpid(), 0);
}

absl::StatusOr<RawRegistration> RegisterDeclaring(v1::ControlPlane::Stub& stub,
                                                  const std::string& name,
                                                  pid_t pid,
                                                  uint64_t pid_namespace) {
  v1::RegisterRequest request;
  request.set_name(name);
  request.set_pid(pid);
  request.set_pid_namespace(pid_namespace);
  request.set_version("test");
  v1::RegisterResponse response;
  grpc::Status status = stub.Register(Context().get(), request, &response);
  if (!status.ok()) {
    return FromGrpcStatus(status);
  }
  RawRegistration r;
  r.id = response.process_id();
  r.token = response.session_token();
  r.broker_address = response.broker_address();
  return r;
}

absl::StatusOr<RawRegistration> RegisterAndAttach(v1::ControlPlane::Stub& stub,
                                                  const std::string& name) {
  absl::StatusOr<RawRegistration> r = RegisterOnly(stub, name);
  if (!r.ok()) return r;
  absl::StatusOr<BrokerLink> link =
      BrokerLink::Attach(r->broker_address, r->id, r->token, absl::Seconds(10));
  if (!link.ok()) return link.status();
  r->link = std::move(*link);
  return r;
}

absl::StatusOr<BrokerNotice> NextNotice(BrokerLink& link,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<std::optional<BrokerNotice>> notice = link.Receive();
    if (!notice.ok()) return notice.status();
    if (notice->has_value()) return std::move(**notice);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError("no broker notice in time");
    }
    // Readable or not, Receive looks again: a notice, EOF, or the deadline.
    WaitReadable(link.fd(), deadline);
  }
}

grpc::Status OpenPortByName(v1::ControlPlane::Stub& stub,
                            const RawRegistration& from, const std::string& to,
                            v1::OpenPortResponse* response) {
  v1::OpenPortRequest request;
  request.mutable_from()->set_id(from.id);
  request.mutable_to()->set_name(to);
  request.set_session_token(from.token);
  return stub.OpenPort(Context().get(), request, response);
}

}  // namespace shmport::testing
