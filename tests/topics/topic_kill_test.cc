// Acceptance 3 of issue 14: 100 trials of SIGKILL on a subscriber at a
// random point of its stream. Each time the publisher drops the dead
// one's holds at its EOF; two steady subscribers get every sample intact
// and in order throughout; at the end no chunk is in use.
#include <signal.h>

#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/topics/topic_harness.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

constexpr int kTrials = 100;
constexpr int kSteady = 2;
constexpr uint64_t kMaxSize = 96 * 1024;

bool HasSubscription(Publisher& publisher, uint64_t id) {
  for (const TopicSubscriptionStats& s : publisher.stats().subscriptions) {
    if (s.subscription_id == id) return true;
  }
  return false;
}

TEST(TopicKillTest, KilledSubscribersGiveEverythingBackOthersUnharmed) {
  std::mt19937_64 random(20261202);
  // Every sample size and every trial's timing comes from `random`; the
  // total is fixed so the steady ones know where the stream ends.
  constexpr uint64_t kTotal = kTrials * 130 + 100;
  std::vector<std::unique_ptr<SubscriberProcess>> steady;
  for (int i = 0; i < kSteady; ++i) {
    auto sub = SubscriberProcess::Start([](UniqueFd socket) {
      ReadPlan plan;
      plan.count = kTotal;
      plan.terms.queue_depth = 16;
      return ReadSamples(std::move(socket), plan);
    });
    ASSERT_TRUE(sub.ok()) << sub.status();
    steady.push_back(std::move(*sub));
  }
  PublisherOptions options;
  options.geometry = {16 * 1024, 256};
  options.history = 3;
  auto publisher = NewPublisher(options);
  ASSERT_NE(publisher, nullptr);
  for (int i = 0; i < kSteady; ++i) {
    internal::SubscriptionTerms terms;
    terms.queue_depth = 16;
    Open(Endpoint(*publisher), i + 1, steady[i]->TakeSocket(), terms);
  }
  uint64_t published = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const uint64_t id = 100 + trial;
    const bool block = random() % 2 == 0;
    auto victim = SubscriberProcess::Start([block](UniqueFd socket) {
      ReadPlan plan;
      plan.count = ~uint64_t{0};
      plan.hold = 4;  // dies holding samples
      plan.terms.queue_depth = 8;
      plan.terms.history = 3;
      if (!block) {
        plan.terms.slow_subscriber =
            internal::SubscriptionTerms::SlowSubscriber::kDropOldest;
      }
      return ReadSamples(std::move(socket), plan);
    });
    ASSERT_TRUE(victim.ok()) << victim.status();
    internal::SubscriptionTerms terms;
    terms.queue_depth = 8;
    terms.history = 3;
    if (!block) {
      terms.slow_subscriber =
          internal::SubscriptionTerms::SlowSubscriber::kDropOldest;
    }
    Open(Endpoint(*publisher), id, (*victim)->TakeSocket(), terms);
    const uint64_t before_kill = random() % 120;
    ASSERT_TRUE(PublishSamples(*publisher, before_kill, kMaxSize).ok());
    published += before_kill;
    (*victim)->process().Kill(SIGKILL);
    const uint64_t after_kill = random() % 10;
    ASSERT_TRUE(PublishSamples(*publisher, after_kill, kMaxSize).ok());
    published += after_kill;
    // Its EOF: the subscription and everything it held are gone.
    ASSERT_TRUE(Eventually([&] { return !HasSubscription(*publisher, id); }))
        << "trial " << trial << ": subscription " << id << " outlived "
        << "its subscriber";
  }
  ASSERT_LE(published, kTotal);
  ASSERT_TRUE(PublishSamples(*publisher, kTotal - published, kMaxSize).ok());
  for (int i = 0; i < kSteady; ++i) {
    auto report = steady[i]->Wait(absl::Seconds(30));
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->received, kTotal) << report->error;
    EXPECT_EQ(report->corrupt, 0u);
    EXPECT_EQ(report->out_of_order, 0u);
  }
  // Only the history (the last 3 samples) still holds chunks.
  EXPECT_TRUE(
      Eventually([&] { return publisher->stats().subscriptions.empty(); }));
  uint64_t history_chunks = 0;
  for (uint64_t seq = kTotal - 2; seq <= kTotal; ++seq) {
    const uint64_t size = SizeFor(seq, kMaxSize);
    if (size > options.inline_threshold) {
      history_chunks += (size + options.geometry.chunk_size - 1) /
                        options.geometry.chunk_size;
    }
  }
  const PublisherStats stats = publisher->stats();
  EXPECT_EQ(stats.chunks_in_use, history_chunks);
  EXPECT_EQ(stats.subscriptions_cut_off, 0u);
}

}  // namespace
}  // namespace shmport::testing
