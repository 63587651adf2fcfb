// The broker frames of a subscription: the SubscriptionOpened each end of
// a (publisher, subscriber) pair gets with its socket, and the
// SubscriptionClosed that ends it (broker.proto; docs/protocol.md,
// "Topics on the broker link").
#ifndef SHMPORT_SERVER_TOPIC_PAIRING_H_
#define SHMPORT_SERVER_TOPIC_PAIRING_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/registry.h"
#include "shmport/v1/broker.pb.h"
#include "shmport/v1/control.pb.h"

namespace shmport::server {

// The publisher's segments in all under `g`: max_segments x (header +
// chunk_size x chunk_count).
uint64_t TopicBytes(const v1::Geometry& g);

struct SubscriptionFrames {
  v1::BrokerFrame to_publisher;
  v1::BrokerFrame to_subscriber;
};

// The two SubscriptionOpened notices of subscription `subscription_id`
// between `publisher` (process `pub`) and `subscriber` (process `sub`) on
// `topic`, each naming the other end as the receiver's kernel sees it.
SubscriptionFrames SubscriptionOpenedFrames(
    absl::string_view topic, uint64_t subscription_id,
    const v1::TopicPublisher& publisher, const v1::TopicSubscriber& subscriber,
    const ProcessRecord& pub, const ProcessRecord& sub,
    uint64_t daemon_namespace);

v1::BrokerFrame SubscriptionClosedFrame(
    uint64_t subscription_id, absl::string_view reason,
    absl::StatusCode code = absl::StatusCode::kUnavailable);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_TOPIC_PAIRING_H_
