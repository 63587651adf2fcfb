// PublisherCore: the publishing end of a topic, a TopicEndpoint.
//
// Each sample is written once into the publisher's pool (TopicPool) and
// referenced by every subscription it is queued for or delivered to, and
// by the history. The references are counted here, in private memory: a
// subscription takes one when the sample is queued for it and gives it
// back when the subscriber releases the sample by message (checked
// against what was delivered to that subscription), when kDropOldest drops
// it, or when the subscription ends. The chunks return to the pool at the
// last reference.
//
// A watcher thread reads every subscription's socket (epoll): releases,
// the subscriber's HELLO, and EOF, at which the subscriber's holds are
// dropped at once. Anything else a subscriber sends cuts it off with a
// reason (CUT_OFF), as does holding more than max_held_bytes.
#ifndef SHMPORT_CLIENT_TOPIC_PUBLISHER_CORE_H_
#define SHMPORT_CLIENT_TOPIC_PUBLISHER_CORE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/deadline.h"
#include "client/topic_endpoint.h"
#include "client/topic_pool.h"
#include "client/topic_subscription.h"
#include "client/topic_wire.h"
#include "common/mutex.h"
#include "shmport/topic.h"
#include "shmport/unique_fd.h"

namespace shmport::internal {

class PublisherCore : public TopicEndpoint,
                      public std::enable_shared_from_this<PublisherCore> {
 public:
  // Checks `options` (geometry, inline threshold) and starts the watcher.
  static absl::StatusOr<std::shared_ptr<PublisherCore>> Create(
      std::string topic, const PublisherOptions& options);
  ~PublisherCore() override;

  // Ends every subscription (subscribers see EOF) and stops the watcher.
  // Buffers still out return their chunks; Publish fails afterwards.
  void Close();

  absl::StatusOr<SampleBuffer> Allocate(size_t size, const Deadline& deadline);
  absl::StatusOr<uint64_t> Publish(SampleBuffer buffer);
  // A SampleBuffer dropped unpublished.
  void ReturnChunks(const ChunkRun& run);

  void OnSubscriptionOpened(SubscriptionOpened subscription) override;
  void OnSubscriptionClosed(uint64_t subscription_id,
                            const absl::Status& reason) override;
  std::vector<SubscriptionStats> Stats() const override;

  PublisherStats stats() const;
  int fd() const { return memory_event_.get(); }
  const std::string& topic() const { return topic_; }

 private:
  struct SampleRecord {
    ChunkRun run;  // count 0: inline
    uint64_t size = 0;
    std::shared_ptr<const std::vector<uint8_t>> inline_bytes;
    uint32_t refs = 0;
  };

  // The epoll data of the wake fd (subscriptions use their ids).
  static constexpr uint64_t kWakeId = ~uint64_t{0};

  PublisherCore(std::string topic, const PublisherOptions& options,
                UniqueFd epoll, UniqueFd wake, UniqueFd memory_event);

  // Waits for what Allocate needs; the error says what it waited for.
  absl::Status WaitForRoom(MutexLock* lock, const Deadline& deadline,
                           size_t size, std::optional<ChunkRun>* run)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TopicSubscription* Backlogged() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status TooSlow(const TopicSubscription& sub) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status NoRoom(const TopicSubscription* backlogged, size_t size,
                      const Deadline& deadline) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Delivers what `sub`'s window allows. False when `sub` was cut off
  // (and destroyed).
  bool Pump(TopicSubscription& sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SendHello(TopicSubscription& sub)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AnnounceSegments(TopicSubscription& sub)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SendSample(TopicSubscription& sub, uint64_t sequence,
                          const SampleRecord& record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends the next of `deliverable` (>= 1) queued samples: as one BATCH
  // when `sub` takes them, else one. Returns how many went.
  absl::StatusOr<size_t> SendNext(TopicSubscription& sub, size_t deliverable)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How many queued samples `sub`'s window and max_held_bytes let go now
  // (0: the next one would pass max_held_bytes).
  size_t WithinHoldBound(const TopicSubscription& sub) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t ChunkBytes(const SampleRecord& record) const;
  void ArmWritable(TopicSubscription& sub, bool on)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Sends CUT_OFF with `reason`, then ends the subscription.
  void CutOff(TopicSubscription& sub, const absl::Status& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops `sub`'s queue and holds and forgets it. `sub` is destroyed.
  void EndSubscription(TopicSubscription& sub)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unref(uint64_t sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MemoryReturned() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The watcher thread and what it does for one subscription's socket.
  void WatchLoop();
  void OnReadable(uint64_t subscription_id);
  void OnWritable(uint64_t subscription_id);
  void OnSubscriberMessage(TopicSubscription& sub,
                           absl::Span<const uint8_t> bytes, int num_fds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status OnRelease(TopicSubscription& sub,
                         const topic_wire::Decoded& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string topic_;
  const PublisherOptions options_;
  const UniqueFd epoll_;         // every subscription socket + wake_
  const UniqueFd wake_;          // eventfd: the watcher should stop
  const UniqueFd memory_event_;  // eventfd: fd(), memory came back
  std::thread watcher_;

  // Guards everything below. Never held while calling out of the core.
  mutable Mutex mu_;
  CondVar room_ ABSL_GUARDED_BY(mu_);  // memory back, or a queue drained
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  TopicPool pool_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, SampleRecord> samples_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> history_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::unique_ptr<TopicSubscription>> subs_
      ABSL_GUARDED_BY(mu_);
  uint64_t samples_published_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t cut_off_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint8_t> batch_ ABSL_GUARDED_BY(mu_);  // a BATCH being built
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_PUBLISHER_CORE_H_
