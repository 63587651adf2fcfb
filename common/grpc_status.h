// Where absl::Status and grpc::Status meet: the daemon answering a call, and
// whoever reads its answer (the CLI, tests). Both number their codes as
// google.rpc.Code does, so the code and the message carry over unchanged.
#ifndef SHMPORT_COMMON_GRPC_STATUS_H_
#define SHMPORT_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace shmport {

grpc::Status ToGrpcStatus(const absl::Status& status);
// A code outside google.rpc.Code (a newer peer's) becomes INTERNAL naming it
// (StatusFromWire).
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace shmport

#endif  // SHMPORT_COMMON_GRPC_STATUS_H_
