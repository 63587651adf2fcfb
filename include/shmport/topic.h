// Topics: one publisher, many subscribers, each sample written once into
// shared memory and read in place by every subscriber (issue 14,
// docs/architecture.md "Topics", docs/protocol.md "Topic protocol").
//
// The trust rule: a subscriber the publisher does not trust can hurt only
// itself. Subscribers map the publisher's segments read-only (the fd they
// get cannot be mapped writable); which samples a subscriber holds lives in
// the publisher's private memory, and a subscriber gives a sample back by a
// message the publisher checks against what it delivered to it. A chunk
// returns to the publisher's pool only when every subscription it went to
// gave it back, or ended.
#ifndef SHMPORT_TOPIC_H_
#define SHMPORT_TOPIC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "shmport/segment_geometry.h"

namespace shmport {

namespace internal {
class PublisherCore;
class SubscriberCore;
class SubscriberLink;
struct TopicAccess;
}  // namespace internal

// What a subscription does when its subscriber falls behind.
enum class SlowSubscriber {
  // The publisher's Allocate waits (bounded by its timeout) until the
  // subscriber has taken its queue.
  kBlockPublisher = 0,
  // At most queue_depth samples wait for the subscriber; a newer one
  // replaces the oldest waiting one, and the subscriber is told how many
  // it missed (Subscriber::stats().samples_missed).
  kDropOldest = 1,
};

struct PublisherOptions {
  // How each of the publisher's segments is cut into chunks. A sample takes
  // a run of whole chunks of one segment, so the largest sample is
  // chunk_size * chunk_count bytes.
  SegmentGeometry geometry{64 * 1024, 256};  // 16 MiB per segment
  uint32_t max_segments = 4;                 // segments made as the pool fills
  // Samples of at most this many bytes travel inline in the socket message
  // (copied once per subscriber); larger ones in shared memory.
  uint32_t inline_threshold = 1024;
  // The publisher keeps the last `history` samples for late joiners.
  uint32_t history = 0;
  // A subscription whose held samples (delivered, not given back) would
  // take more than this many bytes of chunks is cut off with
  // RESOURCE_EXHAUSTED naming the bound. 0: no bound.
  uint64_t max_held_bytes = 0;
  // A kBlockPublisher subscription that keeps Allocate waiting this long
  // (its queue full: it reads nothing, or holds its whole window) is cut
  // off with DEADLINE_EXCEEDED naming the bound, and Allocate goes on.
  // Infinite: such a subscriber stalls the publisher up to each
  // Allocate's timeout.
  absl::Duration max_block = absl::InfiniteDuration();
};

struct SubscriberOptions {
  SlowSubscriber slow_subscriber = SlowSubscriber::kBlockPublisher;
  // Samples in flight to this subscriber and not yet given back; also the
  // kDropOldest queue. At least 1.
  uint32_t queue_depth = 16;
  // Past samples a late joiner asks for (at most the publisher's history).
  uint32_t history = 0;
  // Bounds against a hostile publisher: segments mapped per publisher and
  // their bytes. A publisher announcing more is cut off.
  uint32_t max_segments = 16;
  uint64_t max_mapped_bytes = 1ull << 30;
};

// One subscription's counters, as the publisher sees them.
struct TopicSubscriptionStats {
  uint64_t subscription_id = 0;
  uint64_t samples_delivered = 0;
  uint64_t samples_released = 0;
  uint64_t samples_dropped = 0;  // kDropOldest: replaced before delivery
  uint64_t lag = 0;              // queued or held, not yet given back
  uint64_t held_chunks = 0;
  uint64_t held_bytes = 0;
};

struct PublisherStats {
  uint64_t samples_published = 0;
  uint64_t chunks_in_use = 0;  // held by a buffer, a subscription or history
  uint64_t segments = 0;
  uint64_t subscriptions_cut_off = 0;  // by the publisher, with a reason
  std::vector<TopicSubscriptionStats> subscriptions;  // the live ones
};

struct SubscriberStats {
  uint64_t samples_received = 0;
  uint64_t samples_missed = 0;  // told by publishers (kDropOldest)
  uint64_t bytes_received = 0;
  uint64_t segments_mapped = 0;  // right now
  uint64_t subscriptions_opened = 0;
};

// A sample being written: a run of chunks of one of the publisher's
// segments, or a small heap block sent inline. Move-only; dropped without
// being published, it returns its chunks. Belongs to one thread at a time.
class SampleBuffer {
 public:
  SampleBuffer() = default;
  SampleBuffer(SampleBuffer&& other) noexcept;
  SampleBuffer& operator=(SampleBuffer&& other) noexcept;
  SampleBuffer(const SampleBuffer&) = delete;
  SampleBuffer& operator=(const SampleBuffer&) = delete;
  ~SampleBuffer();

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  absl::Span<uint8_t> span() const { return {data_, size_}; }
  bool in_shared_memory() const { return inline_ == nullptr && data_; }
  // Sets the size to `n` (<= capacity()); false (unchanged) otherwise.
  bool Resize(size_t n);

