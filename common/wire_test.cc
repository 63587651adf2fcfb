#include "common/wire.h"

#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::wire {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(Encoder& e, absl::Span<const uint8_t> payload = {}) {
  auto head = e.bytes();
  std::vector<uint8_t> out(head.begin(), head.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

absl::Status DecodeError(const std::vector<uint8_t>& bytes, int fds = 0) {
  return Decode(bytes, fds).status();
}

TEST(WireTest, HelloRoundTrips) {
  Hello h{
      kProtocolVersion, kFeatureRing, 4242, 1000, 16384, 1024, 8, 1024, 0, 77};
  Encoder e(MessageType::kHello, 0);
  e.SetHello(h);
  auto bytes = Bytes(e);
  ASSERT_EQ(bytes.size(), kHeaderBytes + sizeof(Hello));
  auto d = Decode(bytes, 0);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->type(), MessageType::kHello);
  Hello got = d->hello();
  EXPECT_EQ(std::memcmp(&got, &h, sizeof(h)), 0);
}

TEST(WireTest, InlineDataRoundTripsWithAndWithoutTracking) {
  const std::vector<uint8_t> payload = {1, 2, 3, 4, 5};
  for (bool tracked : {false, true}) {
    Encoder e(MessageType::kData, 99, kFlagLast);
    if (tracked) e.SetTracking({3, 17, 5});
    e.SetInlineLength(payload.size());
    const auto bytes = Bytes(e, payload);
    auto d = Decode(bytes, 0);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->header.stream, 99u);
    EXPECT_EQ(d->header.flags & kFlagLast, kFlagLast);
    EXPECT_EQ(std::vector<uint8_t>(d->body.begin(), d->body.end()), payload);
    EXPECT_EQ(d->tracking.has_value(), tracked);
    if (tracked) {
      EXPECT_EQ(*d->tracking, (TrackingRef{3, 17, 5}));
    }
  }
}

TEST(WireTest, EmptyInlineDataIsValid) {
  Encoder e(MessageType::kData, 1);
  const auto bytes = Bytes(e);
  auto d = Decode(bytes, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->body.empty());
}

TEST(WireTest, MmapDataCarriesSixteenDescriptorsAndTracking) {
  Encoder e(MessageType::kMmapData, 7);
  e.SetTracking({1, 2, 3});
  for (uint32_t i = 0; i < 16; ++i) {
    ASSERT_TRUE(e.AddDescriptor({i % 3, i * 4, 1000 + i}));
  }
  auto bytes = Bytes(e);
  auto d = Decode(bytes, 0);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->descriptor_count(), 16);
  for (uint32_t i = 0; i < 16; ++i) {
    EXPECT_EQ(d->descriptor(i), (Descriptor{i % 3, i * 4, 1000 + i}));
  }
  EXPECT_EQ(*d->tracking, (TrackingRef{1, 2, 3}));
}

TEST(WireTest, EncoderStopsAtTheDescriptorLimit) {
  Encoder e(MessageType::kMmapData, 7);
  for (int i = 0; i < kMaxDescriptors; ++i) ASSERT_TRUE(e.AddDescriptor({}));
  EXPECT_TRUE(e.full());
  EXPECT_FALSE(e.AddDescriptor({}));
  EXPECT_TRUE(Decode(Bytes(e), 0).ok());
}

TEST(WireTest, ControlMessagesRoundTrip) {
  {
    Encoder e(MessageType::kNewSegment, 0);
    e.SetNewSegment({4, 0, 16 << 20, 0xabcdef});
    const auto bytes = Bytes(e);
    auto d = Decode(bytes, 1);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->new_segment().segment_id, 4u);
    EXPECT_EQ(d->new_segment().size, 16u << 20);
    EXPECT_EQ(d->new_segment().token, 0xabcdefu);
  }
  {
    Encoder e(MessageType::kReleaseSegment, 0);
    e.SetReleaseSegment({6});
    const auto bytes = Bytes(e);
    auto d = Decode(bytes, 0);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->release_segment().segment_id, 6u);
  }
  for (MessageType t :
       {MessageType::kOosm, MessageType::kShmAck, MessageType::kBye}) {
    Encoder e(t, 0);
    auto d = Decode(Bytes(e), 0);
    ASSERT_TRUE(d.ok()) << MessageTypeName(t);
    EXPECT_EQ(d->type(), t);
  }
}

TEST(WireTest, ShortHeaderIsRefused) {
  EXPECT_THAT(std::string(DecodeError({1, 2, 3}).message()),
              HasSubstr("3 bytes is shorter than the 12-byte header"));
  EXPECT_FALSE(Decode({}, 0).ok());
}

TEST(WireTest, LengthMismatchIsRefused) {
  Encoder e(MessageType::kData, 1);
  e.SetInlineLength(10);
  auto bytes = Bytes(e, std::vector<uint8_t>(9));
  EXPECT_THAT(std::string(DecodeError(bytes).message()),
              HasSubstr("header length 10 does not match the 9 body bytes"));
}

TEST(WireTest, UnknownTypeAndFlagsAreRefused) {
  Encoder e(MessageType::kBye, 0);
  auto bytes = Bytes(e);
  bytes[4] = 200;
  EXPECT_THAT(std::string(DecodeError(bytes).message()),
              HasSubstr("unknown message type 200"));
  bytes[4] = 0;
  EXPECT_FALSE(Decode(bytes, 0).ok());
  bytes = Bytes(e);
  bytes[5] = 0x80;
  EXPECT_THAT(std::string(DecodeError(bytes).message()),
              HasSubstr("unknown flags 0x80"));
}

