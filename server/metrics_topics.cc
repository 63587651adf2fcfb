#include "server/metrics_topics.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace shmport::server {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

struct Paired {
  const v1::TopicInfo* topic;
  const v1::TopicSubscriber* subscriber;
};

struct SubscriptionFamily {
  const char* name;
  const char* help;
  MetricType type;
  uint64_t (*value)(const v1::SubscriptionStats&);
};

constexpr SubscriptionFamily kSubscriptionFamilies[] = {
    {"shmport_subscription_lag",
     "Samples published to the subscription and not yet released by the "
     "subscriber, as its publisher last reported.",
     MetricType::Gauge, [](const v1::SubscriptionStats& s) { return s.lag(); }},
    {"shmport_subscription_samples_delivered_total",
     "Samples the publisher delivered to the subscription.",
     MetricType::Counter,
     [](const v1::SubscriptionStats& s) { return s.samples_delivered(); }},
    {"shmport_subscription_samples_dropped_total",
     "DROP_OLDEST: samples replaced before the subscriber took them.",
     MetricType::Counter,
     [](const v1::SubscriptionStats& s) { return s.samples_dropped(); }},
    {"shmport_subscription_held_chunks",
     "Publisher chunks the subscriber's holds keep from the pool.",
     MetricType::Gauge,
     [](const v1::SubscriptionStats& s) { return s.held_chunks(); }},
    {"shmport_subscription_held_bytes", "Bytes of those chunks.",
     MetricType::Gauge,
     [](const v1::SubscriptionStats& s) { return s.held_bytes(); }},
};

void AddPerTopic(const MetricsSnapshot& s, std::vector<MetricFamily>* out) {
  const size_t cap = s.max_subscription_series;
  const size_t n = std::min<size_t>(s.topics.topics_size(), cap);
  MetricFamily subscribers =
      Family("shmport_topic_subscribers",
             "Subscribers of the topic (paired with its publisher or "
             "waiting for one).",
             MetricType::Gauge);
  MetricFamily publisher =
      Family("shmport_topic_publisher",
             "1 when the topic has a publisher, else 0.", MetricType::Gauge);
  for (size_t i = 0; i < n; ++i) {
    const v1::TopicInfo& t = s.topics.topics(static_cast<int>(i));
    AddSample(&subscribers, t.subscribers_size(), {{"topic", t.name()}});
    AddSample(&publisher, t.has_publisher() ? 1 : 0,
              {{"topic", t.name()}, {"publisher", t.publisher().name()}});
  }
  out->push_back(std::move(subscribers));
  out->push_back(std::move(publisher));
  out->push_back(Single("shmport_metrics_topics_omitted",
                        "Topics left out of the per-topic series "
                        "(metrics.max_subscription_series reached).",
                        MetricType::Gauge, s.topics.topics_size() - n));
}

}  // namespace

void AddTopicFamilies(const MetricsSnapshot& s,
                      std::vector<MetricFamily>* out) {
  out->push_back(Single("shmport_topics", "Topics the daemon holds.",
                        MetricType::Gauge, s.topics.topics_size()));
  AddPerTopic(s, out);
  std::vector<Paired> paired;
  for (const v1::TopicInfo& t : s.topics.topics()) {
    for (const v1::TopicSubscriber& sub : t.subscribers()) {
      if (sub.subscription_id() != 0) paired.push_back({&t, &sub});
    }
  }
  std::sort(paired.begin(), paired.end(), [](const Paired& x, const Paired& y) {
    return x.subscriber->subscription_id() < y.subscriber->subscription_id();
  });
  out->push_back(Single("shmport_subscriptions",
                        "Subscriptions open (publisher and subscriber paired).",
                        MetricType::Gauge, paired.size()));
  const size_t omitted = paired.size() > s.max_subscription_series
                             ? paired.size() - s.max_subscription_series
                             : 0;
  paired.resize(paired.size() - omitted);
  for (const SubscriptionFamily& sf : kSubscriptionFamilies) {
    MetricFamily family = Family(sf.name, sf.help, sf.type);
    for (const Paired& p : paired) {
      AddSample(
          &family, static_cast<double>(sf.value(p.subscriber->stats())),
          {{"topic", p.topic->name()},
           {"subscription_id", absl::StrCat(p.subscriber->subscription_id())},
           {"publisher", p.topic->publisher().name()},
           {"subscriber", p.subscriber->name()}});
    }
    out->push_back(std::move(family));
  }
  out->push_back(Single("shmport_metrics_subscriptions_omitted",
                        "Subscriptions left out of the per-subscription series "
                        "(metrics.max_subscription_series reached).",
                        MetricType::Gauge, omitted));
}

}  // namespace shmport::server
