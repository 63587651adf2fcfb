// Gathering on a subscription (decision D31): the publisher packs what it
// can deliver at once into one BATCH, only for a subscriber whose HELLO
// set kFeatureBatch; a subscriber gathers releases only while messages
// wait for it unread, so a dropped sample still comes back without
// another Receive.
#include <cstring>
#include <vector>

#include "absl/time/time.h"
#include "client/deadline.h"
#include "client/topic_publisher_core.h"
#include "client/topic_subscriber_core.h"
#include "client/topic_wire.h"
#include "common/unix_channel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/topics/topic_harness.h"
#include "tests/util/eventually.h"

namespace shmport {
namespace {

namespace tw = topic_wire;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kInlineSize = 100;  // under the default inline_threshold

// A message as it sits in a BATCH: header, body, zero padding to 8.
void AppendBatched(std::vector<uint8_t>& out, tw::Type type,
                   const std::vector<uint8_t>& body) {
  tw::Header h{};
  h.type = static_cast<uint8_t>(type);
  h.length = static_cast<uint32_t>(body.size());
  const size_t at = out.size();
  out.resize(at + tw::BatchedSize(sizeof(h) + body.size()), 0);
  std::memcpy(out.data() + at, &h, sizeof(h));
  std::memcpy(out.data() + at + sizeof(h), body.data(), body.size());
}

std::vector<uint8_t> U64Body(uint64_t v) {
  std::vector<uint8_t> body(sizeof(v));
  std::memcpy(body.data(), &v, sizeof(v));
  return body;
}

TEST(TopicBatchWireTest, NextInBatchYieldsEachMessageThenRefusesTheRest) {
  std::vector<uint8_t> body;
  std::vector<uint8_t> inline_body = U64Body(7);
  inline_body.insert(inline_body.end(), 5, 0xab);  // 13 bytes: padded to 24
  AppendBatched(body, tw::Type::kSampleInline, inline_body);
  AppendBatched(body, tw::Type::kMissed, U64Body(3));
  size_t offset = 0;
  auto first = tw::NextInBatch(body, &offset);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(offset, 24u);
  auto decoded = tw::Decode(*first, 0);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->type, tw::Type::kSampleInline);
  EXPECT_EQ(decoded->inline_payload().size(), 5u);
  auto second = tw::NextInBatch(body, &offset);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(tw::Decode(*second, 0)->U64(0), 3u);
  EXPECT_EQ(offset, body.size());
  EXPECT_THAT(tw::NextInBatch(body, &offset).status().message(),
              HasSubstr("short of a header"));
}

TEST(TopicBatchWireTest, NextInBatchRefusesOtherTypesAndOverruns) {
  std::vector<uint8_t> hello;
  AppendBatched(hello, tw::Type::kHello, std::vector<uint8_t>(40));
  size_t offset = 0;
  EXPECT_THAT(tw::NextInBatch(hello, &offset).status().message(),
              HasSubstr("only SAMPLE, SAMPLE_INLINE and MISSED batch"));
  std::vector<uint8_t> nested;
  AppendBatched(nested, tw::Type::kBatch, std::vector<uint8_t>(8));
  offset = 0;
  EXPECT_FALSE(tw::NextInBatch(nested, &offset).ok());
  std::vector<uint8_t> overrun;
  AppendBatched(overrun, tw::Type::kMissed, U64Body(1));
  overrun[4] = 200;  // length past the end
  offset = 0;
  EXPECT_THAT(tw::NextInBatch(overrun, &offset).status().message(),
              HasSubstr("runs past the batch"));
}

// A raw subscriber on the publisher's socket, to see the datagrams.
class RawSubscriber {
 public:
  explicit RawSubscriber(UnixChannel channel) : channel_(std::move(channel)) {}