 private:
  friend struct internal::TopicAccess;
  void Release();

  std::shared_ptr<internal::PublisherCore> core_;  // to return chunks
  uint32_t segment_ = 0;
  uint32_t first_chunk_ = 0;
  uint32_t chunk_count_ = 0;
  std::unique_ptr<uint8_t[]> inline_;  // inline samples own their bytes
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// A received sample: a read-only view into the publisher's segment (the
// same bytes every subscriber reads) or an inline copy. Dropping it gives
// the sample back to the publisher. Views stay valid while the Sample
// lives, even after its subscription ended. Move-only.
class Sample {
 public:
  Sample() = default;
  Sample(Sample&& other) noexcept;
  Sample& operator=(Sample&& other) noexcept;
  Sample(const Sample&) = delete;
  Sample& operator=(const Sample&) = delete;
  ~Sample();

  // The publisher's sequence number: consecutive unless samples were
  // missed (kDropOldest) or a new publisher took the topic.
  uint64_t sequence() const { return sequence_; }
  absl::Span<const uint8_t> data() const { return {data_, size_}; }
  size_t size() const { return size_; }
  bool in_shared_memory() const { return mapping_ != nullptr; }

 private:
  friend struct internal::TopicAccess;
  void Release();

  std::shared_ptr<internal::SubscriberLink> link_;  // where releases go
  std::shared_ptr<const void> mapping_;             // keeps the segment mapped
  std::unique_ptr<uint8_t[]> inline_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint64_t sequence_ = 0;
};

// The publishing end of a topic. Thread-safe.
class Publisher {
 public:
  ~Publisher();  // ends every subscription; held samples stay readable
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // A buffer of `size` bytes, waiting up to `timeout` for memory (and for
  // kBlockPublisher subscribers to take their queues). DEADLINE_EXCEEDED
  // names what it waited for; INVALID_ARGUMENT when `size` exceeds one
  // segment's data area.
  absl::StatusOr<SampleBuffer> Allocate(
      size_t size, absl::Duration timeout = absl::Seconds(10));
  absl::StatusOr<SampleBuffer> TryAllocate(size_t size);
  // Hands `buffer` (of this publisher) to every subscription; returns its
  // sequence number. The buffer's bytes must not change afterwards.
  absl::StatusOr<uint64_t> Publish(SampleBuffer buffer);

  // Readable when memory returned to the pool (a failed TryAllocate may be
  // worth retrying). Read it empty with read(2) of 8 bytes.
  int fd() const;
  PublisherStats stats() const;
  const std::string& topic() const;

 private:
  friend struct internal::TopicAccess;
  explicit Publisher(std::shared_ptr<internal::PublisherCore> core);
  std::shared_ptr<internal::PublisherCore> core_;
  std::shared_ptr<void> registration_;  // the Session's, if any
};

// The subscribing end of a topic. Receive from one thread at a time;
// stats() and fd() from any.
class Subscriber {
 public:
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // The next sample, waiting up to `timeout`. DEADLINE_EXCEEDED when none
  // came; the publisher's cut-off reason, or the protocol violation for
  // which this subscriber dropped a publisher, once, when that happened.
  absl::StatusOr<Sample> Receive(absl::Duration timeout);
  // As Receive without waiting: UNAVAILABLE when nothing is ready.
  absl::StatusOr<Sample> TryReceive();

  // Readable when Receive may have something (an epoll fd over the current
  // subscription's socket).
  int fd() const;
  SubscriberStats stats() const;
  const std::string& topic() const;

 private:
  friend struct internal::TopicAccess;
  explicit Subscriber(std::shared_ptr<internal::SubscriberCore> core);
  std::shared_ptr<internal::SubscriberCore> core_;
  std::shared_ptr<void> registration_;  // the Session's, if any
};

}  // namespace shmport

#endif  // SHMPORT_TOPIC_H_
