// The Switchboard's topics: Publish, Subscribe, their ends, the pairing of
// each subscriber with the topic's publisher, ListTopics and the
// publishers' per-subscription stats (docs/control-plane.md, "Topics").
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/unix_channel.h"
#include "server/peer_identity.h"
#include "server/switchboard.h"
#include "server/topic_pairing.h"
#include "server/validation.h"

namespace shmport::server {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

// A DROP_OLDEST subscriber that names no queue depth gets this.
constexpr uint32_t kDefaultQueueDepth = 16;

absl::Status Exhausted(absl::string_view what, uint64_t held,
                       absl::string_view limit) {
  return absl::ResourceExhaustedError(
      absl::StrCat(what, " ", held, ", its limit (", limit, ")"));
}

}  // namespace

absl::StatusOr<ProcessRecord*> Switchboard::TopicActor(
    const v1::ProcessRef& ref, absl::string_view token, const Caller& caller,
    absl::string_view action) {
  if (shutting_down_) {
    return absl::UnavailableError("the daemon is shutting down");
  }
  absl::StatusOr<ProcessRecord*> p = Resolve(ref, "process");
  if (!p.ok()) return p.status();
  if (absl::Status s = Authorize(**p, token, caller, action); !s.ok()) return s;
  if ((*p)->info.state() != v1::PROCESS_STATE_ATTACHED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "process ", Describe(**p), " has not attached its broker link yet"));
  }
  return *p;
}

absl::Status Switchboard::CheckTopicLimits(const ProcessRecord& p,
                                           absl::string_view topic,
                                           bool publisher, uint32_t history) {
  if (history > limits_.max_topic_history()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "history ", history, " exceeds the limit of ",
        limits_.max_topic_history(), " samples (limits.max_topic_history)"));
  }
  const TopicRegistry::Holdings held = topics_.HoldingsOf(p.info.id());
  if (publisher &&
      held.publications >= limits_.max_publications_per_process()) {
    return Exhausted(absl::StrCat("process ", Describe(p), " publishes"),
                     held.publications, "limits.max_publications_per_process");
  }
  if (!publisher &&
      held.subscribers >= limits_.max_subscriptions_per_process()) {
    return Exhausted(absl::StrCat("process ", Describe(p), " has subscribers"),
                     held.subscribers, "limits.max_subscriptions_per_process");
  }
  const v1::TopicInfo* t = topics_.Find(topic);
  if (t == nullptr && topics_.topic_count() >= limits_.max_topics()) {
    return Exhausted("the daemon holds topics:", topics_.topic_count(),
                     "limits.max_topics");
  }
  if (!publisher && t != nullptr &&
      static_cast<uint32_t>(t->subscribers_size()) >=
          limits_.max_subscribers_per_topic()) {
    return Exhausted(absl::StrCat("topic '", topic, "' has subscribers"),
                     t->subscribers_size(), "limits.max_subscribers_per_topic");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::PublishResponse> Switchboard::PublishTopic(
    const v1::PublishRequest& r, const Caller& c) {
  if (absl::Status s = ValidateTopicName("topic", r.topic()); !s.ok()) return s;
  absl::StatusOr<v1::Geometry> geometry = policy_.Grant(r.geometry());
  if (!geometry.ok()) return geometry.status();
  if (const uint64_t bytes = TopicBytes(*geometry);
      bytes > limits_.max_bytes_per_topic()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the publisher's segments would take ", bytes, " bytes (",
        geometry->max_segments(), " x ", geometry->chunk_count(), " x ",
        geometry->chunk_size(), "), over the limit of ",
        limits_.max_bytes_per_topic(), " (limits.max_bytes_per_topic)"));
  }
  MutexLock lock(&mu_);
  absl::StatusOr<ProcessRecord*> p =
      TopicActor(r.process(), r.session_token(), c, "Publish");
  if (!p.ok()) return p.status();
  if (absl::Status s = policy_.MayPublish((*p)->info.name(), r.topic());
      !s.ok()) {
    return s;
  }
  if (const v1::TopicInfo* t = topics_.Find(r.topic());
      t == nullptr || !t->has_publisher()) {
    if (absl::Status s = CheckTopicLimits(**p, r.topic(), true, r.history());
        !s.ok()) {
      return s;
    }
  }
  v1::TopicPublisher publisher;
  publisher.set_process_id((*p)->info.id());
  publisher.set_name((*p)->info.name());
  *publisher.mutable_geometry() = *geometry;
  publisher.set_history(r.history());
  publisher.set_published_at_unix_ms(NowMs());
  absl::StatusOr<const v1::TopicPublisher*> added =
      topics_.AddPublisher(r.topic(), std::move(publisher));
  if (!added.ok()) return added.status();
  v1::PublishResponse response;
  response.set_publication_id((*added)->publication_id());
  *response.mutable_geometry() = *geometry;
  response.set_history(r.history());
  response.set_max_bytes(TopicBytes(*geometry));
  Log(LogLevel::kInfo, "topic_published",
      {{"topic", r.topic()},
       {"process", (*p)->info.id()},
       {"publication", response.publication_id()}});
  PublishTopicEvent(v1::Event::TOPIC_PUBLISHER_JOINED, r.topic(), *added,
                    nullptr, "published");
  std::vector<uint64_t> waiting;
  for (const v1::TopicSubscriber& s : topics_.Find(r.topic())->subscribers()) {
    waiting.push_back(s.subscriber_id());
  }
  for (uint64_t id : waiting) PairSubscriber(id);
  return response;
}