  absl::Status SendHello(uint32_t features) {
    tw::TopicHello hello{};
    hello.protocol_version = tw::kProtocolVersion;
    hello.role = static_cast<uint16_t>(tw::Role::kSubscriber);
    hello.features = features;
    return channel_.Send(tw::Message(tw::Type::kHello).Put(hello).bytes());
  }
  absl::Status Release(const std::vector<uint64_t>& sequences,
                       tw::Type type = tw::Type::kRelease) {
    tw::Message m(type);
    for (uint64_t s : sequences) m.Put(s);
    return channel_.Send(m.bytes());
  }
  // The next datagram's type, and the sequences of the samples it carries.
  absl::StatusOr<std::pair<tw::Type, std::vector<uint64_t>>> Next() {
    auto got = channel_.Receive(absl::MakeSpan(buffer_));
    if (!got.ok()) return got.status();
    auto m = tw::Decode(absl::MakeConstSpan(buffer_.data(), (*got)->size),
                        static_cast<int>((*got)->fds.size()));
    if (!m.ok()) return m.status();
    std::vector<uint64_t> sequences;
    if (m->type == tw::Type::kSampleInline) sequences.push_back(m->U64(0));
    size_t offset = 0;
    while (m->type == tw::Type::kBatch && offset < m->body.size()) {
      auto inner = tw::NextInBatch(m->body, &offset);
      if (!inner.ok()) return inner.status();
      auto decoded = tw::Decode(*inner, 0);
      if (!decoded.ok()) return decoded.status();
      sequences.push_back(decoded->U64(0));
    }
    return std::make_pair(m->type, sequences);
  }

 private:
  UnixChannel channel_;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(tw::kMaxMessageBytes);
};

void PublishInline(Publisher& publisher, int count,
                   uint64_t size = kInlineSize) {
  for (int i = 0; i < count; ++i) {
    auto buffer = publisher.Allocate(size, absl::Seconds(5));
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    ASSERT_TRUE(publisher.Publish(std::move(*buffer)).ok());
  }
}

// Window 4: samples 1..4 go alone as they are published, 5..8 wait; one
// RELEASE of 1..4 opens the window for all four at once.
std::vector<std::pair<tw::Type, std::vector<uint64_t>>> DeliveriesTo(
    uint32_t features, uint64_t size = kInlineSize) {
  std::vector<std::pair<tw::Type, std::vector<uint64_t>>> out;
  auto publisher = testing::NewPublisher({});
  auto pair = UnixChannel::Pair();
  if (publisher == nullptr || !pair.ok()) return out;
  RawSubscriber raw(std::move(pair->second));
  if (!raw.SendHello(features).ok()) return out;
  internal::SubscriptionTerms terms;
  terms.queue_depth = 4;
  testing::Open(testing::Endpoint(*publisher), 1, pair->first.TakeFd(), terms);
  if (auto hello = raw.Next(); !hello.ok()) return out;
  PublishInline(*publisher, 8, size);
  for (int i = 0; i < 4; ++i) {
    auto next = raw.Next();
    if (!next.ok()) return out;
    out.push_back(*next);
  }
  if (!raw.Release({1, 2, 3, 4}).ok()) return out;
  for (size_t got = 0; got < 4;) {
    auto next = raw.Next();
    if (!next.ok()) return out;
    got += next->second.size();
    out.push_back(*next);
  }
  return out;
}

TEST(TopicBatchTest, PublisherBatchesWhatTheWindowLetsGoAtOnce) {
  const auto deliveries = DeliveriesTo(tw::kFeatureBatch);
  ASSERT_EQ(deliveries.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(deliveries[i].first, tw::Type::kSampleInline);
    EXPECT_THAT(deliveries[i].second,
                ElementsAre(static_cast<uint64_t>(i + 1)));
  }
  EXPECT_EQ(deliveries[4].first, tw::Type::kBatch);
  EXPECT_THAT(deliveries[4].second, ElementsAre(5u, 6u, 7u, 8u));
}

// Empty samples batch like any other (under UBSan this once failed: the
// copy of no bytes from an empty sample's null data()).
TEST(TopicBatchTest, EmptySamplesTravelInABatch) {
  const auto deliveries = DeliveriesTo(tw::kFeatureBatch, /*size=*/0);
  ASSERT_EQ(deliveries.size(), 5u);
  EXPECT_EQ(deliveries[4].first, tw::Type::kBatch);
  EXPECT_THAT(deliveries[4].second, ElementsAre(5u, 6u, 7u, 8u));
}

TEST(TopicBatchTest, WaitingSubscriberGetsWhatQueuedSinceInOneBatch) {
  auto publisher = testing::NewPublisher({});
  ASSERT_NE(publisher, nullptr);
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  RawSubscriber raw(std::move(pair->second));
  ASSERT_TRUE(raw.SendHello(tw::kFeatureBatch | tw::kFeatureWaiting).ok());
  internal::SubscriptionTerms terms;
  terms.queue_depth = 16;
  testing::Open(testing::Endpoint(*publisher), 1, pair->first.TakeFd(), terms);
  auto hello = raw.Next();
  ASSERT_TRUE(hello.ok()) << hello.status();
  PublishInline(*publisher, 1);
  auto first = raw.Next();  // a new subscriber waits: it goes at once
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(first->second, ElementsAre(1u));
  // Once the publisher has our HELLO and this WAITING, it holds samples
  // back from each delivery to the next WAITING.
  ASSERT_TRUE(raw.Release({1}, tw::Type::kWaiting).ok());
  ASSERT_TRUE(testing::Eventually([&] {
    return publisher->stats().subscriptions.at(0).samples_released == 1;
  }));
  PublishInline(*publisher, 1);
  auto second = raw.Next();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->first, tw::Type::kSampleInline);
  EXPECT_THAT(second->second, ElementsAre(2u));
  PublishInline(*publisher, 3);  // we read: these wait in our queue
  ASSERT_TRUE(raw.Release({2}, tw::Type::kWaiting).ok());
  auto rest = raw.Next();
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->first, tw::Type::kBatch);
  EXPECT_THAT(rest->second, ElementsAre(3u, 4u, 5u));
  EXPECT_EQ(publisher->stats().subscriptions.at(0).samples_released, 2u);
}

