#include "server/control_service.h"

#include <unistd.h>

#include <deque>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "server/secret.h"

namespace shmport::server {
namespace {

grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* ctx,
                                 const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

// One WatchEvents stream. The bus offers shared events (from its fan-out
// thread); the reactor queues references to them, at most `events` of
// them and `bytes` of their encoded size, and writes one at a time. A
// watcher whose queue overflows is finished with RESOURCE_EXHAUSTED at
// once, dropping what it had not read: the daemon never waits for it.
class WatchReactor final : public grpc::ServerWriteReactor<v1::Event>,
                           public EventWatcher {
 public:
  struct Bounds {
    size_t events;
    size_t bytes;
  };
  WatchReactor(ControlService* service, Switchboard* switchboard, Bounds bounds)
      : call_(service), switchboard_(switchboard), bounds_(bounds) {}

  // Subscribes, or finishes with why not.
  void Start(const absl::StatusOr<Caller>& caller,
             const v1::WatchEventsRequest& request) ABSL_LOCKS_EXCLUDED(mu_) {
    const absl::Status s = caller.ok()
                               ? switchboard_->Watch(this, request, *caller)
                               : caller.status();
    if (s.ok()) return;
    MutexLock lock(&mu_);
    if (!finish_status_.has_value()) finish_status_ = ToGrpcStatus(s);
    DropQueue();
    MaybeFinish();
  }

  bool Offer(const EventRef& event) override ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    if (finish_status_.has_value()) return true;  // ending; ignore quietly
    std::string overflow;
    if (queue_.size() >= bounds_.events) {
      overflow = absl::StrCat("watcher fell ", bounds_.events,
                              " events behind (watcher_queue_limit)");
    } else if (held_bytes_ + event->bytes > bounds_.bytes) {
      overflow = absl::StrCat("watcher holds ", held_bytes_,
                              " bytes of unread events and the next has ",
                              event->bytes, "; the limit is ", bounds_.bytes,
                              " (watcher_queue_bytes)");
    }
    if (!overflow.empty()) {
      DropQueue();
      finish_status_ = grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat(overflow,
                       "; reconnect with include_existing to resynchronise"));
      MaybeFinish();
      return false;
    }
    queue_.push_back(event);
    held_bytes_ += event->bytes;
    if (!writing_) WriteNext();
    return true;
  }

  void OnBusClosed() override ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    if (!finish_status_.has_value()) finish_status_ = grpc::Status::OK;
    MaybeFinish();
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    writing_ = false;
    held_bytes_ -= current_->bytes;
    current_.reset();
    if (!ok) {
      // The stream is broken (client gone): stop writing.
      DropQueue();
      if (!finish_status_.has_value()) finish_status_ = grpc::Status::CANCELLED;
    }
    if (!queue_.empty()) {
      WriteNext();
    } else {
      MaybeFinish();
    }
  }

  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    DropQueue();
    if (!finish_status_.has_value()) finish_status_ = grpc::Status::CANCELLED;
    MaybeFinish();
  }

  void OnDone() override {
    // After Unwatch returns the bus never calls Offer again.
    switchboard_->Unwatch(this);
    delete this;
  }

 private:
  // Starts writing the front of the queue.
  void WriteNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_->event);
  }

  // Forgets what is queued (not what is being written).
  void DropQueue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queue_.clear();
    held_bytes_ = current_ != nullptr ? current_->bytes : 0;
  }

  // Finishes once the decision is made and nothing is in flight or queued
  // (gRPC forbids Finish during a write).
  void MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || !finish_status_.has_value() ||
        !queue_.empty()) {
      return;
    }
    finished_ = true;
    Finish(*finish_status_);
  }

  ControlService::CallScope call_;  // ends in OnDone, with the reactor
  Switchboard* const switchboard_;
  const Bounds bounds_;
  // Guards everything below. Lock order (docs/architecture.md, "Locks"):
  // taken after Switchboard::mu_ (the snapshot) and EventBus::mu_
  // (OnBusClosed); held only to call gRPC's StartWrite and Finish.
  Mutex mu_;
  std::deque<EventRef> queue_ ABSL_GUARDED_BY(mu_);
  // Being written; must outlive the write.
  EventRef current_ ABSL_GUARDED_BY(mu_);
  size_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of queue_ and current_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Set: finish when idle.
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

