// The publisher's bound on a kBlockPublisher subscriber that stops
// reading: after max_block of waiting for it, Allocate cuts it off with
// the reason and goes on; the others never notice more than that wait.
#include <signal.h>

#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/topics/topic_harness.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSamples = 2000;

TEST(TopicStallTest, StoppedBlockingSubscriberIsCutOffAfterMaxBlock) {
  std::vector<std::unique_ptr<SubscriberProcess>> subs;
  for (int i = 0; i < 3; ++i) {
    const bool stops = i == 2;
    auto sub = SubscriberProcess::Start([stops](UniqueFd socket) {
      ReadPlan plan;
      plan.count = kSamples;
      plan.terms.queue_depth = 4;
      if (stops) {
        plan.on_sample = [](uint64_t n) {
          if (n == 1) ::raise(SIGSTOP);
        };
      }
      return ReadSamples(std::move(socket), plan);
    });
    ASSERT_TRUE(sub.ok()) << sub.status();
    subs.push_back(std::move(*sub));
  }
  PublisherOptions options;
  options.geometry = {4096, 256};
  options.max_block = absl::Milliseconds(300);
  auto publisher = NewPublisher(options);
  for (int i = 0; i < 3; ++i) {
    internal::SubscriptionTerms terms;
    terms.queue_depth = 4;
    Open(Endpoint(*publisher), i + 1, subs[i]->TakeSocket(), terms);
  }
  ASSERT_TRUE(PublishSamples(*publisher, kSamples, 16 * 1024).ok());
  for (int i = 0; i < 2; ++i) {
    auto report = subs[i]->Wait(absl::Seconds(30));
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->received, kSamples) << report->error;
    EXPECT_EQ(report->corrupt, 0u);
    EXPECT_EQ(report->out_of_order, 0u);
  }
  EXPECT_EQ(publisher->stats().subscriptions_cut_off, 1u);
  EXPECT_TRUE(Stopped(subs[2]->pid()));
  subs[2]->process().Kill(SIGCONT);
  auto stalled = subs[2]->Wait(absl::Seconds(30));
  ASSERT_TRUE(stalled.ok()) << stalled.status();
  EXPECT_LT(stalled->received, kSamples);
  EXPECT_THAT(stalled->error, HasSubstr("kept the publisher waiting"));
  EXPECT_THAT(stalled->error, HasSubstr("max_block"));
  EXPECT_TRUE(
      Eventually([&] { return publisher->stats().chunks_in_use == 0; }));
}

}  // namespace
}  // namespace shmport::testing
