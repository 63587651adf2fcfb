// SessionCore's topics: Publish / Subscribe at the daemon, and the routing
// of the daemon's subscription notices to the TopicEndpoint each belongs
// to (client/topic_endpoint.h). The endpoints are called on the link
// thread only, without mu_, in the order the notices arrived.
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/session_core.h"
#include "common/errors.h"
#include "common/log.h"

namespace shmport::internal {
namespace {

// Notices waiting for the answer of a Publish/Subscribe call in flight.
// The daemon sends at most one per subscriber of the topic before it
// answers, and limits.max_subscribers_per_topic defaults to 64.
constexpr size_t kMaxEarlyTopicNotices = 1024;
// As broker.proto's StatsReport.subscriptions bound.
constexpr size_t kMaxSubscriptionStats = 4096;

absl::Status FromGrpc(const grpc::Status& s, absl::string_view call) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(call, ": ", s.error_message()));
}

// The registration a notice belongs to, by the daemon's id.
uint64_t DaemonIdOf(const v1::SubscriptionOpened& opened) {
  return opened.publisher_end() ? opened.publication_id()
                                : opened.subscriber_id();
}

SubscriptionTerms TermsFromProto(const v1::SubscriptionTerms& t) {
  SubscriptionTerms terms;
  terms.slow_subscriber =
      t.slow_subscriber() == v1::SubscriptionTerms::DROP_OLDEST
          ? SubscriptionTerms::SlowSubscriber::kDropOldest
          : SubscriptionTerms::SlowSubscriber::kBlockPublisher;
  terms.queue_depth = t.queue_depth();
  terms.history = t.history();
  return terms;
}

v1::SubscriptionTerms TermsToProto(const SubscriptionTerms& terms) {
  v1::SubscriptionTerms t;
  t.set_slow_subscriber(terms.slow_subscriber ==
                                SubscriptionTerms::SlowSubscriber::kDropOldest
                            ? v1::SubscriptionTerms::DROP_OLDEST
                            : v1::SubscriptionTerms::BLOCK_PUBLISHER);
  t.set_queue_depth(terms.queue_depth);
  t.set_history(terms.history);
  return t;
}

SubscriptionOpened FromNotice(BrokerNotice notice) {
  const v1::SubscriptionOpened& o = notice.frame.subscription_opened();
  SubscriptionOpened opened;
  opened.subscription_id = o.subscription_id();
  opened.topic = o.topic();
  opened.peer.process_id = o.peer().process_id();
  opened.peer.name = o.peer().name();
  opened.peer.pid = o.peer().pid();
  opened.peer.uid = o.peer().uid();
  opened.terms = TermsFromProto(o.terms());
  opened.socket = std::move(notice.fd);
  return opened;
}

v1::SubscriptionStats StatsToProto(const SubscriptionStats& s, int64_t now) {
  v1::SubscriptionStats p;
  p.set_samples_delivered(s.samples_delivered);
  p.set_samples_released(s.samples_released);
  p.set_samples_dropped(s.samples_dropped);
  p.set_lag(s.lag);
  p.set_held_chunks(s.held_chunks);
  p.set_held_bytes(s.held_bytes);
  p.set_updated_at_unix_ms(now);
  return p;
}

}  // namespace

absl::StatusOr<PublicationGrant> SessionCore::Publish(
    absl::string_view topic, const PublicationRequest& request,
    std::shared_ptr<TopicEndpoint> endpoint) {
  if (endpoint == nullptr) {
    return absl::InvalidArgumentError("Publish needs a TopicEndpoint");
  }
  TopicEntry entry;
  entry.publisher = true;
  entry.topic = std::string(topic);
  entry.publication = request;
  entry.endpoint = std::move(endpoint);
  uint64_t handle = 0;
  {
    MutexLock lock(&mu_);
    if (absl::Status s = CheckUsable(); !s.ok()) return s;
    handle = next_topic_handle_++;
    ++topic_calls_in_flight_;
  }
  PublicationGrant grant;
  absl::StatusOr<uint64_t> daemon_id = RegisterTopic(entry, &grant);
  MutexLock lock(&mu_);
  if (daemon_id.ok()) {
    topics_[handle] = std::move(entry);
    InstallTopic(handle, *daemon_id);
  }
  EndTopicCall();
  if (!daemon_id.ok()) return daemon_id.status();
  grant.publication_id = handle;
  return grant;
}

