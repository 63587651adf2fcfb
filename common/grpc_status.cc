#include "common/grpc_status.h"

#include <string>

#include "common/errors.h"

namespace shmport {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return StatusFromWire(static_cast<int>(status.error_code()),
                        status.error_message());
}

}  // namespace shmport
