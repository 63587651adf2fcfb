#include "server/topic_registry.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::TopicPublisher PublisherOf(uint64_t process) {
  v1::TopicPublisher p;
  p.set_process_id(process);
  p.set_name(absl::StrCat("p", process));
  return p;
}

v1::TopicSubscriber SubscriberOf(uint64_t process) {
  v1::TopicSubscriber s;
  s.set_process_id(process);
  s.set_name(absl::StrCat("s", process));
  return s;
}

TEST(TopicRegistryTest, ASecondPublisherIsAlreadyExistsNamingTheFirst) {
  TopicRegistry r;
  ASSERT_TRUE(r.AddPublisher("cam", PublisherOf(1)).ok());
  auto second = r.AddPublisher("cam", PublisherOf(2));
  ASSERT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.status().message(), HasSubstr("'p1' (id 1)"));
  EXPECT_EQ(r.HoldingsOf(2).publications, 0u);
}

TEST(TopicRegistryTest,
     SubscribersWaitUntilPairedAndWaitAgainWhenThePublisherGoes) {
  TopicRegistry r;
  const uint64_t sub = r.AddSubscriber("cam", SubscriberOf(5))->subscriber_id();
  EXPECT_EQ(r.Pair(sub), 0u) << "no publisher: nothing to pair with";
  const uint64_t pub =
      (*r.AddPublisher("cam", PublisherOf(1)))->publication_id();
  const uint64_t subscription = r.Pair(sub);
  ASSERT_NE(subscription, 0u);
  EXPECT_EQ(r.Pair(sub), 0u) << "already paired";
  EXPECT_EQ(r.subscription_count(), 1u);
  auto gone = r.RemovePublisher(pub);
  ASSERT_TRUE(gone.has_value());
  ASSERT_EQ(gone->paired.size(), 1u);
  EXPECT_EQ(gone->paired[0].subscription_id(), subscription);
  EXPECT_EQ(r.subscription_count(), 0u);
  ASSERT_NE(r.Find("cam"), nullptr) << "the subscriber keeps the topic";
  EXPECT_EQ(r.Find("cam")->subscribers(0).subscription_id(), 0u);
}

TEST(TopicRegistryTest, OnlyThePublisherMayReportASubscriptionsStats) {
  TopicRegistry r;
  r.AddPublisher("cam", PublisherOf(1)).IgnoreError();
  const uint64_t sub = r.AddSubscriber("cam", SubscriberOf(5))->subscriber_id();
  const uint64_t subscription = r.Pair(sub);
  v1::SubscriptionStats stats;
  stats.set_lag(9);
  EXPECT_FALSE(r.SetStats(5, subscription, stats)) << "the subscriber";
  EXPECT_FALSE(r.SetStats(1, subscription + 100, stats)) << "unknown id";
  EXPECT_TRUE(r.SetStats(1, subscription, stats));
  EXPECT_EQ(r.Find("cam")->subscribers(0).stats().lag(), 9u);
}

TEST(TopicRegistryTest, TheLastToLeaveForgetsTheTopicAndItsCounts) {
  TopicRegistry r;
  const uint64_t pub =
      (*r.AddPublisher("cam", PublisherOf(1)))->publication_id();
  const uint64_t a = r.AddSubscriber("cam", SubscriberOf(5))->subscriber_id();
  const uint64_t b = r.AddSubscriber("cam", SubscriberOf(5))->subscriber_id();
  EXPECT_EQ(r.HoldingsOf(5).subscribers, 2u);
  EXPECT_THAT(r.SubscribersOf(5), ElementsAre(a, b));
  EXPECT_THAT(r.PublicationsOf(1), ElementsAre(pub));
  r.Pair(a);
  auto left = r.RemoveSubscriber(a);
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->publisher_process_id, 1u);
  EXPECT_NE(left->subscriber.subscription_id(), 0u);
  EXPECT_EQ(r.subscription_count(), 0u);
  ASSERT_TRUE(r.RemoveSubscriber(b).has_value());
  ASSERT_TRUE(r.RemovePublisher(pub).has_value());
  EXPECT_EQ(r.topic_count(), 0u);
  EXPECT_EQ(r.HoldingsOf(5).subscribers, 0u);
  EXPECT_FALSE(r.RemovePublisher(pub).has_value()) << "ids are not reused";
  EXPECT_EQ(r.FindBySubscriber(a), nullptr);
}

}  // namespace
}  // namespace shmport::server