absl::StatusOr<uint64_t> SessionCore::Subscribe(
    absl::string_view topic, const SubscriptionRequest& request,
    std::shared_ptr<TopicEndpoint> endpoint) {
  if (endpoint == nullptr) {
    return absl::InvalidArgumentError("Subscribe needs a TopicEndpoint");
  }
  TopicEntry entry;
  entry.topic = std::string(topic);
  entry.subscription = request;
  entry.endpoint = std::move(endpoint);
  uint64_t handle = 0;
  {
    MutexLock lock(&mu_);
    if (absl::Status s = CheckUsable(); !s.ok()) return s;
    handle = next_topic_handle_++;
    ++topic_calls_in_flight_;
  }
  absl::StatusOr<uint64_t> daemon_id = RegisterTopic(entry, nullptr);
  MutexLock lock(&mu_);
  if (daemon_id.ok()) {
    topics_[handle] = std::move(entry);
    InstallTopic(handle, *daemon_id);
  }
  EndTopicCall();
  if (!daemon_id.ok()) return daemon_id.status();
  return handle;
}

absl::StatusOr<uint64_t> SessionCore::RegisterTopic(const TopicEntry& entry,
                                                    PublicationGrant* grant) {
  std::shared_ptr<v1::ControlPlane::Stub> stub;
  v1::ProcessRef self;
  std::string token;
  {
    MutexLock lock(&mu_);
    stub = stub_;
    self.set_id(process_id_);
    token = token_;
  }
  auto context = NewContext();
  if (entry.publisher) {
    v1::PublishRequest request;
    *request.mutable_process() = self;
    request.set_session_token(token);
    request.set_topic(entry.topic);
    request.mutable_geometry()->set_chunk_size(entry.publication.chunk_size);
    request.mutable_geometry()->set_chunk_count(entry.publication.chunk_count);
    request.mutable_geometry()->set_max_segments(
        entry.publication.max_segments);
    request.set_history(entry.publication.history);
    v1::PublishResponse response;
    if (absl::Status s = FromGrpc(
            stub->Publish(context.get(), request, &response), "Publish");
        !s.ok()) {
      return s;
    }
    if (grant != nullptr) {
      grant->chunk_size = response.geometry().chunk_size();
      grant->chunk_count = response.geometry().chunk_count();
      grant->max_segments = response.geometry().max_segments();
      grant->max_bytes = response.max_bytes();
      grant->history = response.history();
    }
    return response.publication_id();
  }
  v1::SubscribeRequest request;
  *request.mutable_process() = self;
  request.set_session_token(token);
  request.set_topic(entry.topic);
  *request.mutable_terms() = TermsToProto(entry.subscription);
  v1::SubscribeResponse response;
  if (absl::Status s = FromGrpc(
          stub->Subscribe(context.get(), request, &response), "Subscribe");
      !s.ok()) {
    return s;
  }
  return response.subscriber_id();
}

void SessionCore::InstallTopic(uint64_t handle, uint64_t daemon_id) {
  topics_[handle].daemon_id = daemon_id;
  topic_by_daemon_id_[daemon_id] = handle;
  // The notices that overtook the answer, in their order: each routes now
  // (a SubscriptionClosed after the SubscriptionOpened it closes).
  std::deque<BrokerNotice> early = std::move(early_topic_notices_);
  early_topic_notices_.clear();
  for (BrokerNotice& notice : early) RouteTopicNotice(std::move(notice));
}

