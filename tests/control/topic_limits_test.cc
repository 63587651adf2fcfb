// Topic limits and attacks (issue 14): every limit refuses with
// RESOURCE_EXHAUSTED naming its config field, and a process that floods
// Subscribe/Unsubscribe or never reads its broker link cannot grow the
// daemon beyond them. Raw registrations (tests/control/raw_client.h) play
// the processes; the daemon is real.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

grpc::Status Publish(v1::ControlPlane::Stub& stub, const RawRegistration& p,
                     const std::string& topic, uint32_t history = 0,
                     v1::Geometry geometry = {},
                     v1::PublishResponse* response = nullptr) {
  v1::PublishRequest request;
  request.mutable_process()->set_id(p.id);
  request.set_session_token(p.token);
  request.set_topic(topic);
  request.set_history(history);
  *request.mutable_geometry() = geometry;
  v1::PublishResponse ignored;
  return stub.Publish(Context().get(), request,
                      response != nullptr ? response : &ignored);
}

grpc::Status Subscribe(v1::ControlPlane::Stub& stub, const RawRegistration& p,
                       const std::string& topic, uint32_t queue_depth = 0,
                       uint64_t* subscriber_id = nullptr) {
  v1::SubscribeRequest request;
  request.mutable_process()->set_id(p.id);
  request.set_session_token(p.token);
  request.set_topic(topic);
  if (queue_depth != 0) {
    request.mutable_terms()->set_slow_subscriber(
        v1::SubscriptionTerms::DROP_OLDEST);
    request.mutable_terms()->set_queue_depth(queue_depth);
  }
  v1::SubscribeResponse response;
  grpc::Status s = stub.Subscribe(Context().get(), request, &response);
  if (subscriber_id != nullptr) *subscriber_id = response.subscriber_id();
  return s;
}

grpc::Status Unsubscribe(v1::ControlPlane::Stub& stub, const RawRegistration& p,
                         uint64_t subscriber_id) {
  v1::UnsubscribeRequest request;
  request.mutable_process()->set_id(p.id);
  request.set_session_token(p.token);
  request.set_subscriber_id(subscriber_id);
  v1::UnsubscribeResponse response;
  return stub.Unsubscribe(Context().get(), request, &response);
}

void ExpectRefusedNaming(const grpc::Status& s, const std::string& limit) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << Describe(s);
  EXPECT_THAT(s.error_message(), HasSubstr("(" + limit + ")"));
}

v1::Geometry SmallGeometry() {
  v1::Geometry g;
  g.set_chunk_size(4096);
  g.set_chunk_count(16);
  g.set_max_segments(1);
  return g;
}

TEST(TopicLimitsTest, EveryLimitRefusesWithResourceExhaustedNamingIt) {
  auto daemon = DaemonProcess::Start({.config_text = R"pb(
                                        limits {
                                          max_topics: 2
                                          max_subscribers_per_topic: 2
                                          max_subscriptions_per_process: 3
                                          max_publications_per_process: 1
                                          max_topic_history: 4
                                          max_topic_queue_depth: 8
                                          max_bytes_per_topic: 1048576
                                        }
                                      )pb"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto a = RegisterAndAttach(*stub, "a");
  auto b = RegisterAndAttach(*stub, "b");
  auto c = RegisterAndAttach(*stub, "c");
  auto d = RegisterAndAttach(*stub, "d");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());

  ExpectRefusedNaming(Publish(*stub, *a, "t1", 5, SmallGeometry()),
                      "limits.max_topic_history");
  v1::Geometry big = SmallGeometry();
  big.set_chunk_count(1024);  // 4 MiB in one segment
  ExpectRefusedNaming(Publish(*stub, *a, "t1", 0, big),
                      "limits.max_bytes_per_topic");
  ASSERT_TRUE(Publish(*stub, *a, "t1", 4, SmallGeometry()).ok());
  ExpectRefusedNaming(Publish(*stub, *a, "t2", 0, SmallGeometry()),
                      "limits.max_publications_per_process");

  ExpectRefusedNaming(Subscribe(*stub, *b, "t1", 9),
                      "limits.max_topic_queue_depth");
  ASSERT_TRUE(Subscribe(*stub, *b, "t1", 8).ok());
  ASSERT_TRUE(Subscribe(*stub, *c, "t1").ok());
  ExpectRefusedNaming(Subscribe(*stub, *d, "t1"),
                      "limits.max_subscribers_per_topic");

  ASSERT_TRUE(Subscribe(*stub, *b, "t2").ok());  // the second topic
  ExpectRefusedNaming(Subscribe(*stub, *c, "t3"), "limits.max_topics");
  ASSERT_TRUE(Subscribe(*stub, *b, "t2").ok());  // b's third
  ExpectRefusedNaming(Subscribe(*stub, *b, "t2"),
                      "limits.max_subscriptions_per_process");

  v1::ListTopicsResponse topics;
  ASSERT_TRUE(
      stub->ListTopics(Context().get(), v1::ListTopicsRequest(), &topics).ok());
  ASSERT_EQ(topics.topics_size(), 2);
  EXPECT_EQ(topics.topics(0).subscribers_size(), 2);  // t1
  EXPECT_EQ(topics.topics(1).subscribers_size(), 2);  // t2
}

