// What a Session asks the daemon for when it publishes or subscribes to a
// topic, and what the daemon grants (control.proto PublishRequest /
// SubscribeRequest). Internal to libshmport: the data plane
// (client/session_topics.cc) fills these from PublisherOptions and
// SubscriberOptions and hands them to SessionCore::Publish / Subscribe.
#ifndef SHMPORT_CLIENT_TOPIC_REQUESTS_H_
#define SHMPORT_CLIENT_TOPIC_REQUESTS_H_

#include <cstdint>

#include "client/topic_endpoint.h"

namespace shmport::internal {

// The publisher's segments. Zero fields take the daemon's defaults; the
// others are clamped to its limits, as a port's geometry.
struct PublicationRequest {
  uint32_t chunk_size = 0;
  uint32_t chunk_count = 0;
  uint32_t max_segments = 0;
  // Samples to keep for late joiners (at most limits.max_topic_history).
  uint32_t history = 0;
};

// What Publish was granted. The same numbers reach every subscriber with
// its SubscriptionOpened, so that it can refuse a publisher that maps
// more.
struct PublicationGrant {
  uint64_t publication_id = 0;  // the daemon's handle, for Unpublish
  uint32_t chunk_size = 0;
  uint32_t chunk_count = 0;
  uint32_t max_segments = 0;
  uint64_t max_bytes = 0;  // of all segments together
  uint32_t history = 0;
};

// A subscriber asks for these terms; the daemon answers the same terms or
// refuses them (RESOURCE_EXHAUSTED naming the limit). queue_depth 0 with
// kDropOldest takes the daemon's default (16).
using SubscriptionRequest = SubscriptionTerms;

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_REQUESTS_H_
