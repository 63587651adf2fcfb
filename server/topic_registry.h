// TopicRegistry: the daemon's record of topics, their publisher and their
// subscribers, and of the subscriptions (one socketpair per publisher and
// subscriber) between them. Pure bookkeeping: no I/O, no policy, no
// locking (the Switchboard serialises all access under its mu_).
#ifndef SHMPORT_SERVER_TOPIC_REGISTRY_H_
#define SHMPORT_SERVER_TOPIC_REGISTRY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shmport/v1/control.pb.h"

namespace shmport::server {

// A topic lives while it has a publisher or a subscriber: the first
// Publish or Subscribe of a name makes it, the last to leave forgets it.
// A subscriber is paired with the topic's publisher (subscription_id set)
// or waits for one (0). Ids (publications, subscribers and subscriptions
// share one counter) are never reused.
class TopicRegistry {
 public:
  TopicRegistry() = default;
  TopicRegistry(const TopicRegistry&) = delete;
  TopicRegistry& operator=(const TopicRegistry&) = delete;

  // What a process holds, for the per-process limits.
  struct Holdings {
    uint32_t publications = 0;
    uint32_t subscribers = 0;
  };

  // Makes `publisher` (its publication_id is filled in) the publisher of
  // `topic`, creating the topic. ALREADY_EXISTS naming the holder when the
  // topic has one.
  absl::StatusOr<const v1::TopicPublisher*> AddPublisher(
      absl::string_view topic, v1::TopicPublisher publisher);
  // Adds a waiting subscriber (its subscriber_id is filled in), creating
  // the topic.
  const v1::TopicSubscriber* AddSubscriber(absl::string_view topic,
                                           v1::TopicSubscriber subscriber);

  // The topic a publication / subscriber id belongs to; nullptr if none.
  const v1::TopicInfo* FindByPublication(uint64_t publication_id) const;
  const v1::TopicInfo* FindBySubscriber(uint64_t subscriber_id) const;
  const v1::TopicInfo* Find(absl::string_view topic) const;

  // Records a new subscription of subscriber `subscriber_id` to its
  // topic's publisher under a fresh id, and returns that id (0 when the
  // subscriber is unknown or already paired).
  uint64_t Pair(uint64_t subscriber_id);
  // Ends the subscriber's subscription (a hand-over failed): it waits
  // again.
  void Unpair(uint64_t subscriber_id);

  // Removes the publisher; returns it with the subscriptions it had, now
  // ended (the subscribers stay, waiting). nullopt when unknown.
  struct Unpublished {
    std::string topic;
    v1::TopicPublisher publisher;
    std::vector<v1::TopicSubscriber> paired;  // as they were
  };
  std::optional<Unpublished> RemovePublisher(uint64_t publication_id);
  // Removes the subscriber; returns it as it was (with its subscription)
  // and its topic's publisher's process id (0: none). nullopt if unknown.
  struct Unsubscribed {
    std::string topic;
    v1::TopicSubscriber subscriber;
    uint64_t publisher_process_id = 0;
  };
  std::optional<Unsubscribed> RemoveSubscriber(uint64_t subscriber_id);

  // Every publication and subscriber id of `process_id`.
  std::vector<uint64_t> PublicationsOf(uint64_t process_id) const;
  std::vector<uint64_t> SubscribersOf(uint64_t process_id) const;

  // Stores the publisher's counters for subscription `subscription_id`
  // when `reporter` is that subscription's publisher. False otherwise.
  bool SetStats(uint64_t reporter, uint64_t subscription_id,
                const v1::SubscriptionStats& stats);

  Holdings HoldingsOf(uint64_t process_id) const;
  size_t topic_count() const { return topics_.size(); }
  size_t subscription_count() const { return subscriptions_.size(); }
  // By name.
  const std::map<std::string, v1::TopicInfo, std::less<>>& topics() const {
    return topics_;
  }

 private:
  v1::TopicInfo& TopicOf(absl::string_view topic);
  v1::TopicSubscriber* MutableSubscriber(uint64_t subscriber_id);
  // Forgets `topic` when nobody is left in it.
  void ForgetIfEmpty(const std::string& topic);
  void AdjustHoldings(uint64_t process_id, int publications, int subscribers);

  uint64_t next_id_ = 1;
  std::map<std::string, v1::TopicInfo, std::less<>> topics_;
  // Publication and subscriber ids to their topic's name.
  absl::flat_hash_map<uint64_t, std::string> topic_of_;
  // Subscription ids to their subscriber id.
  absl::flat_hash_map<uint64_t, uint64_t> subscriptions_;
  absl::flat_hash_map<uint64_t, Holdings> holdings_;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_TOPIC_REGISTRY_H_