TEST(TopicBatchTest, SubscriberWithoutTheFeatureNeverGetsABatch) {
  const auto deliveries = DeliveriesTo(0);  // as a version-1 subscriber
  ASSERT_EQ(deliveries.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(deliveries[i].first, tw::Type::kSampleInline);
    EXPECT_THAT(deliveries[i].second,
                ElementsAre(static_cast<uint64_t>(i + 1)));
  }
}

struct CorePair {
  std::unique_ptr<Publisher> publisher;
  std::shared_ptr<internal::SubscriberCore> subscriber;
};

CorePair Connect(uint32_t queue_depth) {
  CorePair p;
  PublisherOptions options;
  options.geometry = {4096, 64};
  p.publisher = testing::NewPublisher(options);
  auto pair = UnixChannel::Pair();
  auto core = internal::SubscriberCore::Create("t/test", {});
  if (p.publisher == nullptr || !pair.ok() || !core.ok()) return {};
  p.subscriber = *core;
  internal::SubscriptionTerms terms;
  terms.queue_depth = queue_depth;
  testing::Open(*p.subscriber, 1, pair->second.TakeFd());
  testing::Open(testing::Endpoint(*p.publisher), 1, pair->first.TakeFd(),
                terms);
  return p;
}

void PublishShared(Publisher& publisher, uint64_t first, uint64_t count) {
  for (uint64_t seq = first; seq < first + count; ++seq) {
    auto buffer = publisher.Allocate(10000, absl::Seconds(5));
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    testing::FillPayload(seq, buffer->span());
    ASSERT_TRUE(publisher.Publish(std::move(*buffer)).ok());
  }
}

absl::StatusOr<Sample> ReceiveNow(internal::SubscriberCore& core) {
  return core.Receive(internal::Deadline(absl::Seconds(5)), true);
}

TEST(TopicBatchTest, SamplesDroppedWhileOthersWaitComeBackWithoutAReceive) {
  CorePair p = Connect(16);
  ASSERT_NE(p.subscriber, nullptr);
  PublishShared(*p.publisher, 1, 8);  // all published before any read
  for (uint64_t seq = 1; seq <= 8; ++seq) {
    auto sample = ReceiveNow(*p.subscriber);
    ASSERT_TRUE(sample.ok()) << sample.status();
    EXPECT_EQ(sample->sequence(), seq);
    EXPECT_TRUE(testing::CheckPayload(seq, sample->data()));
  }  // each dropped at once; the first 7 while others waited unread
  EXPECT_TRUE(testing::Eventually([&] {
    return p.publisher->stats().chunks_in_use == 0;
  })) << p.publisher->stats().chunks_in_use
      << " chunks still in use";
}

TEST(TopicBatchTest, KeepingTheLastSampleHoldsBackNoOther) {
  CorePair p = Connect(16);
  ASSERT_NE(p.subscriber, nullptr);
  PublishShared(*p.publisher, 1, 8);
  absl::StatusOr<Sample> last = absl::UnknownError("none");
  for (uint64_t seq = 1; seq <= 8; ++seq) {
    last = ReceiveNow(*p.subscriber);
    ASSERT_TRUE(last.ok()) << last.status();
  }
  const uint64_t chunks = (10000 + 4095) / 4096;  // the one kept
  EXPECT_TRUE(testing::Eventually([&] {
    return p.publisher->stats().chunks_in_use == chunks;
  })) << p.publisher->stats().chunks_in_use
      << " chunks in use, expected " << chunks;
}