uint32_t DaemonFds(v1::ControlPlane::Stub& stub) {
  v1::GetStatsResponse stats;
  EXPECT_TRUE(
      stub.GetStats(Context().get(), v1::GetStatsRequest(), &stats).ok());
  return stats.daemon().open_fds();
}

// A subscriber that never reads its broker link, subscribing and
// unsubscribing as fast as it can while a publisher that never reads
// either holds the topic: every pairing the daemon attempts fills one of
// their links until sends fail, and the daemon keeps no fd, no
// subscription and no topic entry beyond what the limits allow.
TEST(TopicAttackTest, FloodsAndUnreadLinksCannotGrowTheDaemon) {
  auto daemon =
      DaemonProcess::Start({.config_text = R"pb(
                              limits { max_subscriptions_per_process: 8 }
                            )pb"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto publisher = RegisterAndAttach(*stub, "publisher");
  auto attacker = RegisterAndAttach(*stub, "attacker");
  ASSERT_TRUE(publisher.ok() && attacker.ok());
  ASSERT_TRUE(Publish(*stub, *publisher, "flood", 0, SmallGeometry()).ok());
  const uint32_t fds_before = DaemonFds(*stub);

  constexpr int kRounds = 1000;
  for (int i = 0; i < kRounds; ++i) {
    uint64_t id = 0;
    ASSERT_TRUE(Subscribe(*stub, *attacker, "flood", 0, &id).ok()) << i;
    ASSERT_TRUE(Unsubscribe(*stub, *attacker, id).ok()) << i;
  }
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(Subscribe(*stub, *attacker, "flood").ok());
  }
  ExpectRefusedNaming(Subscribe(*stub, *attacker, "flood"),
                      "limits.max_subscriptions_per_process");
  ExpectRefusedNaming(Subscribe(*stub, *attacker, "elsewhere"),
                      "limits.max_subscriptions_per_process");

  v1::ListTopicsResponse topics;
  ASSERT_TRUE(
      stub->ListTopics(Context().get(), v1::ListTopicsRequest(), &topics).ok());
  ASSERT_EQ(topics.topics_size(), 1);
  EXPECT_EQ(topics.topics(0).subscribers_size(), 8);
  // The daemon handed every subscription's ends away (or closed them when
  // a link was full): its own fds are what they were.
  EXPECT_LE(DaemonFds(*stub), fds_before + 2);
  // Its links full, the attacker ends; so do its subscriptions.
  attacker->link.Close();
  EXPECT_TRUE(Eventually([&] {
    return stub->ListTopics(Context().get(), v1::ListTopicsRequest(), &topics)
               .ok() &&
           topics.topics_size() == 1 &&
           topics.topics(0).subscribers_size() == 0;
  }));
}

}  // namespace
}  // namespace shmport::testing
