// SubscriberLink: a subscriber's end of one subscription (one publisher it
// met). Samples keep it alive to send their releases; the receive side's
// view of the publisher (its HELLO, the segments it announced) lives here
// too and is touched only by the SubscriberCore's receiving thread.
#ifndef SHMPORT_CLIENT_TOPIC_SUBSCRIBER_LINK_H_
#define SHMPORT_CLIENT_TOPIC_SUBSCRIBER_LINK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "client/topic_segment.h"
#include "client/topic_wire.h"
#include "common/mutex.h"
#include "common/unix_channel.h"

namespace shmport::internal {

class SubscriberLink {
 public:
  SubscriberLink(uint64_t subscription_id, UnixChannel channel)
      : subscription_id_(subscription_id), channel_(std::move(channel)) {}

  uint64_t subscription_id() const { return subscription_id_; }
  UnixChannel& channel() { return channel_; }

  // Gives sample `sequence` back to the publisher. Any thread. A publisher
  // whose socket is full gets it with the next release; after Close(),
  // nothing is sent (the publisher dropped every hold at our EOF).
  void Release(uint64_t sequence);
  // Shuts the socket down: the publisher sees EOF and drops our holds.
  void Close();

  // --- The receiving thread's view of the publisher. ---
  std::optional<topic_wire::TopicHello> hello;
  std::vector<std::shared_ptr<TopicSegment>> segments;  // by segment id
  uint64_t mapped_bytes = 0;
  uint64_t last_sequence = 0;

 private:
  const uint64_t subscription_id_;
  UnixChannel channel_;
  Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Releases the full socket refused, sent with the next one.
  std::vector<uint64_t> unsent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_SUBSCRIBER_LINK_H_
