// The C ABI's topic option and stats structs (include/shmport/shmport.h,
// "Topics") to and from shmport/topic.h's.
#include <string>

#include "absl/strings/str_cat.h"
#include "client/c_api_errors.h"
#include "client/c_api_options.h"

namespace shmport::c_api {
namespace {

// The first version of each struct (see ReadStruct).
constexpr size_t kPublisherOptionsV1 = sizeof(shmport_publisher_options);
constexpr size_t kSubscriberOptionsV1 = sizeof(shmport_subscriber_options);

absl::StatusOr<SlowSubscriber> ToSlowSubscriber(int32_t value) {
  switch (value) {
    case SHMPORT_BLOCK_PUBLISHER:
      return SlowSubscriber::kBlockPublisher;
    case SHMPORT_DROP_OLDEST:
      return SlowSubscriber::kDropOldest;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "shmport_subscriber_options: slow_subscriber ", value,
          " is neither SHMPORT_BLOCK_PUBLISHER (0) nor SHMPORT_DROP_OLDEST "
          "(1)"));
  }
}

}  // namespace

absl::StatusOr<PublisherOptions> ToPublisherOptions(
    const shmport_publisher_options* given) {
  PublisherOptions o;
  if (given == nullptr) return o;
  shmport_publisher_options c;
  if (absl::Status s =
          ReadOptions(*given, shmport_publisher_options_init,
                      kPublisherOptionsV1, "shmport_publisher_options", c);
      !s.ok()) {
    return s;
  }
  o.geometry = {.chunk_size = c.chunk_size, .chunk_count = c.chunk_count};
  o.max_segments = c.max_segments;
  o.inline_threshold = c.inline_threshold;
  o.history = c.history;
  o.max_held_bytes = c.max_held_bytes;
  if (absl::Status s =
          SetDuration(c.max_block_ms, absl::Milliseconds(1),
                      "shmport_publisher_options: max_block_ms", &o.max_block);
      !s.ok()) {
    return s;
  }
  return o;
}

absl::StatusOr<SubscriberOptions> ToSubscriberOptions(
    const shmport_subscriber_options* given) {
  SubscriberOptions o;
  if (given == nullptr) return o;
  shmport_subscriber_options c;
  if (absl::Status s =
          ReadOptions(*given, shmport_subscriber_options_init,
                      kSubscriberOptionsV1, "shmport_subscriber_options", c);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<SlowSubscriber> slow = ToSlowSubscriber(c.slow_subscriber);
  if (!slow.ok()) return slow.status();
  if (c.queue_depth < 1) {
    return absl::InvalidArgumentError(
        "shmport_subscriber_options: queue_depth is 0; it must be at least 1");
  }
  o.slow_subscriber = *slow;
  o.queue_depth = c.queue_depth;
  o.history = c.history;
  o.max_segments = c.max_segments;
  o.max_mapped_bytes = c.max_mapped_bytes;
  return o;
}

shmport_publisher_stats ToCStats(const PublisherStats& s) {
  shmport_publisher_stats c = {};
  c.struct_size = sizeof(c);
  c.samples_published = s.samples_published;
  c.chunks_in_use = s.chunks_in_use;
  c.segments = s.segments;
  c.subscriptions_cut_off = s.subscriptions_cut_off;
  c.subscriptions = s.subscriptions.size();
  return c;
}

shmport_subscription_stats ToCStats(const TopicSubscriptionStats& s) {
  shmport_subscription_stats c = {};
  c.struct_size = sizeof(c);
  c.subscription_id = s.subscription_id;
  c.samples_delivered = s.samples_delivered;
  c.samples_released = s.samples_released;
  c.samples_dropped = s.samples_dropped;
  c.lag = s.lag;
  c.held_chunks = s.held_chunks;
  c.held_bytes = s.held_bytes;
  return c;
}

shmport_subscriber_stats ToCStats(const SubscriberStats& s) {
  shmport_subscriber_stats c = {};
  c.struct_size = sizeof(c);
  c.samples_received = s.samples_received;
  c.samples_missed = s.samples_missed;
  c.bytes_received = s.bytes_received;
  c.segments_mapped = s.segments_mapped;
  c.subscriptions_opened = s.subscriptions_opened;
  return c;
}

}  // namespace shmport::c_api

extern "C" {

shmport_status shmport_publisher_options_init(
    shmport_publisher_options* options) {
  SHMPORT_C_REQUIRE(options);
  const shmport::PublisherOptions d;
  *options = {};
  options->struct_size = sizeof(*options);
  options->chunk_size = d.geometry.chunk_size;
  options->chunk_count = d.geometry.chunk_count;
  options->max_segments = d.max_segments;
  options->inline_threshold = d.inline_threshold;
  options->history = d.history;
  options->max_held_bytes = d.max_held_bytes;
  options->max_block_ms = shmport::c_api::ToMs(d.max_block);
  return SHMPORT_OK;
}

shmport_status shmport_subscriber_options_init(
    shmport_subscriber_options* options) {
  SHMPORT_C_REQUIRE(options);
  const shmport::SubscriberOptions d;
  *options = {};
  options->struct_size = sizeof(*options);
  options->slow_subscriber =
      d.slow_subscriber == shmport::SlowSubscriber::kDropOldest
          ? SHMPORT_DROP_OLDEST
          : SHMPORT_BLOCK_PUBLISHER;
  options->queue_depth = d.queue_depth;
  options->history = d.history;
  options->max_segments = d.max_segments;
  options->max_mapped_bytes = d.max_mapped_bytes;
  return SHMPORT_OK;
}

}  // extern "C"
