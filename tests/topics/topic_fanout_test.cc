// Acceptance 1 of issue 14: one publisher, 8 subscriber processes, 100,000
// samples with kBlockPublisher; every subscriber gets every sample intact
// and in order; afterwards no chunk is in use and no fd or mapping is left
// in any process.
//
// Built twice. topic_fanout_full_test (SHMPORT_FANOUT_FULL_SIZES) takes
// the sizes, uniform in [0, 4 MiB]: a 2 MiB mean, ~200 GB written
// and ~1.6 TB read by the 8 subscribers, minutes on 2 cores, so it runs in
// the plain phase only. topic_fanout_test, which the sanitizer phases run
// too, keeps the 100,000 samples and the 4 MiB top of the range but bounds
// the mean: sizes are uniform in [0, 32 KiB] (inline and shared) except
// every 1,000th sample, which is 4 MiB (a whole 64-chunk run). Mean ~= 20
// KiB.
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/topics/topic_harness.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr int kSubscribers = 8;
constexpr uint64_t kSamples = 100'000;
constexpr uint64_t kLarge = 4 * 1024 * 1024;

#ifdef SHMPORT_FANOUT_FULL_SIZES
uint64_t FanoutSize(uint64_t sequence) { return SizeFor(sequence, kLarge); }
#else
constexpr uint64_t kMaxSmall = 32 * 1024;
uint64_t FanoutSize(uint64_t sequence) {
  return sequence % 1000 == 0 ? kLarge : SizeFor(sequence, kMaxSmall);
}
#endif

TEST(TopicFanoutTest, EightSubscribersGetAHundredThousandSamplesInOrder) {
  ProcessCensus census;
  std::vector<std::unique_ptr<SubscriberProcess>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    auto sub = SubscriberProcess::Start([](UniqueFd socket) {
      ReadPlan plan;
      plan.count = kSamples;
      plan.terms.queue_depth = 32;
      plan.hold = 3;  // keep a few samples, as a real reader might
      return ReadSamples(std::move(socket), plan);
    });
    ASSERT_TRUE(sub.ok()) << sub.status();
    subs.push_back(std::move(*sub));
  }
  PublisherOptions options;
  options.geometry = {64 * 1024, 128};  // 8 MiB per segment
  options.max_segments = 4;
  auto publisher = NewPublisher(options);
  ASSERT_NE(publisher, nullptr);
  for (int i = 0; i < kSubscribers; ++i) {
    internal::SubscriptionTerms terms;
    terms.queue_depth = 32;
    Open(Endpoint(*publisher), i + 1, subs[i]->TakeSocket(), terms);
  }
  const absl::Time start = absl::Now();
  for (uint64_t seq = 1; seq <= kSamples; ++seq) {
    auto buffer = publisher->Allocate(FanoutSize(seq), absl::Seconds(30));
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    FillPayload(seq, buffer->span());
    auto published = publisher->Publish(std::move(*buffer));
    ASSERT_TRUE(published.ok()) << published.status();
    ASSERT_EQ(*published, seq);
  }
  for (int i = 0; i < kSubscribers; ++i) {
    auto report = subs[i]->Wait(absl::Seconds(60));
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->received, kSamples) << report->error;
    EXPECT_EQ(report->first_sequence, 1u);
    EXPECT_EQ(report->last_sequence, kSamples);
    EXPECT_EQ(report->corrupt, 0u);
    EXPECT_EQ(report->out_of_order, 0u);
    EXPECT_EQ(report->fds_left, 0) << "subscriber " << i;
    EXPECT_EQ(report->mappings_left, 0) << "subscriber " << i;
  }
  const absl::Duration elapsed = absl::Now() - start;
  // Every subscriber exited: their EOF gave back whatever they held.
  EXPECT_TRUE(Eventually([&] { return publisher->stats().chunks_in_use == 0; }))
      << publisher->stats().chunks_in_use << " chunks still in use";
  EXPECT_EQ(publisher->stats().subscriptions_cut_off, 0u);
  std::cerr << kSamples << " samples to " << kSubscribers << " subscribers in "
            << elapsed << "\n";
  publisher.reset();
  subs.clear();  // their report pipes
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0) << census.Describe();
}

}  // namespace
}  // namespace shmport::testing