// Our subscriber's HELLO asks for BATCH and WAITING.
TEST(TopicBatchTest, SubscriberCoreAsksForBatchAndWaiting) {
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto core = internal::SubscriberCore::Create("t/test", {});
  ASSERT_TRUE(core.ok()) << core.status();
  testing::Open(**core, 1, pair->second.TakeFd());
  std::vector<uint8_t> buffer(tw::kMaxMessageBytes);
  auto got = pair->first.Receive(absl::MakeSpan(buffer));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  auto m = tw::Decode(absl::MakeConstSpan(buffer.data(), (*got)->size), 0);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->type, tw::Type::kHello);
  EXPECT_EQ(m->As<tw::TopicHello>().features,
            tw::kFeatureBatch | tw::kFeatureWaiting);
}

// With the window at 4, each round's second four wait queued while the
// first four are read (and come in one BATCH): the subscriber core gets
// all eight in order and gives every one back.
TEST(TopicBatchTest, SubscriberCoreTakesQueuedSamplesInOrderAndGivesAllBack) {
  CorePair p = Connect(4);
  ASSERT_NE(p.subscriber, nullptr);
  uint64_t next = 1;
  for (int round = 0; round < 20; ++round) {
    PublishShared(*p.publisher, next + 0, 4);
    PublishShared(*p.publisher, next + 4, 4);  // queued: the window is 4
    for (uint64_t seq = next; seq < next + 8; ++seq) {
      auto sample = ReceiveNow(*p.subscriber);
      ASSERT_TRUE(sample.ok()) << sample.status();
      ASSERT_EQ(sample->sequence(), seq);
      ASSERT_TRUE(testing::CheckPayload(seq, sample->data()));
    }
    next += 8;
  }
  EXPECT_EQ(p.subscriber->stats().samples_received, 160u);
  EXPECT_TRUE(testing::Eventually(
      [&] { return p.publisher->stats().chunks_in_use == 0; }));
}

// A publisher may batch only for a subscriber whose HELLO set
// kFeatureBatch: to one that did not, a BATCH breaks the protocol and ends
// the subscription with the reason.
TEST(TopicBatchTest, SubscriberRefusesABatchItDidNotAskFor) {
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok()) << pair.status();
  // A subscriber whose HELLO asks for no BATCH (ours asks by default).
  auto core = internal::SubscriberCore::Create("t/test", {}, /*features=*/0);
  ASSERT_TRUE(core.ok()) << core.status();
  testing::Open(**core, 1, pair->second.TakeFd());
  UnixChannel& publisher = pair->first;
  tw::TopicHello hello{};
  hello.protocol_version = tw::kProtocolVersion;
  hello.role = static_cast<uint16_t>(tw::Role::kPublisher);
  hello.chunk_size = 4096;
  hello.chunk_count = 64;
  hello.max_segments = 1;
  hello.inline_threshold = 256;
  hello.window = 4;
  hello.subscription_id = 1;
  ASSERT_TRUE(
      publisher.Send(tw::Message(tw::Type::kHello).Put(hello).bytes()).ok());
  std::vector<uint8_t> batch(tw::kHeaderBytes, 0);
  std::vector<uint8_t> body = U64Body(1);
  body.resize(body.size() + 16, 'x');
  AppendBatched(batch, tw::Type::kSampleInline, body);
  tw::Header h{};
  h.type = static_cast<uint8_t>(tw::Type::kBatch);
  h.length = static_cast<uint32_t>(batch.size() - tw::kHeaderBytes);
  std::memcpy(batch.data(), &h, sizeof(h));
  ASSERT_TRUE(publisher.Send(absl::MakeConstSpan(batch)).ok());
  absl::StatusOr<Sample> sample = ReceiveNow(**core);
  ASSERT_FALSE(sample.ok()) << "a sample out of an unasked-for BATCH";
  EXPECT_EQ(sample.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sample.status().message(),
              HasSubstr("BATCH, which this subscriber's HELLO did not ask"));
}

}  // namespace
}  // namespace shmport
