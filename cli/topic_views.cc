#include "cli/topic_views.h"

#include "absl/strings/str_cat.h"
#include "cli/human_units.h"
#include "cli/json_schema.h"
#include "cli/table.h"

namespace shmport::cli {
namespace {

using Align = Table::Align;

std::string ModeText(const v1::SubscriptionTerms& t) {
  if (t.slow_subscriber() == v1::SubscriptionTerms::DROP_OLDEST) {
    return absl::StrCat("drop-oldest/", t.queue_depth());
  }
  return "block";
}

// The publisher's counter, or "-" before its first report.
std::string Counter(const v1::TopicSubscriber& s, uint64_t value,
                    bool bytes = false) {
  if (s.subscription_id() == 0 || s.stats().updated_at_unix_ms() == 0) {
    return "-";
  }
  return bytes ? FormatBytes(value) : absl::StrCat(value);
}

Json SubscriberJson(const v1::TopicSubscriber& s) {
  const v1::SubscriptionStats& st = s.stats();
  return Json::Object()
      .Set("subscriber_id", s.subscriber_id())
      .Set("process_id", s.process_id())
      .Set("name", s.name())
      .Set("subscription_id", s.subscription_id())
      .Set("mode",
           s.terms().slow_subscriber() == v1::SubscriptionTerms::DROP_OLDEST
               ? "drop_oldest"
               : "block_publisher")
      .Set("queue_depth", s.terms().queue_depth())
      .Set("history", s.terms().history())
      .Set("subscribed_at_unix_ms", s.subscribed_at_unix_ms())
      .Set("lag", st.lag())
      .Set("samples_delivered", st.samples_delivered())
      .Set("samples_released", st.samples_released())
      .Set("samples_dropped", st.samples_dropped())
      .Set("held_chunks", st.held_chunks())
      .Set("held_bytes", st.held_bytes())
      .Set("updated_at_unix_ms", st.updated_at_unix_ms());
}

}  // namespace

std::string TopicTable(const v1::ListTopicsResponse& topics) {
  Table table({{"topic"},
               {"publisher"},
               {"subscriber"},
               {"sub", Align::kRight},
               {"mode"},
               {"lag", Align::kRight},
               {"delivered", Align::kRight},
               {"dropped", Align::kRight},
               {"held", Align::kRight},
               {"held bytes", Align::kRight}});
  for (const v1::TopicInfo& t : topics.topics()) {
    const std::string publisher =
        t.has_publisher() ? t.publisher().name() : std::string("-");
    if (t.subscribers().empty()) table.AddRow({t.name(), publisher, "-"});
    for (const v1::TopicSubscriber& s : t.subscribers()) {
      const v1::SubscriptionStats& st = s.stats();
      table.AddRow(
          {t.name(), publisher, s.name(),
           s.subscription_id() == 0 ? std::string("-")
                                    : absl::StrCat(s.subscription_id()),
           ModeText(s.terms()), Counter(s, st.lag()),
           Counter(s, st.samples_delivered()), Counter(s, st.samples_dropped()),
           Counter(s, st.held_chunks()),
           Counter(s, st.held_bytes(), /*bytes=*/true)});
    }
  }
  return table.Render();
}

Json TopicsJson(const v1::ListTopicsResponse& topics) {
  Json list = Json::Array();
  for (const v1::TopicInfo& t : topics.topics()) {
    Json subscribers = Json::Array();
    for (const v1::TopicSubscriber& s : t.subscribers()) {
      subscribers.Append(SubscriberJson(s));
    }
    Json publisher;  // null: none
    if (t.has_publisher()) {
      const v1::TopicPublisher& p = t.publisher();
      publisher = Json::Object()
                      .Set("process_id", p.process_id())
                      .Set("name", p.name())
                      .Set("publication_id", p.publication_id())
                      .Set("geometry", GeometryJson(p.geometry()))
                      .Set("history", p.history())
                      .Set("published_at_unix_ms", p.published_at_unix_ms());
    }
    list.Append(Json::Object()
                    .Set("name", t.name())
                    .Set("publisher", std::move(publisher))
                    .Set("subscribers", std::move(subscribers)));
  }
  return Json::Object().Set("topics", std::move(list));
}

}  // namespace shmport::cli