void SessionCore::EndTopicCall() {
  if (--topic_calls_in_flight_ == 0 && !early_topic_notices_.empty()) {
    // Nobody will claim them: a registration that has ended (their fds
    // close here, and the other ends see EOF).
    Log(LogLevel::kDebug, "topic_notices_unclaimed",
        {{"count", early_topic_notices_.size()}});
    early_topic_notices_.clear();
  }
}

absl::Status SessionCore::Unpublish(uint64_t publication_id) {
  return EndTopic(publication_id, /*publisher=*/true);
}

absl::Status SessionCore::Unsubscribe(uint64_t subscriber_id) {
  return EndTopic(subscriber_id, /*publisher=*/false);
}

absl::Status SessionCore::EndTopic(uint64_t handle, bool publisher) {
  const absl::string_view call = publisher ? "Unpublish" : "Unsubscribe";
  uint64_t daemon_id = 0;
  std::shared_ptr<v1::ControlPlane::Stub> stub;
  v1::ProcessRef self;
  std::string token;
  {
    MutexLock lock(&mu_);
    auto it = topics_.find(handle);
    if (it == topics_.end() || it->second.publisher != publisher) {
      return absl::NotFoundError(
          absl::StrCat(call, ": this session has no ",
                       publisher ? "publication " : "subscriber ", handle));
    }
    daemon_id = it->second.daemon_id;
    for (uint64_t id : it->second.open) subscription_owner_.erase(id);
    topic_by_daemon_id_.erase(daemon_id);
    topics_.erase(it);
    if (daemon_id == 0 || !health_.ok()) return absl::OkStatus();
    stub = stub_;
    self.set_id(process_id_);
    token = token_;
  }
  auto context = NewContext();
  grpc::Status status;
  if (publisher) {
    v1::UnpublishRequest request;
    *request.mutable_process() = self;
    request.set_session_token(token);
    request.set_publication_id(daemon_id);
    v1::UnpublishResponse response;
    status = stub->Unpublish(context.get(), request, &response);
  } else {
    v1::UnsubscribeRequest request;
    *request.mutable_process() = self;
    request.set_session_token(token);
    request.set_subscriber_id(daemon_id);
    v1::UnsubscribeResponse response;
    status = stub->Unsubscribe(context.get(), request, &response);
  }
  absl::Status s = FromGrpc(status, call);
  // A daemon that is gone (or restarted) has forgotten it anyway.
  if (absl::IsUnavailable(s) || absl::IsNotFound(s)) return absl::OkStatus();
  return s;
}

// --- the link thread ---

void SessionCore::OnTopicNotice(BrokerNotice notice) {
  MutexLock lock(&mu_);
  RouteTopicNotice(std::move(notice));
}

void SessionCore::RouteTopicNotice(BrokerNotice notice) {
  const v1::BrokerFrame& frame = notice.frame;
  TopicEntry* entry = nullptr;
  if (frame.has_subscription_opened()) {
    auto it = topic_by_daemon_id_.find(DaemonIdOf(frame.subscription_opened()));
    if (it != topic_by_daemon_id_.end()) {
      entry = &topics_[it->second];
      const uint64_t id = frame.subscription_opened().subscription_id();
      entry->open.insert(id);
      subscription_owner_[id] = it->second;
    }
  } else {
    const uint64_t id = frame.subscription_closed().subscription_id();
    auto it = subscription_owner_.find(id);
    if (it != subscription_owner_.end()) {
      entry = &topics_[it->second];
      entry->open.erase(id);
      subscription_owner_.erase(it);
    }
  }
  if (entry != nullptr) {
    topic_deliveries_.push_back({entry->endpoint, std::move(notice)});
    WakeForTopics();
    return;
  }
  if (topic_calls_in_flight_ == 0) return;  // an ended registration's
  if (early_topic_notices_.size() >= kMaxEarlyTopicNotices) {
    early_topic_notices_.pop_front();
  }
  early_topic_notices_.push_back(std::move(notice));
}