absl::StatusOr<v1::SubscribeResponse> Switchboard::SubscribeTopic(
    const v1::SubscribeRequest& r, const Caller& c) {
  if (absl::Status s = ValidateTopicName("topic", r.topic()); !s.ok()) return s;
  v1::SubscriptionTerms terms = r.terms();
  if (!v1::SubscriptionTerms::SlowSubscriber_IsValid(terms.slow_subscriber())) {
    return absl::InvalidArgumentError(
        absl::StrCat("terms.slow_subscriber ", terms.slow_subscriber(),
                     " is neither BLOCK_PUBLISHER (0) nor DROP_OLDEST (1)"));
  }
  if (terms.queue_depth() > limits_.max_topic_queue_depth()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "terms.queue_depth ", terms.queue_depth(), " exceeds the limit of ",
        limits_.max_topic_queue_depth(), " (limits.max_topic_queue_depth)"));
  }
  if (terms.slow_subscriber() == v1::SubscriptionTerms::DROP_OLDEST &&
      terms.queue_depth() == 0) {
    terms.set_queue_depth(
        std::min(kDefaultQueueDepth, limits_.max_topic_queue_depth()));
  }
  MutexLock lock(&mu_);
  absl::StatusOr<ProcessRecord*> p =
      TopicActor(r.process(), r.session_token(), c, "Subscribe");
  if (!p.ok()) return p.status();
  if (absl::Status s = policy_.MaySubscribe((*p)->info.name(), r.topic());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTopicLimits(**p, r.topic(), false, terms.history());
      !s.ok()) {
    return s;
  }
  v1::TopicSubscriber subscriber;
  subscriber.set_process_id((*p)->info.id());
  subscriber.set_name((*p)->info.name());
  *subscriber.mutable_terms() = terms;
  subscriber.set_subscribed_at_unix_ms(NowMs());
  const v1::TopicSubscriber* added =
      topics_.AddSubscriber(r.topic(), std::move(subscriber));
  v1::SubscribeResponse response;
  response.set_subscriber_id(added->subscriber_id());
  *response.mutable_terms() = terms;
  Log(LogLevel::kInfo, "topic_subscribed",
      {{"topic", r.topic()},
       {"process", (*p)->info.id()},
       {"subscriber", response.subscriber_id()}});
  PublishTopicEvent(v1::Event::TOPIC_SUBSCRIBER_JOINED, r.topic(), nullptr,
                    added, "subscribed");
  PairSubscriber(response.subscriber_id());
  return response;
}

