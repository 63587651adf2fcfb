// TopicEndpoint: the seam between a Session's control plane and a topic's
// data plane (issue 14, docs/architecture.md "Topics").
//
// A topic has at most one publisher at a time and any number of
// subscribers. For every (publisher, subscriber) pair the daemon makes one
// SOCK_SEQPACKET socketpair, a *subscription*, and hands one end to each
// process over its broker link (BrokerFrame.subscription_opened, the fd by
// SCM_RIGHTS, exactly as a port's PortOpened). Each Session routes those
// notices to the TopicEndpoint that its Publish or Subscribe call
// registered: the publisher's endpoint gets one socket per subscriber, a
// subscriber's endpoint gets one socket per publisher it meets (a new one
// when a publisher leaves and another takes the topic).
//
// Internal to libshmport. Implemented by the data plane (client/topic_*);
// called only on the Session's link thread, never with the Session's lock
// held. Calls must not block: hand the socket to the endpoint's own thread.
#ifndef SHMPORT_CLIENT_TOPIC_ENDPOINT_H_
#define SHMPORT_CLIENT_TOPIC_ENDPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "shmport/port.h"
#include "shmport/unique_fd.h"

namespace shmport::internal {

// What a subscriber asked for, as the daemon granted it: terms beyond the
// daemon's limits are refused (RESOURCE_EXHAUSTED naming the limit), not
// clamped, so these are the terms asked for. Both ends get the same.
struct SubscriptionTerms {
  enum class SlowSubscriber { kBlockPublisher = 0, kDropOldest = 1 };
  SlowSubscriber slow_subscriber = SlowSubscriber::kBlockPublisher;
  // kDropOldest: at most this many samples delivered and not yet taken by
  // the subscriber; a newer sample replaces the oldest, and the subscriber
  // is told how many it missed.
  uint32_t queue_depth = 0;
  // Samples of the past the publisher delivers first (at most what it
  // keeps, PublicationGrant::history).
  uint32_t history = 0;
};

// One subscription as the link thread hands it over.
struct SubscriptionOpened {
  uint64_t subscription_id = 0;  // the daemon's id, unique per daemon run
  std::string topic;
  // The other end: kernel-checked at its attach (pid as this process's
  // pid namespace numbers it; 0 when it cannot).
  PeerIdentity peer;
  SubscriptionTerms terms;
  UniqueFd socket;  // this end of the subscription's socketpair
};

// One subscription's counters as the publisher's end sees them; the link
// thread reports them to the daemon with the ports' StatsReport, and the
// daemon serves them in ListTopics, `shmportctl topics` and the metrics.
struct SubscriptionStats {
  uint64_t subscription_id = 0;
  uint64_t samples_delivered = 0;  // sent to the subscriber
  uint64_t samples_released = 0;   // the subscriber gave back
  uint64_t samples_dropped = 0;    // kDropOldest: replaced before delivery
  uint64_t lag = 0;                // published and not yet released by it
  uint64_t held_chunks = 0;        // chunks its holds keep from the pool
  uint64_t held_bytes = 0;
};

// Implemented by a Publisher's or a Subscriber's core.
class TopicEndpoint {
 public:
  virtual ~TopicEndpoint() = default;
  // A subscription opened: on the publisher, a new subscriber; on a
  // subscriber, a publisher to read from.
  virtual void OnSubscriptionOpened(SubscriptionOpened subscription) = 0;
  // The daemon ended a subscription (an operator, the policy, the other
  // end left or died, the registration ended). `reason` is the daemon's.
  virtual void OnSubscriptionClosed(uint64_t subscription_id,
                                    const absl::Status& reason) = 0;
  // The publisher's per-subscription counters (a subscriber: none).
  virtual std::vector<SubscriptionStats> Stats() const { return {}; }
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_ENDPOINT_H_
