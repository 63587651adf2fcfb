#include "cli/control_connection.h"

#include <errno.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/paths/daemon_identity.h"
#include "common/paths/reachability.h"
#include "common/paths/runtime_paths.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/channel_arguments.h"

namespace shmport::cli {
namespace {

// The daemon's metadata key for operator calls (see control.proto).
constexpr char kAdminTokenHeader[] = "x-shmport-admin-token";

}  // namespace

absl::StatusOr<ControlConnection> ControlConnection::Create(
    const ConnectionOptions& options) {
  ControlConnection c;
  c.address_ =
      options.address.empty() ? DefaultControlAddress() : options.address;
  if (absl::Status s = ValidateControlAddress(c.address_); !s.ok()) return s;
  c.timeout_ = options.timeout;
  c.wait_for_ready_ = options.wait_for_ready;
  if (absl::StartsWith(c.address_, "unix-abstract:") &&
      options.runtime_dir.empty()) {
    // Reading works without a directory; only admin calls need one.
    absl::StatusOr<RuntimePaths> paths = RuntimePathsFor(c.address_, "/");
    if (!paths.ok()) return paths.status();
  } else {
    absl::StatusOr<RuntimePaths> paths =
        RuntimePathsFor(c.address_, options.runtime_dir);
    if (!paths.ok()) return paths.status();
    c.admin_token_path_ = paths->admin_token_path;
  }
  // Reconnect quickly: `status --wait` polls a daemon that is starting,
  // and gRPC's default first backoff (1 s) would dominate.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  // The daemon names the client in what it tells others ("port 7 closed by
  // operator (admin token, client shmportctl)").
  arguments.SetUserAgentPrefix("shmportctl");
  c.channel_ = grpc::CreateCustomChannel(
      c.address_, grpc::InsecureChannelCredentials(), arguments);
  c.stub_ = v1::ControlPlane::NewStub(c.channel_);
  return c;
}

absl::Status ControlConnection::CheckDaemon() const {
  return CheckDaemonAt(address_);
}

absl::StatusOr<std::unique_ptr<grpc::ClientContext>>
ControlConnection::NewContext(bool as_admin) const {
  if (absl::Status s = CheckDaemon(); !s.ok()) return s;
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  context->set_wait_for_ready(wait_for_ready_);
  if (as_admin) {
    absl::StatusOr<std::string> token = AdminToken();
    if (!token.ok()) return token.status();
    context->AddMetadata(kAdminTokenHeader, *token);
  }
  return context;
}

absl::StatusOr<std::unique_ptr<grpc::ClientContext>>
ControlConnection::NewStreamContext() const {
  if (absl::Status s = CheckDaemon(); !s.ok()) return s;
  return std::make_unique<grpc::ClientContext>();
}

absl::StatusOr<std::string> ControlConnection::AdminToken() const {
  if (admin_token_path_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the address ", address_,
        " is abstract, so shmportctl cannot guess where admin.token is: "
        "pass --runtime-dir=DIR (the daemon's --runtime_dir)"));
  }
  std::ifstream file(admin_token_path_);
  if (!file) {
    const int error = errno;
    const std::string why = std::strerror(error);
    if (error == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot read the admin token ", admin_token_path_, ": ", why,
          "; operator commands must run as the user that runs shmportd"));
    }
    return absl::NotFoundError(absl::StrCat(
        "cannot read the admin token ", admin_token_path_, ": ", why,
        "; is shmportd running with this address (", address_, ")?"));
  }
  std::stringstream contents;
  contents << file.rdbuf();
  std::string token(absl::StripAsciiWhitespace(contents.str()));
  if (token.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the admin token file ", admin_token_path_,
                     " is empty; restart shmportd to write a new one"));
  }
  return token;
}

absl::StatusOr<std::string> ControlConnection::CheckHealth() const {
  // Debian's grpc++ ships no generated health stub, so the call is made
  // generically. HealthCheckRequest{service: ""} encodes as no bytes;
  // HealthCheckResponse{status} is field 1, a varint: 08 01 = SERVING,
  // 08 02 = NOT_SERVING, nothing = UNKNOWN.
  if (absl::Status s = CheckDaemon(); !s.ok()) return s;
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  context.set_wait_for_ready(wait_for_ready_);
  grpc::CompletionQueue cq;
  grpc::Slice empty;
  const grpc::ByteBuffer request(&empty, 1);
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request,
                            &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!status.ok()) return Explain(status);
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return std::string("unknown");
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (bytes == std::string("\x08\x01", 2)) return std::string("serving");
  if (bytes == std::string("\x08\x02", 2)) return std::string("not_serving");
  return std::string("unknown");
}

absl::Status ControlConnection::Explain(const grpc::Status& status) const {
  if (status.ok()) return absl::OkStatus();
  const std::string& message = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (IsDaemonMessage(message)) break;
      return ExplainUnreachable(address_, message);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (wait_for_ready_) {
        return absl::DeadlineExceededError(
            absl::StrCat("shmportd did not come up at ", address_, " within ",
                         absl::FormatDuration(timeout_), " (", message,
                         "); check that it started, and its log"));
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "shmportd at ", address_, " did not answer within ",
          absl::FormatDuration(timeout_),
          "; it may be overloaded or stuck (raise --timeout, or check its "
          "log)"));
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::UnimplementedError(absl::StrCat(
          "the server at ", address_,
          " does not implement this call (is it a shmportd of another "
          "version?): ",
          message));
    default:
      break;
  }
  // The daemon's messages already name the problem and the value.
  return FromGrpcStatus(status);
}

}  // namespace shmport::cli
