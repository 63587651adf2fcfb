#include "server/control_service.h"

#include <unistd.h>

#include <deque>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "server/secret.h"

namespace shmport::server {
namespace {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share their numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* ctx,
                                 const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(s));
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
             const v1::WatchEventsRequest& request) {
    const absl::Status s = caller.ok()
                               ? switchboard_->Watch(this, request, *caller)
                               : caller.status();
    if (s.ok()) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (!finish_status_.has_value()) finish_status_ = ToGrpc(s);
    DropQueue();
    MaybeFinish();
  }

  bool Offer(const EventRef& event) override {
    std::lock_guard<std::mutex> lock(mu_);
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

  void OnBusClosed() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!finish_status_.has_value()) finish_status_ = grpc::Status::OK;
    MaybeFinish();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
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

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
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
  // Requires mu_. Starts writing the front of the queue.
  void WriteNext() {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_->event);
  }

  // Requires mu_. Forgets what is queued (not what is being written).
  void DropQueue() {
    queue_.clear();
    held_bytes_ = current_ != nullptr ? current_->bytes : 0;
  }

  // Requires mu_. Finishes once the decision is made and nothing is in
  // flight or queued (gRPC forbids Finish during a write).
  void MaybeFinish() {
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
  std::mutex mu_;  // guards everything below
  std::deque<EventRef> queue_;
  EventRef current_;       // being written; must outlive the write
  size_t held_bytes_ = 0;  // of queue_ and current_
  bool writing_ = false;
  bool finished_ = false;
  std::optional<grpc::Status> finish_status_;  // set: finish when idle
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
  *response = switchboard_->ListProcesses();
  return Answer(ctx, absl::OkStatus());
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
  *response = switchboard_->GetStats();
  return Answer(ctx, absl::OkStatus());
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

ControlService::CallScope::CallScope(ControlService* service)
    : service_(service) {
  std::lock_guard<std::mutex> lock(service_->calls_mu_);
  ++service_->calls_in_flight_;
}

ControlService::CallScope::~CallScope() {
  std::lock_guard<std::mutex> lock(service_->calls_mu_);
  if (--service_->calls_in_flight_ == 0) service_->calls_done_.notify_all();
}

bool ControlService::WaitIdle(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(calls_mu_);
  return calls_done_.wait_until(lock, absl::ToChronoTime(deadline),
                                [this] { return calls_in_flight_ == 0; });
}

}  // namespace shmport::server