TEST(WireTest, CountOverflowIsRefused) {
  Encoder e(MessageType::kMmapData, 1);
  e.AddDescriptor({0, 0, 1});
  auto bytes = Bytes(e);
  // Claim 2 descriptors with only one present.
  const uint16_t two = 2;
  std::memcpy(bytes.data() + 6, &two, 2);
  EXPECT_THAT(std::string(DecodeError(bytes).message()),
              HasSubstr("count 2 needs 24 descriptor bytes, got 12"));
  // More than the limit, with a body that matches it exactly.
  std::vector<uint8_t> big(kHeaderBytes + (kMaxDescriptors + 1) * 12);
  MessageHeader h{1, static_cast<uint8_t>(MessageType::kMmapData), 0,
                  kMaxDescriptors + 1,
                  static_cast<uint32_t>(big.size() - kHeaderBytes)};
  std::memcpy(big.data(), &h, sizeof(h));
  EXPECT_THAT(std::string(DecodeError(big).message()),
              HasSubstr("count 257 out of range"));
  // Zero descriptors.
  Encoder z(MessageType::kMmapData, 1);
  EXPECT_THAT(std::string(DecodeError(Bytes(z)).message()),
              HasSubstr("count 0 out of range"));
}

TEST(WireTest, CountOnATypeWithoutDescriptorsIsRefused) {
  Encoder e(MessageType::kShmAck, 0);
  auto bytes = Bytes(e);
  bytes[6] = 1;
  EXPECT_THAT(std::string(DecodeError(bytes).message()),
              HasSubstr("SHM_ACK: count 1, expected 0"));
}

TEST(WireTest, FdsWhereNoneBelongAreRefused) {
  Encoder e(MessageType::kData, 0);
  EXPECT_THAT(std::string(DecodeError(Bytes(e), 1).message()),
              HasSubstr("DATA carries 1 fds, expected 0"));
  Encoder s(MessageType::kNewSegment, 0);
  s.SetNewSegment({});
  EXPECT_THAT(std::string(DecodeError(Bytes(s), 0).message()),
              HasSubstr("NEW_SEGMENT carries 0 fds, expected 1"));
  EXPECT_FALSE(Decode(Bytes(s), 2).ok());
}

TEST(WireTest, TrackedFlagOnlyOnDataMessages) {
  Encoder e(MessageType::kOosm, 0, kFlagTracked);
  EXPECT_THAT(std::string(DecodeError(Bytes(e)).message()),
              HasSubstr("OOSM may not carry the TRACKED flag"));
  Encoder d(MessageType::kData, 0, kFlagTracked);  // no room for the ref
  EXPECT_THAT(std::string(DecodeError(Bytes(d)).message()),
              HasSubstr("TRACKED but the body has only 0 bytes"));
}

TEST(WireTest, FixedBodiesMustHaveTheirExactSize) {
  Encoder e(MessageType::kHello, 0);
  e.SetHello({});
  auto bytes = Bytes(e);
  bytes.push_back(0);
  uint32_t len = sizeof(Hello) + 1;
  std::memcpy(bytes.data() + 8, &len, 4);
  EXPECT_THAT(std::string(DecodeError(bytes).message()),
              HasSubstr("HELLO: body is 41 bytes, expected 40"));
  Encoder b(MessageType::kBye, 0);
  b.SetInlineLength(1);
  EXPECT_FALSE(Decode(Bytes(b, std::vector<uint8_t>{0}), 0).ok());
}

TEST(WireTest, OversizedInlinePayloadIsRefused) {
  Encoder e(MessageType::kData, 0);
  e.SetInlineLength(kMaxInlinePayload + 1);
  auto bytes = Bytes(e, std::vector<uint8_t>(kMaxInlinePayload + 1));
  EXPECT_THAT(std::string(DecodeError(bytes).message()),
              HasSubstr("exceeds 65536"));
}

// Every prefix and every single-byte corruption of valid messages decodes
// to either a message or an error; never a read past the buffer (ASan).
TEST(WireTest, CorruptionsNeverReadPastTheBuffer) {
  std::vector<std::vector<uint8_t>> seeds;
  {
    Encoder e(MessageType::kMmapData, 3);
    e.SetTracking({1, 1, 1});
    e.AddDescriptor({1, 2, 3});
    e.AddDescriptor({4, 5, 6});
    seeds.push_back(Bytes(e));
  }
  {
    Encoder e(MessageType::kHello, 0);
    e.SetHello({});
    seeds.push_back(Bytes(e));
  }
  int decoded = 0;
  for (const auto& seed : seeds) {
    for (size_t len = 0; len <= seed.size(); ++len) {
      std::vector<uint8_t> prefix(seed.begin(), seed.begin() + len);
      decoded += Decode(prefix, 0).ok();
    }
    for (size_t i = 0; i < seed.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        auto copy = seed;
        copy[i] ^= 1 << bit;
        auto d = Decode(copy, 0);
        if (d.ok() && d->type() == MessageType::kMmapData) {
          for (int k = 0; k < d->descriptor_count(); ++k) d->descriptor(k);
        }
        decoded += d.ok();
      }
    }
  }
  EXPECT_GT(decoded, 2);  // the full seeds themselves decode
}

}  // namespace
}  // namespace shmport::wire