void Switchboard::PairSubscriber(uint64_t subscriber_id) {
  const v1::TopicInfo* t = topics_.FindBySubscriber(subscriber_id);
  if (t == nullptr || !t->has_publisher()) return;
  const v1::TopicSubscriber* subscriber = nullptr;
  for (const v1::TopicSubscriber& s : t->subscribers()) {
    if (s.subscriber_id() == subscriber_id) subscriber = &s;
  }
  const ProcessRecord* pub = registry_.FindProcess(t->publisher().process_id());
  const ProcessRecord* sub = registry_.FindProcess(subscriber->process_id());
  if (pub == nullptr || sub == nullptr) return;
  absl::StatusOr<std::pair<UnixChannel, UnixChannel>> pair =
      UnixChannel::Pair();
  absl::Status sent = pair.status();
  const uint64_t id = pair.ok() ? topics_.Pair(subscriber_id) : 0;
  if (id != 0) {
    const SubscriptionFrames frames = SubscriptionOpenedFrames(
        t->name(), id, t->publisher(), *subscriber, *pub, *sub, pid_namespace_);
    // The socketpair closes here either way: the daemon keeps no end.
    sent = broker_->Send(pub->info.id(), frames.to_publisher, pair->first.fd());
    if (sent.ok()) {
      sent = broker_->Send(sub->info.id(), frames.to_subscriber,
                           pair->second.fd());
      if (!sent.ok()) {
        SendSubscriptionClosed(
            pub->info.id(), id,
            absl::StrCat("could not deliver the subscription to ",
                         Describe(*sub)));
      }
    }
  }
  if (!sent.ok()) {
    topics_.Unpair(subscriber_id);
    Log(LogLevel::kWarning, "subscription_open_failed",
        {{"topic", t->name()},
         {"publisher", pub->info.id()},
         {"subscriber", sub->info.id()},
         {"error", sent.message()}});
    return;
  }
  Log(LogLevel::kInfo, "subscription_opened",
      {{"topic", t->name()},
       {"subscription", id},
       {"publisher", pub->info.id()},
       {"subscriber", sub->info.id()}});
}

absl::Status Switchboard::UnpublishTopic(const v1::UnpublishRequest& r,
                                         const Caller& c) {
  MutexLock lock(&mu_);
  const v1::TopicInfo* t = topics_.FindByPublication(r.publication_id());
  const ProcessRecord* p =
      t != nullptr ? registry_.FindProcess(t->publisher().process_id())
                   : nullptr;
  if (p == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no publication with id ", r.publication_id()));
  }
  if (absl::Status s = Authorize(*p, r.session_token(), c, "Unpublish");
      !s.ok()) {
    return s;
  }
  EndPublication(r.publication_id(),
                 absl::StrCat("publisher ", Describe(*p), " unpublished"),
                 p->info.id());
  return absl::OkStatus();
}

absl::Status Switchboard::UnsubscribeTopic(const v1::UnsubscribeRequest& r,
                                           const Caller& c) {
  MutexLock lock(&mu_);
  const v1::TopicInfo* t = topics_.FindBySubscriber(r.subscriber_id());
  const ProcessRecord* p = nullptr;
  if (t != nullptr) {
    for (const v1::TopicSubscriber& s : t->subscribers()) {
      if (s.subscriber_id() == r.subscriber_id()) {
        p = registry_.FindProcess(s.process_id());
      }
    }
  }
  if (p == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no subscriber with id ", r.subscriber_id()));
  }
  if (absl::Status s = Authorize(*p, r.session_token(), c, "Unsubscribe");
      !s.ok()) {
    return s;
  }
  EndSubscriber(r.subscriber_id(),
                absl::StrCat("subscriber ", Describe(*p), " unsubscribed"),
                p->info.id());
  return absl::OkStatus();
}

void Switchboard::EndPublication(uint64_t publication_id,
                                 absl::string_view reason, uint64_t skip) {
  std::optional<TopicRegistry::Unpublished> gone =
      topics_.RemovePublisher(publication_id);
  if (!gone.has_value()) return;
  for (const v1::TopicSubscriber& s : gone->paired) {
    SendSubscriptionClosed(s.process_id(), s.subscription_id(), reason);
    if (gone->publisher.process_id() != skip) {
      SendSubscriptionClosed(gone->publisher.process_id(), s.subscription_id(),
                             reason);
    }
  }
  Log(LogLevel::kInfo, "topic_unpublished",
      {{"topic", gone->topic},
       {"publication", publication_id},
       {"subscriptions_closed", gone->paired.size()},
       {"reason", reason}});
  PublishTopicEvent(v1::Event::TOPIC_PUBLISHER_LEFT, gone->topic,
                    &gone->publisher, nullptr, reason);
}

