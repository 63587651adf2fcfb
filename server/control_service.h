// ControlService: the gRPC face of the Switchboard (shmport.v1.ControlPlane,
// callback API). Translates requests, checks the admin token, and streams
// events to watchers through bounded queues.
#ifndef SHMPORT_SERVER_CONTROL_SERVICE_H_
#define SHMPORT_SERVER_CONTROL_SERVICE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "server/switchboard.h"
#include "shmport/v1/control.grpc.pb.h"

namespace shmport::server {

// The daemon's version, reported by GetStatus.
inline constexpr char kDaemonVersion[] = "0.1.0";

// The metadata key that carries the admin token.
inline constexpr char kAdminTokenHeader[] = "x-shmport-admin-token";

struct ServiceIdentity {
  std::string listen_address;
  absl::Time started_at;
  std::string admin_token;     // compared with the request's metadata
  size_t watcher_queue_limit;  // events a watcher may lag behind
  size_t watcher_queue_bytes;  // and their encoded bytes
};

// Thread-safety: gRPC calls the methods on its own threads, concurrently;
// the Switchboard does the locking.
class ControlService final : public v1::ControlPlane::CallbackService {
 public:
  // `switchboard` outlives the service.
  ControlService(Switchboard* switchboard, ServiceIdentity identity);

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* ctx,
                                     const v1::RegisterRequest* request,
                                     v1::RegisterResponse* response) override;
  grpc::ServerUnaryReactor* Unregister(
      grpc::CallbackServerContext* ctx, const v1::UnregisterRequest* request,
      v1::UnregisterResponse* response) override;
  grpc::ServerUnaryReactor* OpenPort(grpc::CallbackServerContext* ctx,
                                     const v1::OpenPortRequest* request,
                                     v1::OpenPortResponse* response) override;
  grpc::ServerUnaryReactor* ClosePort(grpc::CallbackServerContext* ctx,
                                      const v1::ClosePortRequest* request,
                                      v1::ClosePortResponse* response) override;
  grpc::ServerUnaryReactor* ListProcesses(
      grpc::CallbackServerContext* ctx, const v1::ListProcessesRequest* request,
      v1::ListProcessesResponse* response) override;
  grpc::ServerUnaryReactor* ListPorts(grpc::CallbackServerContext* ctx,
                                      const v1::ListPortsRequest* request,
                                      v1::ListPortsResponse* response) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* ctx,
                                     const v1::GetStatsRequest* request,
                                     v1::GetStatsResponse* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const v1::GetStatusRequest* request,
                                      v1::GetStatusResponse* response) override;
  grpc::ServerWriteReactor<v1::Event>* WatchEvents(
      grpc::CallbackServerContext* ctx,
      const v1::WatchEventsRequest* request) override;
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* ctx,
                                    const v1::PublishRequest* request,
                                    v1::PublishResponse* response) override;
  grpc::ServerUnaryReactor* Unpublish(grpc::CallbackServerContext* ctx,
                                      const v1::UnpublishRequest* request,
                                      v1::UnpublishResponse* response) override;
  grpc::ServerUnaryReactor* Subscribe(grpc::CallbackServerContext* ctx,
                                      const v1::SubscribeRequest* request,
                                      v1::SubscribeResponse* response) override;
  grpc::ServerUnaryReactor* Unsubscribe(
      grpc::CallbackServerContext* ctx, const v1::UnsubscribeRequest* request,
      v1::UnsubscribeResponse* response) override;
  grpc::ServerUnaryReactor* ListTopics(
      grpc::CallbackServerContext* ctx, const v1::ListTopicsRequest* request,
      v1::ListTopicsResponse* response) override;

  // Waits until no call is in flight (watch streams included), or until
  // `deadline`. True when idle. gRPC's own Shutdown(deadline) also waits
  // for idle client connections to go away, which they never do by
  // themselves; the daemon waits for its calls here and then shuts gRPC
  // down at once.
  bool WaitIdle(absl::Time deadline) ABSL_LOCKS_EXCLUDED(calls_mu_);

  // Counts one call in flight for its lifetime.
  class CallScope {
   public:
    explicit CallScope(ControlService* service);
    ~CallScope();
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

   private:
    ControlService* service_;
  };

 private:
  // Caller{admin} when the metadata carries the right admin token; a wrong
  // token is PERMISSION_DENIED rather than silently ignored.
  absl::StatusOr<Caller> CallerOf(grpc::CallbackServerContext* ctx) const;

  Switchboard* const switchboard_;
  const ServiceIdentity identity_;

  // Guards calls_in_flight_. Lock order (docs/architecture.md, "Locks"): a
  // leaf, held only to count.
  Mutex calls_mu_;
  CondVar calls_done_;  // calls_in_flight_ reached 0
  int calls_in_flight_ ABSL_GUARDED_BY(calls_mu_) = 0;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_CONTROL_SERVICE_H_