ControlService::ControlService(Switchboard* switchboard,
                               ServiceIdentity identity)
    : switchboard_(switchboard), identity_(std::move(identity)) {}

namespace {

// The program a gRPC user agent names first ("shmportctl grpc-c++/1.51.1
// (linux; chttp2)" -> "shmportctl"); empty for gRPC's own or anything not
// a short plain name. Informational: any client may say anything.
std::string ClientNameOf(grpc::CallbackServerContext* ctx) {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find("user-agent");
  if (it == metadata.end()) return "";
  absl::string_view agent(it->second.data(), it->second.size());
  agent = agent.substr(0, agent.find_first_of(" /"));
  if (agent.empty() || agent.size() > 32 || absl::StartsWith(agent, "grpc-")) {
    return "";
  }
  for (char c : agent) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return "";
    }
  }
  return std::string(agent);
}

}  // namespace

absl::StatusOr<Caller> ControlService::CallerOf(
    grpc::CallbackServerContext* ctx) const {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find(kAdminTokenHeader);
  if (it == metadata.end()) return Caller{.client = ClientNameOf(ctx)};
  const absl::string_view presented(it->second.data(), it->second.size());
  if (!SecretsEqual(presented, identity_.admin_token)) {
    return absl::PermissionDeniedError(
        absl::StrCat(kAdminTokenHeader,
                     " does not match this daemon's admin.token (was the "
                     "daemon restarted? read the file again)"));
  }
  return Caller{.admin = true, .client = ClientNameOf(ctx)};
}

grpc::ServerUnaryReactor* ControlService::Register(
    grpc::CallbackServerContext* ctx, const v1::RegisterRequest* request,
    v1::RegisterResponse* response) {
  CallScope call(this);
  absl::StatusOr<v1::RegisterResponse> result =
      switchboard_->Register(*request);
  if (result.ok()) *response = std::move(*result);
  return Answer(ctx, result.status());
}

grpc::ServerUnaryReactor* ControlService::Unregister(
    grpc::CallbackServerContext* ctx, const v1::UnregisterRequest* request,
    v1::UnregisterResponse* response) {
  CallScope call(this);
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Answer(ctx, caller.status());
  return Answer(ctx, switchboard_->Unregister(*request, *caller));
}

grpc::ServerUnaryReactor* ControlService::OpenPort(
    grpc::CallbackServerContext* ctx, const v1::OpenPortRequest* request,
    v1::OpenPortResponse* response) {
  CallScope call(this);
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Answer(ctx, caller.status());
  absl::StatusOr<v1::OpenPortResponse> result =
      switchboard_->OpenPort(*request, *caller);
  if (result.ok()) *response = std::move(*result);
  return Answer(ctx, result.status());
}

grpc::ServerUnaryReactor* ControlService::ClosePort(
    grpc::CallbackServerContext* ctx, const v1::ClosePortRequest* request,
    v1::ClosePortResponse* response) {
  CallScope call(this);
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Answer(ctx, caller.status());
  return Answer(ctx, switchboard_->ClosePort(*request, *caller));
}

grpc::ServerUnaryReactor* ControlService::ListProcesses(
    grpc::CallbackServerContext* ctx, const v1::ListProcessesRequest* request,
    v1::ListProcessesResponse* response) {
  CallScope call(this);
  absl::StatusOr<v1::ListProcessesResponse> result =
      switchboard_->ListProcesses(*request);
  if (result.ok()) *response = std::move(*result);
  return Answer(ctx, result.status());
}

grpc::ServerUnaryReactor* ControlService::ListPorts(
    grpc::CallbackServerContext* ctx, const v1::ListPortsRequest* request,
    v1::ListPortsResponse* response) {
  CallScope call(this);
  absl::StatusOr<v1::ListPortsResponse> result =
      switchboard_->ListPorts(*request);
  if (result.ok()) *response = std::move(*result);
  return Answer(ctx, result.status());
}

