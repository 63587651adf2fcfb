// Session::Publish and Session::Subscribe: the daemon's grant (through
// SessionCore, topics-ctl's half) plus the data plane's cores.
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/session_core.h"
#include "client/topic_access.h"
#include "client/topic_endpoint_relay.h"
#include "client/topic_publisher_core.h"
#include "client/topic_requests.h"
#include "client/topic_subscriber_core.h"
#include "shmport/session.h"

namespace shmport {
namespace {

// The Session's part of a Publisher or Subscriber: when it goes, the
// daemon forgets the registration and the relay stops routing to the core.
std::shared_ptr<void> Registration(
    std::shared_ptr<internal::TopicEndpointRelay> relay,
    std::function<void()> unregister) {
  return std::shared_ptr<void>(
      nullptr,
      [relay = std::move(relay), unregister = std::move(unregister)](void*) {
        unregister();
        relay->Detach();
      });
}

PublisherOptions Granted(PublisherOptions options,
                         const internal::PublicationGrant& grant) {
  if (grant.chunk_size != 0) options.geometry.chunk_size = grant.chunk_size;
  if (grant.chunk_count != 0) options.geometry.chunk_count = grant.chunk_count;
  if (grant.max_segments != 0) options.max_segments = grant.max_segments;
  options.history = grant.history;
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Publisher>> Session::Publish(
    absl::string_view topic, const PublisherOptions& options) {
  internal::PublicationRequest request;
  request.chunk_size = options.geometry.chunk_size;
  request.chunk_count = options.geometry.chunk_count;
  request.max_segments = options.max_segments;
  request.history = options.history;
  auto relay = std::make_shared<internal::TopicEndpointRelay>();
  absl::StatusOr<internal::PublicationGrant> grant =
      core_->Publish(topic, request, relay);
  if (!grant.ok()) return grant.status();
  internal::SessionCore* session = core_.get();
  const uint64_t id = grant->publication_id;
  std::shared_ptr<void> registration =
      Registration(relay, [session, id] { (void)session->Unpublish(id); });
  absl::StatusOr<std::shared_ptr<internal::PublisherCore>> core =
      internal::PublisherCore::Create(std::string(topic),
                                      Granted(options, *grant));
  if (!core.ok()) return core.status();  // `registration` unpublishes
  relay->Attach(*core);
  return internal::TopicAccess::NewPublisher(std::move(*core),
                                             std::move(registration));
}

absl::StatusOr<std::unique_ptr<Subscriber>> Session::Subscribe(
    absl::string_view topic, const SubscriberOptions& options) {
  internal::SubscriptionRequest request;
  request.slow_subscriber =
      options.slow_subscriber == SlowSubscriber::kDropOldest
          ? internal::SubscriptionTerms::SlowSubscriber::kDropOldest
          : internal::SubscriptionTerms::SlowSubscriber::kBlockPublisher;
  request.queue_depth = options.queue_depth;
  request.history = options.history;
  absl::StatusOr<std::shared_ptr<internal::SubscriberCore>> core =
      internal::SubscriberCore::Create(std::string(topic), options);
  if (!core.ok()) return core.status();
  auto relay = std::make_shared<internal::TopicEndpointRelay>();
  relay->Attach(*core);
  absl::StatusOr<uint64_t> id = core_->Subscribe(topic, request, relay);
  if (!id.ok()) {
    relay->Detach();
    return id.status();
  }
  internal::SessionCore* session = core_.get();
  return internal::TopicAccess::NewSubscriber(
      std::move(*core), Registration(relay, [session, id = *id] {
        (void)session->Unsubscribe(id);
      }));
}

}  // namespace shmport
