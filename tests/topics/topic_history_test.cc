// Acceptance 5 of issue 14: a late joiner with history = 5 gets the last 5
// samples, then the live stream, with no gap and no repeat.
#include <atomic>
#include <memory>
#include <thread>

#include "gtest/gtest.h"
#include "tests/topics/topic_harness.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

constexpr uint64_t kMaxSize = 8 * 1024;  // inline and shared samples

internal::SubscriptionTerms WithHistory(uint32_t n) {
  internal::SubscriptionTerms terms;
  terms.queue_depth = 16;
  terms.history = n;
  return terms;
}

std::unique_ptr<SubscriberProcess> Joiner(uint64_t count, uint32_t history) {
  auto sub = SubscriberProcess::Start([count, history](UniqueFd socket) {
    ReadPlan plan;
    plan.count = count;
    plan.terms = WithHistory(history);
    return ReadSamples(std::move(socket), plan);
  });
  return sub.ok() ? std::move(*sub) : nullptr;
}

std::unique_ptr<Publisher> PublisherWithHistory(uint32_t history) {
  PublisherOptions options;
  options.geometry = {4096, 256};
  options.history = history;
  return NewPublisher(options);
}

TEST(TopicHistoryTest, LateJoinerGetsTheLastFiveThenTheLiveStream) {
  auto joiner = Joiner(5 + 20, 5);
  ASSERT_NE(joiner, nullptr);
  auto publisher = PublisherWithHistory(5);
  ASSERT_TRUE(PublishSamples(*publisher, 20, kMaxSize).ok());
  Open(Endpoint(*publisher), 1, joiner->TakeSocket(), WithHistory(5));
  ASSERT_TRUE(PublishSamples(*publisher, 20, kMaxSize).ok());
  auto report = joiner->Wait(absl::Seconds(30));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->first_sequence, 16u);  // 16..20, then 21..40
  EXPECT_EQ(report->last_sequence, 40u);
  EXPECT_EQ(report->received, 25u) << report->error;
  EXPECT_EQ(report->out_of_order, 0u);
  EXPECT_EQ(report->corrupt, 0u);
}

TEST(TopicHistoryTest, JoinerGetsAtMostWhatWasPublished) {
  auto joiner = Joiner(3 + 2, 5);
  ASSERT_NE(joiner, nullptr);
  auto publisher = PublisherWithHistory(5);
  ASSERT_TRUE(PublishSamples(*publisher, 3, kMaxSize).ok());
  Open(Endpoint(*publisher), 1, joiner->TakeSocket(), WithHistory(5));
  ASSERT_TRUE(PublishSamples(*publisher, 2, kMaxSize).ok());
  auto report = joiner->Wait(absl::Seconds(30));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->first_sequence, 1u);
  EXPECT_EQ(report->last_sequence, 5u);
  EXPECT_EQ(report->out_of_order, 0u);
}

TEST(TopicHistoryTest, JoinerAskingForLessGetsLess) {
  auto joiner = Joiner(2 + 1, 2);
  ASSERT_NE(joiner, nullptr);
  auto publisher = PublisherWithHistory(5);
  ASSERT_TRUE(PublishSamples(*publisher, 10, kMaxSize).ok());
  Open(Endpoint(*publisher), 1, joiner->TakeSocket(), WithHistory(2));
  ASSERT_TRUE(PublishSamples(*publisher, 1, kMaxSize).ok());
  auto report = joiner->Wait(absl::Seconds(30));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->first_sequence, 9u);
  EXPECT_EQ(report->last_sequence, 11u);
}

// Joining while another thread publishes: the history and the live stream
// meet without a gap or a repeat wherever the join falls.
TEST(TopicHistoryTest, JoinDuringPublishingHasNoGapNoRepeat) {
  constexpr uint64_t kTotal = 3000;
  auto joiner = SubscriberProcess::Start([](UniqueFd socket) {
    ReadPlan plan;
    plan.last_sequence = kTotal;
    plan.terms = WithHistory(5);
    return ReadSamples(std::move(socket), plan);
  });
  ASSERT_TRUE(joiner.ok());
  auto publisher = PublisherWithHistory(5);
  std::atomic<bool> ok{true};
  std::thread writer(
      [&] { ok = PublishSamples(*publisher, kTotal, kMaxSize).ok(); });
  ASSERT_TRUE(
      Eventually([&] { return publisher->stats().samples_published > 500; }));
  Open(Endpoint(*publisher), 1, (*joiner)->TakeSocket(), WithHistory(5));
  writer.join();
  ASSERT_TRUE(ok);
  auto report = (*joiner)->Wait(absl::Seconds(30));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->first_sequence, 500u - 5u);
  EXPECT_EQ(report->last_sequence, kTotal);
  EXPECT_EQ(report->received, kTotal - report->first_sequence + 1);
  EXPECT_EQ(report->out_of_order, 0u);
  EXPECT_EQ(report->corrupt, 0u);
}

}  // namespace
}  // namespace shmport::testing