void SessionCore::WakeForTopics() {
  if (!topic_wake_fd_) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(topic_wake_fd_.get(), &one, sizeof(one));
}

void SessionCore::DeliverTopicNotices() {
  std::deque<TopicDelivery> deliveries;
  {
    MutexLock lock(&mu_);
    deliveries.swap(topic_deliveries_);
  }
  for (TopicDelivery& d : deliveries) {
    const v1::BrokerFrame& frame = d.notice.frame;
    if (frame.has_subscription_opened()) {
      d.endpoint->OnSubscriptionOpened(FromNotice(std::move(d.notice)));
      continue;
    }
    const v1::SubscriptionClosed& closed = frame.subscription_closed();
    d.endpoint->OnSubscriptionClosed(
        closed.subscription_id(),
        absl::Status(
            StatusCodeFromWire(closed.code(), absl::StatusCode::kUnavailable),
            closed.reason()));
  }
}

void SessionCore::AddTopicStats(v1::StatsReport* report) {
  std::vector<std::shared_ptr<TopicEndpoint>> publishers;
  {
    MutexLock lock(&mu_);
    for (const auto& [handle, entry] : topics_) {
      if (entry.publisher && !entry.open.empty()) {
        publishers.push_back(entry.endpoint);
      }
    }
  }
  const int64_t now = absl::ToUnixMillis(absl::Now());
  for (const std::shared_ptr<TopicEndpoint>& endpoint : publishers) {
    for (const SubscriptionStats& s : endpoint->Stats()) {
      if (static_cast<size_t>(report->subscriptions_size()) >=
          kMaxSubscriptionStats) {
        return;
      }
      v1::SubscriptionStatsEntry* e = report->add_subscriptions();
      e->set_subscription_id(s.subscription_id);
      *e->mutable_stats() = StatsToProto(s, now);
    }
  }
}

void SessionCore::RestoreTopics() {
  std::vector<uint64_t> handles;
  {
    MutexLock lock(&mu_);
    // The old daemon's subscriptions end: the new one pairs afresh.
    for (auto& [handle, entry] : topics_) {
      for (uint64_t id : entry.open) {
        BrokerNotice closed;
        closed.frame.mutable_subscription_closed()->set_subscription_id(id);
        closed.frame.mutable_subscription_closed()->set_code(
            static_cast<int>(absl::StatusCode::kUnavailable));
        closed.frame.mutable_subscription_closed()->set_reason(
            "the daemon restarted; subscribing again");
        topic_deliveries_.push_back({entry.endpoint, std::move(closed)});
      }
      entry.open.clear();
      entry.daemon_id = 0;
      handles.push_back(handle);
    }
    subscription_owner_.clear();
    topic_by_daemon_id_.clear();
    topic_calls_in_flight_ += static_cast<int>(handles.size());
    WakeForTopics();
  }
  for (uint64_t handle : handles) {
    TopicEntry copy;
    {
      MutexLock lock(&mu_);
      auto it = topics_.find(handle);
      if (it != topics_.end()) {
        copy.publisher = it->second.publisher;
        copy.topic = it->second.topic;
        copy.publication = it->second.publication;
        copy.subscription = it->second.subscription;
      }
    }
    absl::StatusOr<uint64_t> daemon_id =
        copy.topic.empty() ? absl::NotFoundError("ended meanwhile")
                           : RegisterTopic(copy, nullptr);
    MutexLock lock(&mu_);
    if (daemon_id.ok() && topics_.contains(handle)) {
      InstallTopic(handle, *daemon_id);
    } else if (!daemon_id.ok() && !copy.topic.empty()) {
      Log(LogLevel::kWarning, "topic_not_restored",
          {{"topic", copy.topic}, {"error", daemon_id.status().message()}});
    }
    EndTopicCall();
  }
}

}  // namespace shmport::internal