void Switchboard::EndSubscriber(uint64_t subscriber_id,
                                absl::string_view reason, uint64_t skip) {
  std::optional<TopicRegistry::Unsubscribed> gone =
      topics_.RemoveSubscriber(subscriber_id);
  if (!gone.has_value()) return;
  const uint64_t subscription = gone->subscriber.subscription_id();
  if (subscription != 0) {
    SendSubscriptionClosed(gone->publisher_process_id, subscription, reason);
    if (gone->subscriber.process_id() != skip) {
      SendSubscriptionClosed(gone->subscriber.process_id(), subscription,
                             reason);
    }
  }
  Log(LogLevel::kInfo, "topic_unsubscribed",
      {{"topic", gone->topic},
       {"subscriber", subscriber_id},
       {"subscription", subscription},
       {"reason", reason}});
  PublishTopicEvent(v1::Event::TOPIC_SUBSCRIBER_LEFT, gone->topic, nullptr,
                    &gone->subscriber, reason);
}

void Switchboard::LeaveTopics(const ProcessRecord& p,
                              absl::string_view reason) {
  const uint64_t id = p.info.id();
  for (uint64_t publication : topics_.PublicationsOf(id)) {
    EndPublication(publication,
                   absl::StrCat("publisher ", Describe(p), " ended: ", reason),
                   id);
  }
  for (uint64_t subscriber : topics_.SubscribersOf(id)) {
    EndSubscriber(subscriber,
                  absl::StrCat("subscriber ", Describe(p), " ended: ", reason),
                  id);
  }
}

void Switchboard::SendSubscriptionClosed(uint64_t process_id,
                                         uint64_t subscription_id,
                                         absl::string_view reason) {
  // Best effort, as PortClosed: the other end's EOF on the subscription's
  // socket tells it anyway once this end goes.
  if (absl::Status s = broker_->Send(
          process_id, SubscriptionClosedFrame(subscription_id, reason));
      !s.ok()) {
    Log(IsWouldBlock(s) ? LogLevel::kWarning : LogLevel::kDebug,
        "subscription_closed_notice_lost",
        {{"subscription", subscription_id},
         {"process", process_id},
         {"error", s.message()}});
  }
}

void Switchboard::TakeSubscriptionStats(uint64_t process_id,
                                        const v1::StatsReport& report) {
  const int64_t now = NowMs();
  for (const v1::SubscriptionStatsEntry& entry : report.subscriptions()) {
    v1::SubscriptionStats stats = entry.stats();
    stats.set_updated_at_unix_ms(now);
    // Another process's subscription, or one closed meanwhile: ignored.
    (void)topics_.SetStats(process_id, entry.subscription_id(), stats);
  }
}

absl::StatusOr<v1::ListTopicsResponse> Switchboard::ListTopics(
    const v1::ListTopicsRequest& r) {
  if (!r.topic().empty()) {
    if (absl::Status s = ValidateTopicName("topic", r.topic()); !s.ok()) {
      return s;
    }
  }
  v1::ListTopicsResponse response;
  MutexLock lock(&mu_);
  if (!r.topic().empty()) {
    const v1::TopicInfo* t = topics_.Find(r.topic());
    if (t == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no topic named '", r.topic(), "'"));
    }
    *response.add_topics() = *t;
    return response;
  }
  for (const auto& [name, t] : topics_.topics()) *response.add_topics() = t;
  return response;
}

void Switchboard::PublishTopicEvent(v1::Event::Kind kind,
                                    absl::string_view topic,
                                    const v1::TopicPublisher* publisher,
                                    const v1::TopicSubscriber* subscriber,
                                    absl::string_view reason) {
  v1::Event event;
  event.set_kind(kind);
  event.mutable_topic()->set_name(std::string(topic));
  if (publisher != nullptr)
    *event.mutable_topic()->mutable_publisher() = *publisher;
  if (subscriber != nullptr)
    *event.mutable_topic()->add_subscribers() = *subscriber;
  event.set_reason(std::string(reason));
  bus_.Publish(std::move(event));
}

}  // namespace shmport::server
