#include "server/topic_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace shmport::server {

v1::TopicInfo& TopicRegistry::TopicOf(absl::string_view topic) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) {
    it = topics_.emplace(std::string(topic), v1::TopicInfo()).first;
    it->second.set_name(std::string(topic));
  }
  return it->second;
}

absl::StatusOr<const v1::TopicPublisher*> TopicRegistry::AddPublisher(
    absl::string_view topic, v1::TopicPublisher publisher) {
  if (const v1::TopicInfo* t = Find(topic);
      t != nullptr && t->has_publisher()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "topic '", topic, "' has a publisher: process '", t->publisher().name(),
        "' (id ", t->publisher().process_id(),
        "); a topic has one publisher at a time"));
  }
  v1::TopicInfo& t = TopicOf(topic);
  const uint64_t id = next_id_++;
  publisher.set_publication_id(id);
  AdjustHoldings(publisher.process_id(), 1, 0);
  *t.mutable_publisher() = std::move(publisher);
  topic_of_[id] = t.name();
  return &t.publisher();
}

const v1::TopicSubscriber* TopicRegistry::AddSubscriber(
    absl::string_view topic, v1::TopicSubscriber subscriber) {
  v1::TopicInfo& t = TopicOf(topic);
  const uint64_t id = next_id_++;
  subscriber.set_subscriber_id(id);
  subscriber.set_subscription_id(0);
  AdjustHoldings(subscriber.process_id(), 0, 1);
  topic_of_[id] = t.name();
  v1::TopicSubscriber* added = t.add_subscribers();
  *added = std::move(subscriber);
  return added;
}

const v1::TopicInfo* TopicRegistry::Find(absl::string_view topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : &it->second;
}

const v1::TopicInfo* TopicRegistry::FindByPublication(
    uint64_t publication_id) const {
  auto it = topic_of_.find(publication_id);
  if (it == topic_of_.end()) return nullptr;
  const v1::TopicInfo* t = Find(it->second);
  return t != nullptr && t->publisher().publication_id() == publication_id
             ? t
             : nullptr;
}

const v1::TopicInfo* TopicRegistry::FindBySubscriber(
    uint64_t subscriber_id) const {
  auto it = topic_of_.find(subscriber_id);
  if (it == topic_of_.end()) return nullptr;
  const v1::TopicInfo* t = Find(it->second);
  if (t == nullptr) return nullptr;
  for (const v1::TopicSubscriber& s : t->subscribers()) {
    if (s.subscriber_id() == subscriber_id) return t;
  }
  return nullptr;
}

v1::TopicSubscriber* TopicRegistry::MutableSubscriber(uint64_t subscriber_id) {
  if (FindBySubscriber(subscriber_id) == nullptr) return nullptr;
  v1::TopicInfo& t = topics_.find(topic_of_[subscriber_id])->second;
  for (v1::TopicSubscriber& s : *t.mutable_subscribers()) {
    if (s.subscriber_id() == subscriber_id) return &s;
  }
  return nullptr;
}

uint64_t TopicRegistry::Pair(uint64_t subscriber_id) {
  v1::TopicSubscriber* s = MutableSubscriber(subscriber_id);
  if (s == nullptr || s->subscription_id() != 0) return 0;
  const uint64_t id = next_id_++;
  s->set_subscription_id(id);
  s->clear_stats();
  subscriptions_[id] = subscriber_id;
  return id;
}

void TopicRegistry::Unpair(uint64_t subscriber_id) {
  v1::TopicSubscriber* s = MutableSubscriber(subscriber_id);
  if (s == nullptr || s->subscription_id() == 0) return;
  subscriptions_.erase(s->subscription_id());
  s->set_subscription_id(0);
  s->clear_stats();
}

