#include "server/topic_pairing.h"

#include <string>

#include "common/segment_layout.h"
#include "server/peer_identity.h"

namespace shmport::server {

uint64_t TopicBytes(const v1::Geometry& g) {
  return uint64_t{g.max_segments()} *
         (layout::kHeaderSize + uint64_t{g.chunk_size()} * g.chunk_count());
}

SubscriptionFrames SubscriptionOpenedFrames(
    absl::string_view topic, uint64_t subscription_id,
    const v1::TopicPublisher& publisher, const v1::TopicSubscriber& subscriber,
    const ProcessRecord& pub, const ProcessRecord& sub,
    uint64_t daemon_namespace) {
  SubscriptionFrames frames;
  v1::SubscriptionOpened* o = frames.to_publisher.mutable_subscription_opened();
  o->set_subscription_id(subscription_id);
  o->set_topic(std::string(topic));
  *o->mutable_terms() = subscriber.terms();
  *o->mutable_geometry() = publisher.geometry();
  o->set_max_bytes(TopicBytes(publisher.geometry()));
  o->set_history(publisher.history());
  o->set_publication_id(publisher.publication_id());
  o->set_subscriber_id(subscriber.subscriber_id());
  frames.to_subscriber = frames.to_publisher;
  o->set_publisher_end(true);
  *o->mutable_peer() = IdentityOf(sub, pub, daemon_namespace);
  v1::SubscriptionOpened* s =
      frames.to_subscriber.mutable_subscription_opened();
  s->set_publisher_end(false);
  *s->mutable_peer() = IdentityOf(pub, sub, daemon_namespace);
  return frames;
}

v1::BrokerFrame SubscriptionClosedFrame(uint64_t subscription_id,
                                        absl::string_view reason,
                                        absl::StatusCode code) {
  v1::BrokerFrame frame;
  frame.mutable_subscription_closed()->set_subscription_id(subscription_id);
  frame.mutable_subscription_closed()->set_reason(std::string(reason));
  frame.mutable_subscription_closed()->set_code(static_cast<int>(code));
  return frame;
}

}  // namespace shmport::server
