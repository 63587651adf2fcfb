// RpcRefusals: counts the control-plane calls shmportd answered with an
// error, by method and gRPC code, for shmport_rpc_refusals_total. A gRPC
// server interceptor feeds it, so no handler has to remember to count.
// It passes each refusal on to a LimitRefusals too, which counts those that
// name a limit.
#ifndef SHMPORT_SERVER_METRICS_REFUSALS_H_
#define SHMPORT_SERVER_METRICS_REFUSALS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/mutex.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/limit_refusals.h"
#include "server/metrics_families.h"

namespace shmport::server {

// Thread-safety: thread-safe. The key space is bounded: the service's
// methods (a fixed set; other paths count as "other") times the 16 gRPC
// codes.
class RpcRefusals {
 public:
  // `limits` (which must outlive this) also counts every refusal that
  // names a limit; may be null.
  explicit RpcRefusals(LimitRefusals* limits = nullptr) : limits_(limits) {}

  // Counts one call of `full_method` ("/shmport.v1.ControlPlane/Register")
  // that ended with `status`; OK is not counted.
  void Count(absl::string_view full_method, const grpc::Status& status);
  std::vector<RefusalCount> Snapshot() const;

  // An interceptor factory for grpc::ServerBuilder that counts into this
  // (which must outlive the server).
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  NewInterceptorFactory();

 private:
  LimitRefusals* const limits_;
  mutable Mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_METRICS_REFUSALS_H_
