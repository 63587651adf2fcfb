// The topic metric families (docs/operations.md, "Topics"): topics and
// their subscribers, and per subscription the publisher's counters (lag,
// drops, held chunks and bytes), capped like the per-port series.
#ifndef SHMPORT_SERVER_METRICS_TOPICS_H_
#define SHMPORT_SERVER_METRICS_TOPICS_H_

#include <vector>

#include "prometheus/metric_family.h"
#include "server/metrics_families.h"

namespace shmport::server {

// Per-topic series go to the first snapshot.max_subscription_series topics
// by name, per-subscription series to the first as many subscriptions (by
// subscription id: the oldest); shmport_metrics_topics_omitted and
// shmport_metrics_subscriptions_omitted count the rest.
void AddTopicFamilies(const MetricsSnapshot& snapshot,
                      std::vector<prometheus::MetricFamily>* out);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_METRICS_TOPICS_H_
