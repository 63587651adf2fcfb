// TopicSubscription: what a publisher knows of one subscriber, all in the
// publisher's private memory: the samples queued for it, the ones it holds
// (delivered and not given back), the misses not yet told.
#ifndef SHMPORT_CLIENT_TOPIC_SUBSCRIPTION_H_
#define SHMPORT_CLIENT_TOPIC_SUBSCRIPTION_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "client/topic_endpoint.h"
#include "common/unix_channel.h"

namespace shmport::internal {

// Not thread-safe: the PublisherCore's mutex guards it.
class TopicSubscription {
 public:
  // The most samples in flight to one subscriber: bounds the datagrams in
  // its socket whatever the daemon granted.
  static constexpr uint32_t kMaxWindow = 1024;

  TopicSubscription(uint64_t id, SubscriptionTerms terms,
                    std::shared_ptr<UnixChannel> channel)
      : id_(id), terms_(terms), channel_(std::move(channel)) {}

  uint64_t id() const { return id_; }
  const SubscriptionTerms& terms() const { return terms_; }
  const std::shared_ptr<UnixChannel>& channel() const { return channel_; }
  bool drops() const {
    return terms_.slow_subscriber ==
           SubscriptionTerms::SlowSubscriber::kDropOldest;
  }
  uint32_t window() const {
    return std::clamp<uint32_t>(terms_.queue_depth, 1, kMaxWindow);
  }

  // Queues `sequence` for delivery. kDropOldest with a full queue drops
  // the oldest queued sample and returns it (the caller unrefs it).
  std::optional<uint64_t> Enqueue(uint64_t sequence) {
    queued_.push_back(sequence);
    if (!drops() || !Full(/*past=*/true)) return std::nullopt;
    const uint64_t dropped = queued_.front();
    queued_.pop_front();
    ++unreported_misses_;
    ++stats_.samples_dropped;
    return dropped;
  }
  // kBlockPublisher: the publisher must wait before adding more.
  bool backlogged() const { return !drops() && Full(/*past=*/false); }
  bool can_deliver() const {
    return !queued_.empty() && held_.size() < window() && !send_blocked &&
           (waiting || !sends_waiting);
  }
  uint64_t next_queued() const { return queued_.front(); }
  void Delivered(uint64_t sequence, uint32_t chunks, uint64_t bytes) {
    queued_.pop_front();
    held_.insert(sequence);
    ++stats_.samples_delivered;
    stats_.held_chunks += chunks;
    stats_.held_bytes += bytes;
  }
  // False when `sequence` was not delivered to this subscriber or was
  // already given back.
  bool Released(uint64_t sequence, uint32_t chunks, uint64_t bytes) {
    if (held_.erase(sequence) == 0) return false;
    ++stats_.samples_released;
    stats_.held_chunks -= chunks;
    stats_.held_bytes -= bytes;
    return true;
  }

  const absl::flat_hash_set<uint64_t>& held() const { return held_; }
  const std::deque<uint64_t>& queued() const { return queued_; }
  uint64_t TakeUnreportedMisses() {
    return std::exchange(unreported_misses_, 0);
  }
  void RestoreUnreportedMisses(uint64_t n) { unreported_misses_ += n; }
  uint64_t unreported_misses() const { return unreported_misses_; }

  // Queued (at or, with `past`, beyond) its limit: `window` queued besides
  // the `window` it may hold. A subscription that sends WAITING keeps its
  // samples queued rather than in its socket, so the two count together.
  bool Full(bool past) const {
    const size_t n =
        sends_waiting ? queued_.size() + held_.size() : queued_.size();
    const size_t limit = sends_waiting ? 2 * size_t{window()} : window();
    return past ? n > limit : n >= limit;
  }

  uint32_t segments_announced = 0;
  bool hello_received = false;
  bool takes_batches = false;  // its HELLO set kFeatureBatch
  // Its HELLO set kFeatureWaiting: samples wait here (queued) from one
  // delivery until its WAITING says it read them all.
  bool sends_waiting = false;
  bool waiting = true;        // nothing delivered since its last WAITING
  bool send_blocked = false;  // socket full: wait for POLLOUT

  SubscriptionStats stats() const {
    SubscriptionStats s = stats_;
    s.subscription_id = id_;
    s.lag = queued_.size() + held_.size();
    return s;
  }

 private:
  const uint64_t id_;
  const SubscriptionTerms terms_;
  const std::shared_ptr<UnixChannel> channel_;
  std::deque<uint64_t> queued_;         // not yet delivered, oldest first
  absl::flat_hash_set<uint64_t> held_;  // delivered, not given back
  uint64_t unreported_misses_ = 0;
  SubscriptionStats stats_;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_SUBSCRIPTION_H_
