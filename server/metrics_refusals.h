// RpcRefusals: counts the control-plane calls shmportd answered with an
// error, by method and gRPC code, for shmport_rpc_refusals_total. A gRPC
// server interceptor feeds it, so no handler has to remember to count.
#ifndef SHMPORT_SERVER_METRICS_REFUSALS_H_
#define SHMPORT_SERVER_METRICS_REFUSALS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/metrics_families.h"

namespace shmport::server {

// Thread-safety: thread-safe. The key space is bounded: the service's
// methods (a fixed set; other paths count as "other") times the 16 gRPC
// codes.
class RpcRefusals {
 public:
  // Counts one call of `full_method` ("/shmport.v1.ControlPlane/Register")
  // that ended with `code`; OK is not counted.
  void Count(absl::string_view full_method, grpc::StatusCode code);
  std::vector<RefusalCount> Snapshot() const;

  // An interceptor factory for grpc::ServerBuilder that counts into this
  // (which must outlive the server).
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  NewInterceptorFactory();

 private:
  mutable std::mutex mu_;  // guards counts_
  std::map<std::pair<std::string, int>, uint64_t> counts_;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_METRICS_REFUSALS_H_
