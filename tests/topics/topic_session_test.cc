// Topics through a real shmportd: Session::Publish and Session::Subscribe
// in separate processes, the daemon pairing them with a socketpair per
// subscriber (issue 14's acceptance through the whole stack).
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "shmport/session.h"
#include "shmport/topic.h"
#include "tests/control/daemon_process.h"
#include "tests/topics/topic_harness.h"
#include "tests/util/eventually.h"
#include "tests/util/fd_wait.h"
#include "tests/util/piped_child.h"

namespace shmport::testing {
namespace {

constexpr char kTopic[] = "cam/front";
constexpr uint64_t kSamples = 2000;
constexpr uint64_t kMaxSize = 48 * 1024;

// A subscriber process: reads the daemon's address from `control` (its
// harness socket), subscribes through a Session, says "subscribed", then
// reads kSamples and reports.
SubscriberReport SessionSubscriber(UniqueFd control, int index,
                                   SubscriberOptions options) {
  SubscriberReport report;
  char address[512] = {};
  const ssize_t n = ::recv(control.get(), address, sizeof(address) - 1, 0);
  if (n <= 0) return report;
  SessionOptions o;
  o.name = absl::StrCat("sub-", index);
  o.address = std::string(address, n);
  auto session = Session::Connect(o);
  if (!session.ok()) {
    report.error_code = static_cast<int>(session.status().code());
    return report;
  }
  auto subscriber = (*session)->Subscribe(kTopic, options);
  if (!subscriber.ok()) {
    report.error_code = static_cast<int>(subscriber.status().code());
    return report;
  }
  (void)::send(control.get(), "s", 1, 0);
  ReadPlan plan;
  plan.count = kSamples;
  ReadFrom([&](absl::Duration t) { return (*subscriber)->Receive(t); },
           [&] { return (*subscriber)->stats().samples_missed; }, plan,
           &report);
  return report;
}

bool WaitByte(int fd) {
  char c;
  return WaitReadable(fd, absl::Now() + absl::Seconds(30)) &&
         ::recv(fd, &c, 1, 0) == 1;
}

TEST(TopicSessionTest, ThreeSubscriberProcessesThroughTheDaemon) {
  constexpr int kSubscribers = 3;
  // Children first: the test process has no gRPC or thread yet.
  std::vector<std::unique_ptr<SubscriberProcess>> subs;
  std::vector<UniqueFd> controls;
  for (int i = 0; i < kSubscribers; ++i) {
    SubscriberOptions options;
    options.queue_depth = 16;
    auto sub = SubscriberProcess::Start([i, options](UniqueFd control) {
      return SessionSubscriber(std::move(control), i, options);
    });
    ASSERT_TRUE(sub.ok()) << sub.status();
    controls.push_back((*sub)->TakeSocket());
    subs.push_back(std::move(*sub));
  }
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  for (auto& c : controls) {
    ASSERT_GT(::send(c.get(), (*daemon)->address().data(),
                     (*daemon)->address().size(), 0),
              0);
  }
  for (auto& c : controls) ASSERT_TRUE(WaitByte(c.get()));
  SessionOptions o;
  o.name = "camera";
  o.address = (*daemon)->address();
  auto session = Session::Connect(o);
  ASSERT_TRUE(session.ok()) << session.status();
  PublisherOptions options;
  options.geometry = {16 * 1024, 256};
  auto publisher = (*session)->Publish(kTopic, options);
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  ASSERT_TRUE(Eventually(
      [&] {
        return (*publisher)->stats().subscriptions.size() == kSubscribers;
      },
      absl::Seconds(20)))
      << (*publisher)->stats().subscriptions.size() << " subscriptions";
  ASSERT_TRUE(PublishSamples(**publisher, kSamples, kMaxSize).ok());
  for (auto& sub : subs) {
    auto report = sub->Wait(absl::Seconds(30));
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->received, kSamples)
        << report->error << " (code " << report->error_code << ")";
    EXPECT_EQ(report->corrupt, 0u);
    EXPECT_EQ(report->out_of_order, 0u);
  }
  // The subscribers exited: the daemon closed their subscriptions or their
  // EOF did; either way nothing is held.
  EXPECT_TRUE(Eventually([&] {
    return (*publisher)->stats().chunks_in_use == 0 &&
           (*publisher)->stats().subscriptions.empty();
  }));
}

TEST(TopicSessionTest, SecondPublisherOfATopicIsRefused) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  SessionOptions o;
  o.address = (*daemon)->address();
  o.name = "first";
  auto first = Session::Connect(o);
  ASSERT_TRUE(first.ok()) << first.status();
  o.name = "second";
  auto second = Session::Connect(o);
  ASSERT_TRUE(second.ok()) << second.status();
  auto p1 = (*first)->Publish(kTopic);
  ASSERT_TRUE(p1.ok()) << p1.status();
  auto p2 = (*second)->Publish(kTopic);
  ASSERT_FALSE(p2.ok());
  EXPECT_EQ(p2.status().code(), absl::StatusCode::kAlreadyExists)
      << p2.status();
}

}  // namespace
}  // namespace shmport::testing
