#include "server/metrics_refusals.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace shmport::server {
namespace {

constexpr absl::string_view kServicePrefix = "/shmport.v1.ControlPlane/";

// gRPC's codes are absl's, 1 (CANCELLED) to 16 (UNAUTHENTICATED).
constexpr int kLastCode = static_cast<int>(grpc::StatusCode::UNAUTHENTICATED);

// Method names are the service's own (at most a few dozen, all short and
// made of [A-Za-z]); anything else (health checks, reflection, unknown
// paths) is one bucket, so a client cannot mint label values.
std::string MethodLabel(absl::string_view full_method) {
  if (!absl::StartsWith(full_method, kServicePrefix)) return "other";
  absl::string_view name = full_method.substr(kServicePrefix.size());
  if (name.empty() || name.size() > 32) return "other";
  for (char c : name) {
    if (!absl::ascii_isalpha(c)) return "other";
  }
  return std::string(name);
}

class RefusalInterceptor : public grpc::experimental::Interceptor {
 public:
  RefusalInterceptor(RpcRefusals* refusals, const char* method)
      : refusals_(refusals), method_(method == nullptr ? "" : method) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      refusals_->Count(method_, methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  RpcRefusals* const refusals_;
  const std::string method_;
};

class RefusalInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RefusalInterceptorFactory(RpcRefusals* refusals)
      : refusals_(refusals) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RefusalInterceptor(refusals_, info->method());
  }

 private:
  RpcRefusals* const refusals_;
};

}  // namespace

void RpcRefusals::Count(absl::string_view full_method,
                        const grpc::Status& status) {
  const int index = static_cast<int>(status.error_code());
  if (index <= 0 || index > kLastCode) return;
  if (limits_ != nullptr) {
    limits_->Count(absl::Status(static_cast<absl::StatusCode>(index),
                                status.error_message()));
  }
  MutexLock lock(&mu_);
  ++counts_[{MethodLabel(full_method), index}];
}

std::vector<RefusalCount> RpcRefusals::Snapshot() const {
  MutexLock lock(&mu_);
  std::vector<RefusalCount> out;
  out.reserve(counts_.size());
  for (const auto& [key, count] : counts_) {
    out.push_back(
        {key.first,
         absl::StatusCodeToString(static_cast<absl::StatusCode>(key.second)),
         count});
  }
  return out;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcRefusals::NewInterceptorFactory() {
  return std::make_unique<RefusalInterceptorFactory>(this);
}

}  // namespace shmport::server