std::optional<TopicRegistry::Unpublished> TopicRegistry::RemovePublisher(
    uint64_t publication_id) {
  if (FindByPublication(publication_id) == nullptr) return std::nullopt;
  const std::string name = topic_of_[publication_id];
  v1::TopicInfo& t = topics_.find(name)->second;
  Unpublished out;
  out.topic = name;
  out.publisher = std::move(*t.mutable_publisher());
  t.clear_publisher();
  for (v1::TopicSubscriber& s : *t.mutable_subscribers()) {
    if (s.subscription_id() == 0) continue;
    out.paired.push_back(s);
    subscriptions_.erase(s.subscription_id());
    s.set_subscription_id(0);
    s.clear_stats();
  }
  topic_of_.erase(publication_id);
  AdjustHoldings(out.publisher.process_id(), -1, 0);
  ForgetIfEmpty(name);
  return out;
}

std::optional<TopicRegistry::Unsubscribed> TopicRegistry::RemoveSubscriber(
    uint64_t subscriber_id) {
  if (FindBySubscriber(subscriber_id) == nullptr) return std::nullopt;
  const std::string name = topic_of_[subscriber_id];
  v1::TopicInfo& t = topics_.find(name)->second;
  Unsubscribed out;
  out.topic = name;
  out.publisher_process_id = t.publisher().process_id();
  auto* subscribers = t.mutable_subscribers();
  for (int i = 0; i < subscribers->size(); ++i) {
    if (subscribers->Get(i).subscriber_id() != subscriber_id) continue;
    out.subscriber = std::move(*subscribers->Mutable(i));
    subscribers->DeleteSubrange(i, 1);
    break;
  }
  subscriptions_.erase(out.subscriber.subscription_id());
  topic_of_.erase(subscriber_id);
  AdjustHoldings(out.subscriber.process_id(), 0, -1);
  ForgetIfEmpty(name);
  return out;
}

std::vector<uint64_t> TopicRegistry::PublicationsOf(uint64_t process_id) const {
  std::vector<uint64_t> ids;
  if (HoldingsOf(process_id).publications == 0) return ids;
  for (const auto& [name, t] : topics_) {
    if (t.has_publisher() && t.publisher().process_id() == process_id) {
      ids.push_back(t.publisher().publication_id());
    }
  }
  return ids;
}

std::vector<uint64_t> TopicRegistry::SubscribersOf(uint64_t process_id) const {
  std::vector<uint64_t> ids;
  if (HoldingsOf(process_id).subscribers == 0) return ids;
  for (const auto& [name, t] : topics_) {
    for (const v1::TopicSubscriber& s : t.subscribers()) {
      if (s.process_id() == process_id) ids.push_back(s.subscriber_id());
    }
  }
  return ids;
}

bool TopicRegistry::SetStats(uint64_t reporter, uint64_t subscription_id,
                             const v1::SubscriptionStats& stats) {
  auto it = subscriptions_.find(subscription_id);
  if (it == subscriptions_.end()) return false;
  const v1::TopicInfo* t = FindBySubscriber(it->second);
  if (t == nullptr || t->publisher().process_id() != reporter) return false;
  *MutableSubscriber(it->second)->mutable_stats() = stats;
  return true;
}

TopicRegistry::Holdings TopicRegistry::HoldingsOf(uint64_t process_id) const {
  auto it = holdings_.find(process_id);
  return it == holdings_.end() ? Holdings() : it->second;
}

void TopicRegistry::ForgetIfEmpty(const std::string& topic) {
  auto it = topics_.find(topic);
  if (it != topics_.end() && !it->second.has_publisher() &&
      it->second.subscribers().empty()) {
    topics_.erase(it);
  }
}

void TopicRegistry::AdjustHoldings(uint64_t process_id, int publications,
                                   int subscribers) {
  Holdings& h = holdings_[process_id];
  h.publications += publications;
  h.subscribers += subscribers;
  if (h.publications == 0 && h.subscribers == 0) holdings_.erase(process_id);
}

}  // namespace shmport::server
