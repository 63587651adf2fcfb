// Topics' control plane end to end (issue 14): a real shmportd, real
// processes with real Sessions whose TopicEndpoints record what the daemon
// hands them (tests/control/topic_client.h), and raw registrations for
// the policy, the limits and the attacks.
#include <signal.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/control/topic_client.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kTopic[] = "camera/front";

uint64_t Number(const std::string& s) {
  uint64_t n = 0;
  EXPECT_TRUE(absl::SimpleAtoi(s, &n)) << s;
  return n;
}

// The handle from an "OK <handle>" answer.
uint64_t Handle(const absl::StatusOr<std::string>& answer) {
  EXPECT_TRUE(answer.ok()) << answer.status();
  if (!answer.ok()) return 0;
  EXPECT_THAT(*answer, StartsWith("OK "));
  return answer->size() > 3 ? Number(answer->substr(3)) : 0;
}

v1::TopicInfo Topic(DaemonProcess& daemon, const std::string& name) {
  v1::ListTopicsRequest request;
  request.set_topic(name);
  v1::ListTopicsResponse response;
  const grpc::Status s =
      daemon.NewStub()->ListTopics(Context().get(), request, &response);
  if (!s.ok() || response.topics_size() != 1) return v1::TopicInfo();
  return response.topics(0);
}

struct Opened {
  uint64_t subscription_id = 0;
  pid_t peer_pid = 0;
  std::string peer_name;
  std::string topic;
};

Opened NextOpened(TopicClient& client) {
  absl::StatusOr<std::vector<std::string>> f = client.NextNotice("OPENED");
  EXPECT_TRUE(f.ok()) << f.status();
  if (!f.ok() || f->size() != 6) return {};
  return {Number((*f)[1]), static_cast<pid_t>(Number((*f)[2])), (*f)[3],
          (*f)[5]};
}

class TopicsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto daemon = DaemonProcess::Start();
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
  }
  TopicClient Client(const std::string& name) {
    auto client = TopicClient::Start(name, daemon_->address());
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(TopicsTest, WaitingSubscribersArePairedOverOneSocketpairEach) {
  std::vector<TopicClient> subscribers;
  for (int i = 0; i < 3; ++i) {
    subscribers.push_back(Client(absl::StrCat("viewer-", i)));
    Handle(subscribers.back().Call(absl::StrCat("subscribe ", kTopic)));
  }
  v1::TopicInfo waiting = Topic(*daemon_, kTopic);
  EXPECT_FALSE(waiting.has_publisher());
  ASSERT_EQ(waiting.subscribers_size(), 3);
  for (const auto& s : waiting.subscribers()) EXPECT_EQ(s.subscription_id(), 0);

  TopicClient publisher = Client("camera");
  Handle(publisher.Call(absl::StrCat("publish ", kTopic)));
  std::map<pid_t, uint64_t> publisher_sees;  // subscriber pid -> id
  for (int i = 0; i < 3; ++i) {
    const Opened o = NextOpened(publisher);
    EXPECT_EQ(o.topic, kTopic);
    publisher_sees[o.peer_pid] = o.subscription_id;
  }
  for (int i = 0; i < 3; ++i) {
    TopicClient& sub = subscribers[i];
    const Opened o = NextOpened(sub);
    EXPECT_EQ(o.peer_pid, publisher.pid());
    EXPECT_EQ(o.peer_name, "camera");
    ASSERT_EQ(publisher_sees[sub.pid()], o.subscription_id);
    const std::string id = absl::StrCat(o.subscription_id);
    // The two ends of one socketpair: bytes cross, and the kernel names
    // the other process.
    EXPECT_EQ(*publisher.Call(absl::StrCat("send ", id, " hello-", i)), "OK");
    EXPECT_EQ(*sub.Call("recv " + id), absl::StrCat("GOT hello-", i));
    EXPECT_EQ(*sub.Call(absl::StrCat("send ", id, " back-", i)), "OK");
    EXPECT_EQ(*publisher.Call("recv " + id), absl::StrCat("GOT back-", i));
    // SO_PEERCRED would name the daemon, which made the pair; the kernel's
    // stamp on each datagram names the process at the other end.
    EXPECT_EQ(*sub.Call("passcred " + id), "OK");
    EXPECT_EQ(*publisher.Call(absl::StrCat("send ", id, " stamped")), "OK");
    EXPECT_EQ(*sub.Call("recvfrom " + id),
              absl::StrCat("FROM ", publisher.pid(), " stamped"));
    EXPECT_EQ(*publisher.Call("passcred " + id), "OK");
    EXPECT_EQ(*sub.Call(absl::StrCat("send ", id, " stamped")), "OK");
    EXPECT_EQ(*publisher.Call("recvfrom " + id),
              absl::StrCat("FROM ", sub.pid(), " stamped"));
  }
  const v1::TopicInfo paired = Topic(*daemon_, kTopic);
  EXPECT_EQ(paired.publisher().name(), "camera");
  for (const auto& s : paired.subscribers()) EXPECT_NE(s.subscription_id(), 0);
}

TEST_F(TopicsTest, ASecondPublisherIsAlreadyExistsNamingTheHolder) {
  TopicClient first = Client("camera");
  Handle(first.Call(absl::StrCat("publish ", kTopic)));
  TopicClient second = Client("impostor");
  absl::StatusOr<std::string> refused =
      second.Call(absl::StrCat("publish ", kTopic));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_THAT(*refused, StartsWith("ERR ALREADY_EXISTS"));
  EXPECT_THAT(*refused, HasSubstr("'camera'"));
}

TEST_F(TopicsTest, APublisherLeavingClosesItsSubscriptionsAndTheNextPairs) {
  std::vector<TopicClient> subscribers;
  for (int i = 0; i < 2; ++i) {
    subscribers.push_back(Client(absl::StrCat("viewer-", i)));
    Handle(subscribers.back().Call(absl::StrCat("subscribe ", kTopic)));
  }
  TopicClient first = Client("camera-1");
  const uint64_t publication =
      Handle(first.Call(absl::StrCat("publish ", kTopic)));
  std::vector<uint64_t> first_ids;
  for (TopicClient& sub : subscribers) {
    first_ids.push_back(NextOpened(sub).subscription_id);
  }
  EXPECT_EQ(*first.Call(absl::StrCat("unpublish ", publication)), "OK");
  for (size_t i = 0; i < subscribers.size(); ++i) {
    auto closed = subscribers[i].NextNotice("CLOSED");
    ASSERT_TRUE(closed.ok()) << closed.status();
    EXPECT_EQ(Number((*closed)[1]), first_ids[i]);
    EXPECT_THAT((*closed)[3], HasSubstr("unpublished"));
  }
  EXPECT_FALSE(Topic(*daemon_, kTopic).has_publisher());

  // The subscribers stayed subscribed: the next publisher meets them, and
  // its death closes them again.
  TopicClient second = Client("camera-2");
  Handle(second.Call(absl::StrCat("publish ", kTopic)));
  for (size_t i = 0; i < subscribers.size(); ++i) {
    const Opened o = NextOpened(subscribers[i]);
    EXPECT_EQ(o.peer_pid, second.pid());
    EXPECT_NE(o.subscription_id, first_ids[i]);
  }
  second.child().process().Kill(SIGKILL);
  for (TopicClient& sub : subscribers) {
    auto closed = sub.NextNotice("CLOSED");
    ASSERT_TRUE(closed.ok()) << closed.status();
    EXPECT_THAT((*closed)[3], HasSubstr("'camera-2'"));
  }
}

TEST_F(TopicsTest, AKilledSubscriberLeavesTheTopicAndThePublisherHearsIt) {
  TopicClient publisher = Client("camera");
  Handle(publisher.Call(absl::StrCat("publish ", kTopic)));
  TopicClient doomed = Client("viewer-0");
  TopicClient survivor = Client("viewer-1");
  Handle(doomed.Call(absl::StrCat("subscribe ", kTopic)));
  Handle(survivor.Call(absl::StrCat("subscribe ", kTopic)));
  const uint64_t doomed_id = NextOpened(doomed).subscription_id;
  NextOpened(survivor);
  ASSERT_EQ(Topic(*daemon_, kTopic).subscribers_size(), 2);

  doomed.child().process().Kill(SIGKILL);
  for (;;) {
    auto closed = publisher.NextNotice("CLOSED");
    ASSERT_TRUE(closed.ok()) << closed.status();
    if (Number((*closed)[1]) != doomed_id) continue;
    EXPECT_THAT((*closed)[3], HasSubstr("'viewer-0'"));
    break;
  }
  const v1::TopicInfo left = Topic(*daemon_, kTopic);
  ASSERT_EQ(left.subscribers_size(), 1);
  EXPECT_EQ(left.subscribers(0).name(), "viewer-1");
}

TEST_F(TopicsTest, ListTopicsServesTheLagThePublishersEndpointReports) {
  TopicClient publisher = Client("camera");
  Handle(publisher.Call(absl::StrCat("publish ", kTopic)));
  TopicClient sub = Client("viewer");
  Handle(sub.Call(absl::StrCat("subscribe ", kTopic)));
  const uint64_t id = NextOpened(publisher).subscription_id;
  EXPECT_EQ(*publisher.Call(absl::StrCat("lag ", id, " 7")), "OK");
  ASSERT_TRUE(Eventually([&] {
    const v1::TopicInfo t = Topic(*daemon_, kTopic);
    return t.subscribers_size() == 1 && t.subscribers(0).stats().lag() == 7;
  }));
  const v1::SubscriptionStats stats =
      Topic(*daemon_, kTopic).subscribers(0).stats();
  EXPECT_EQ(stats.held_chunks(), 8);
  EXPECT_EQ(stats.samples_delivered(), 17);
  EXPECT_GT(stats.updated_at_unix_ms(), 0);
}

TEST(TopicPolicyTest, ASubscriberThePolicyDoesNotAllowIsPermissionDenied) {
  auto daemon = DaemonProcess::Start(
      {.config_text = R"pb(
         policy {
           topic_rules {
             topic: "camera/*"
             process: "viewer-*"
             action: SUBSCRIBE
           }
           topic_rules { topic: "camera/*" process: "camera" action: PUBLISH }
           topic_rules { topic: "*" process: "*" deny: true }
         }
       )pb"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto viewer = TopicClient::Start("viewer-1", (*daemon)->address());
  auto intruder = TopicClient::Start("intruder", (*daemon)->address());
  ASSERT_TRUE(viewer.ok() && intruder.ok());
  Handle(viewer->Call(absl::StrCat("subscribe ", kTopic)));
  absl::StatusOr<std::string> refused =
      intruder->Call(absl::StrCat("subscribe ", kTopic));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_THAT(*refused, StartsWith("ERR PERMISSION_DENIED"));
  EXPECT_THAT(*refused, HasSubstr("policy.topic_rules[2]"));
  // A subscribe rule does not let its processes publish.
  EXPECT_THAT(*viewer->Call(absl::StrCat("publish ", kTopic)),
              StartsWith("ERR PERMISSION_DENIED"));
  EXPECT_EQ(Topic(**daemon, kTopic).subscribers_size(), 1);
}

}  // namespace
}  // namespace shmport::testing
