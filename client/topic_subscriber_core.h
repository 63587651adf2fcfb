// SubscriberCore: the subscribing end of a topic, a TopicEndpoint.
//
// It reads one subscription at a time (the current publisher's). Nothing a
// publisher sends is trusted: its HELLO must fit the topic limits, each
// segment must be a sealed memfd of the announced size that cannot be
// mapped writable, within this subscriber's max_segments and
// max_mapped_bytes, and each sample must lie inside a mapped segment with a
// sequence above the last one. A publisher that breaks a rule is dropped
// (its socket shut, its segments unmapped once no Sample uses them) and the
// next Receive reports why.
#ifndef SHMPORT_CLIENT_TOPIC_SUBSCRIBER_CORE_H_
#define SHMPORT_CLIENT_TOPIC_SUBSCRIBER_CORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/deadline.h"
#include "client/topic_endpoint.h"
#include "client/topic_subscriber_link.h"
#include "client/topic_wire.h"
#include "common/mutex.h"
#include "shmport/topic.h"
#include "shmport/unique_fd.h"

namespace shmport::internal {

// What a subscriber's HELLO asks for (docs/protocol.md, the topic HELLO):
// BATCH, several samples per datagram, and WAITING, which lets the
// publisher hold samples back while this end is still reading (decision
// D31).
inline constexpr uint32_t kSubscriberFeatures =
    topic_wire::kFeatureBatch | topic_wire::kFeatureWaiting;

class SubscriberCore : public TopicEndpoint {
 public:
  // `features`: kSubscriberFeatures; tests ask for less.
  static absl::StatusOr<std::shared_ptr<SubscriberCore>> Create(
      std::string topic, const SubscriberOptions& options,
      uint32_t features = kSubscriberFeatures);
  ~SubscriberCore() override;

  // The next sample before `deadline`; with `wait` false, UNAVAILABLE when
  // none is ready now. One caller at a time.
  absl::StatusOr<Sample> Receive(const Deadline& deadline, bool wait);

  // Drops the current publisher (it sees EOF). Later samples: none.
  void Close();

  void OnSubscriptionOpened(SubscriptionOpened subscription) override;
  void OnSubscriptionClosed(uint64_t subscription_id,
                            const absl::Status& reason) override;

  int fd() const { return epoll_.get(); }
  SubscriberStats stats() const;
  const std::string& topic() const { return topic_; }
  const SubscriberOptions& options() const { return options_; }

 private:
  SubscriberCore(std::string topic, const SubscriberOptions& options,
                 uint32_t features, UniqueFd epoll, UniqueFd wake);

  // The next message of `link` (from the BATCH in hand, else its socket):
  // a Sample, nothing to hand out (nullopt; drained_ says whether the
  // socket was empty), or the error that ended the link.
  absl::StatusOr<std::optional<Sample>> ReadNext(
      const std::shared_ptr<SubscriberLink>& link)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(receive_mu_);
  // Whether messages of a BATCH from `link` wait in buffer_.
  bool InBatch(const SubscriberLink& link) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(receive_mu_);
  // Drops `link` and says which rule `status` says it broke.
  absl::Status BrokeProtocol(const std::shared_ptr<SubscriberLink>& link,
                             const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(receive_mu_);
  // One message of `link`: a Sample, nothing to hand out (nullopt), or
  // the error that ended the link.
  absl::StatusOr<std::optional<Sample>> OnMessage(
      const std::shared_ptr<SubscriberLink>& link,
      absl::Span<const uint8_t> bytes, std::vector<UniqueFd> fds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(receive_mu_);
  absl::Status OnHello(SubscriberLink& link,
                       const topic_wire::TopicHello& hello);
  absl::Status OnNewSegment(SubscriberLink& link,
                            const topic_wire::TopicNewSegment& announced,
                            UniqueFd fd);
  absl::StatusOr<Sample> OnSample(const std::shared_ptr<SubscriberLink>& link,
                                  const topic_wire::SampleRef& ref);
  absl::StatusOr<Sample> OnInlineSample(
      const std::shared_ptr<SubscriberLink>& link,
      const topic_wire::Decoded& message);
  absl::Status CheckSequence(SubscriberLink& link, uint64_t sequence);

  // Ends `link` if it is still the current one.
  void Drop(const std::shared_ptr<SubscriberLink>& link)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(receive_mu_);
  // Waits for the socket or a new link, until `deadline` (at most 1 ms
  // with `retry_soon`).
  void WaitReadable(const Deadline& deadline, bool retry_soon);

  const std::string topic_;
  const SubscriberOptions options_;
  const uint32_t features_;  // what its HELLO asks for: kFeature* bits
  const UniqueFd epoll_;     // the current link's socket + wake_
  const UniqueFd wake_;      // eventfd: a link came or went

  Mutex receive_mu_;  // one Receive at a time; outer to mu_
  std::vector<uint8_t> buffer_ ABSL_GUARDED_BY(receive_mu_);
  // A BATCH being handed out: its messages in buffer_ [batch_next_,
  // batch_end_), from batch_link_ (held, so its address is not reused).
  std::shared_ptr<SubscriberLink> batch_link_ ABSL_GUARDED_BY(receive_mu_);
  size_t batch_next_ ABSL_GUARDED_BY(receive_mu_) = 0;
  size_t batch_end_ ABSL_GUARDED_BY(receive_mu_) = 0;
  bool drained_ ABSL_GUARDED_BY(receive_mu_) = false;  // the last ReadNext

  mutable Mutex mu_;  // guards the link and the counters
  std::shared_ptr<SubscriberLink> link_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  SubscriberStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_SUBSCRIBER_CORE_H_
