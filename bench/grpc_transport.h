// GrpcTransport ("grpc"): a bidirectional gRPC stream of `bytes` messages
// over a unix socket under /tmp, sync API. The receiver is the server
// process, the sender the client process.
#ifndef SHMPORT_BENCH_GRPC_TRANSPORT_H_
#define SHMPORT_BENCH_GRPC_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "bench/transport.h"

namespace shmport::bench {

// Largest message either end accepts; above the largest payload (8 MiB).
inline constexpr int kGrpcMaxMessageBytes = 64 << 20;

class GrpcTransport : public Transport {
 public:
  std::string name() const override { return "grpc"; }
  // Picks a fresh socket path (/tmp/shmport-bench-<pid>-<n>.sock) and the
  // pipe through which the server tells the client it is listening. No
  // gRPC call happens in the parent: gRPC's threads must not cross fork.
  absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const override;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_GRPC_TRANSPORT_H_
