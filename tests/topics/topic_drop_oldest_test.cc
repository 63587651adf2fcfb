// Acceptance 2 of issue 14: with kDropOldest, a stopped subscriber (SIGSTOP)
// costs the publisher and the other subscribers nothing but its own queue,
// and once resumed it reports exactly how many samples it missed. The
// rates with and without the stopped one are measured here and reported,
// not asserted (the machine is shared).
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/topics/topic_harness.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

constexpr int kOthers = 3;
constexpr uint64_t kSamples = 20'000;
constexpr uint64_t kMaxSize = 16 * 1024;
constexpr uint32_t kDepth = 8;

internal::SubscriptionTerms DropOldest() {
  internal::SubscriptionTerms terms;
  terms.slow_subscriber =
      internal::SubscriptionTerms::SlowSubscriber::kDropOldest;
  terms.queue_depth = kDepth;
  return terms;
}

ReadPlan UntilTheLast() {
  ReadPlan plan;
  plan.last_sequence = kSamples;
  plan.terms = DropOldest();
  plan.measure_from = 2;
  return plan;
}

struct Rates {
  double publisher_rate = 0;             // samples/s
  std::vector<double> subscriber_rates;  // of the others
};

// Publishes kSamples to kOthers subscribers, plus one that stops itself at
// its first sample when `with_stopped`.
Rates PublishTo(bool with_stopped) {
  Rates run;
  std::vector<std::unique_ptr<SubscriberProcess>> subs;
  for (int i = 0; i < kOthers + (with_stopped ? 1 : 0); ++i) {
    const bool stops = i == kOthers;
    auto sub = SubscriberProcess::Start([stops](UniqueFd socket) {
      ReadPlan plan = UntilTheLast();
      if (stops) {
        plan.on_sample = [](uint64_t n) {
          if (n == 1) ::raise(SIGSTOP);
        };
      }
      return ReadSamples(std::move(socket), plan);
    });
    EXPECT_TRUE(sub.ok()) << sub.status();
    if (!sub.ok()) return run;
    subs.push_back(std::move(*sub));
  }
  PublisherOptions options;
  options.geometry = {16 * 1024, 256};
  auto publisher = NewPublisher(options);
  for (size_t i = 0; i < subs.size(); ++i) {
    Open(Endpoint(*publisher), i + 1, subs[i]->TakeSocket(), DropOldest());
  }
  // Sample 1, which the stopping one stops at; the rate counts from 2.
  EXPECT_TRUE(PublishSamples(*publisher, 1, kMaxSize).ok());
  if (with_stopped) {
    EXPECT_TRUE(Eventually([&] { return Stopped(subs[kOthers]->pid()); },
                           absl::Seconds(20)));
  }
  const absl::Time start = absl::Now();
  const uint64_t rest = kSamples - 1;
  EXPECT_TRUE(PublishSamples(*publisher, rest, kMaxSize).ok());
  run.publisher_rate = rest / absl::ToDoubleSeconds(absl::Now() - start);
  for (int i = 0; i < kOthers; ++i) {
    auto report = subs[i]->Wait(absl::Seconds(30));
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) continue;
    EXPECT_EQ(report->received + report->missed, kSamples) << report->error;
    EXPECT_EQ(report->corrupt, 0u);
    EXPECT_EQ(report->out_of_order, 0u);
    run.subscriber_rates.push_back(report->measured /
                                   (report->elapsed_us / 1e6));
  }
  if (with_stopped) {
    EXPECT_TRUE(Stopped(subs[kOthers]->pid()));  // still, all along
    subs[kOthers]->process().Kill(SIGCONT);
    auto report = subs[kOthers]->Wait(absl::Seconds(30));
    EXPECT_TRUE(report.ok()) << report.status();
    if (report.ok()) {
      // Exactly: every sample it did not get, it was told of.
      EXPECT_GT(report->missed, 0u);
      EXPECT_EQ(report->received + report->missed, kSamples) << report->error;
      EXPECT_EQ(report->out_of_order, 0u);
      EXPECT_EQ(report->corrupt, 0u);
      // What it kept: its window in flight, then the newest queue_depth.
      EXPECT_LE(report->received, 1 + 2 * kDepth);
      std::cerr << "stopped subscriber: received " << report->received
                << ", told it missed " << report->missed << "\n";
    }
  }
  EXPECT_TRUE(
      Eventually([&] { return publisher->stats().chunks_in_use == 0; }));
  return run;
}

TEST(TopicDropOldestTest, StoppedSubscriberMissesOnlyItsOwnAndIsToldHowMany) {
  const Rates alone = PublishTo(false);
  const Rates with_stopped = PublishTo(true);
  std::cerr << "publisher: " << alone.publisher_rate
            << " samples/s without the stopped subscriber, "
            << with_stopped.publisher_rate << " with it ("
            << 100.0 * with_stopped.publisher_rate / alone.publisher_rate
            << "%)\n";
  for (size_t i = 0; i < alone.subscriber_rates.size() &&
                     i < with_stopped.subscriber_rates.size();
       ++i) {
    std::cerr << "subscriber " << i << ": " << alone.subscriber_rates[i]
              << " -> " << with_stopped.subscriber_rates[i] << " samples/s\n";
  }
}

}  // namespace
}  // namespace shmport::testing