grpc::ServerUnaryReactor* ControlService::GetStats(
    grpc::CallbackServerContext* ctx, const v1::GetStatsRequest* request,
    v1::GetStatsResponse* response) {
  CallScope call(this);
  absl::StatusOr<v1::GetStatsResponse> result =
      switchboard_->GetStats(*request);
  if (result.ok()) *response = std::move(*result);
  return Answer(ctx, result.status());
}

grpc::ServerUnaryReactor* ControlService::GetStatus(
    grpc::CallbackServerContext* ctx, const v1::GetStatusRequest* request,
    v1::GetStatusResponse* response) {
  CallScope call(this);
  const absl::Time now = absl::Now();
  response->set_version(kDaemonVersion);
  response->set_pid(::getpid());
  response->set_started_at_unix_ms(absl::ToUnixMillis(identity_.started_at));
  response->set_uptime_ms(
      absl::ToInt64Milliseconds(now - identity_.started_at));
  response->set_listen_address(identity_.listen_address);
  switchboard_->FillStatus(response);
  return Answer(ctx, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::Event>* ControlService::WatchEvents(
    grpc::CallbackServerContext* ctx, const v1::WatchEventsRequest* request) {
  auto* reactor = new WatchReactor(
      this, switchboard_,
      {identity_.watcher_queue_limit, identity_.watcher_queue_bytes});
  reactor->Start(CallerOf(ctx), *request);
  return reactor;
}

grpc::ServerUnaryReactor* ControlService::Publish(
    grpc::CallbackServerContext* ctx, const v1::PublishRequest* request,
    v1::PublishResponse* response) {
  CallScope call(this);
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Answer(ctx, caller.status());
  absl::StatusOr<v1::PublishResponse> result =
      switchboard_->PublishTopic(*request, *caller);
  if (result.ok()) *response = std::move(*result);
  return Answer(ctx, result.status());
}

grpc::ServerUnaryReactor* ControlService::Unpublish(
    grpc::CallbackServerContext* ctx, const v1::UnpublishRequest* request,
    v1::UnpublishResponse* response) {
  CallScope call(this);
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Answer(ctx, caller.status());
  return Answer(ctx, switchboard_->UnpublishTopic(*request, *caller));
}

grpc::ServerUnaryReactor* ControlService::Subscribe(
    grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* request,
    v1::SubscribeResponse* response) {
  CallScope call(this);
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Answer(ctx, caller.status());
  absl::StatusOr<v1::SubscribeResponse> result =
      switchboard_->SubscribeTopic(*request, *caller);
  if (result.ok()) *response = std::move(*result);
  return Answer(ctx, result.status());
}

grpc::ServerUnaryReactor* ControlService::Unsubscribe(
    grpc::CallbackServerContext* ctx, const v1::UnsubscribeRequest* request,
    v1::UnsubscribeResponse* response) {
  CallScope call(this);
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Answer(ctx, caller.status());
  return Answer(ctx, switchboard_->UnsubscribeTopic(*request, *caller));
}

grpc::ServerUnaryReactor* ControlService::ListTopics(
    grpc::CallbackServerContext* ctx, const v1::ListTopicsRequest* request,
    v1::ListTopicsResponse* response) {
  CallScope call(this);
  absl::StatusOr<v1::ListTopicsResponse> result =
      switchboard_->ListTopics(*request);
  if (result.ok()) *response = std::move(*result);
  return Answer(ctx, result.status());
}

ControlService::CallScope::CallScope(ControlService* service)
    : service_(service) {
  MutexLock lock(&service_->calls_mu_);
  ++service_->calls_in_flight_;
}

ControlService::CallScope::~CallScope() {
  MutexLock lock(&service_->calls_mu_);
  if (--service_->calls_in_flight_ == 0) service_->calls_done_.SignalAll();
}

bool ControlService::WaitIdle(absl::Time deadline) {
  MutexLock lock(&calls_mu_);
  const auto until = absl::ToChronoTime(deadline);
  while (calls_in_flight_ != 0) {
    if (!calls_done_.WaitUntil(&lock, until)) return calls_in_flight_ == 0;
  }
  return true;
}

}  // namespace shmport::server
