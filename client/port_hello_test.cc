#include "client/port_hello.h"

#include <unistd.h>

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::internal {
namespace {

using ::testing::HasSubstr;

constexpr pid_t kPeerPid = 4242;
constexpr uid_t kPeerUid = 1001;

std::vector<uint8_t> Encode(const wire::Hello& hello) {
  wire::Encoder e(wire::MessageType::kHello, 0);
  e.SetHello(hello);
  const auto bytes = e.bytes();
  return {bytes.begin(), bytes.end()};
}

wire::Hello PeerHello() { return MakeHello(PortOptions(), kPeerPid, kPeerUid); }

absl::StatusOr<PeerTerms> Accept(const wire::Hello& hello,
                                 const PeerIdentity& expected = {},
                                 const PortOptions& options = {}) {
  return AcceptHello(Encode(hello), 0, Credentials{kPeerPid, kPeerUid, 0},
                     expected, options);
}

TEST(PortHelloTest, MakeHelloSaysWhatTheOptionsSay) {
  PortOptions options;
  options.geometry = {4096, 64};
  options.max_segments = 3;
  options.inline_threshold = 100;
  options.port_id = 77;
  options.ring_capacity = 0;
  const wire::Hello h = MakeHello(options, 12, 34);
  EXPECT_EQ(h.protocol_version, wire::kProtocolVersion);
  EXPECT_EQ(h.features, 0u);
  EXPECT_EQ(h.pid, 12);
  EXPECT_EQ(h.uid, 34u);
  EXPECT_EQ(h.chunk_size, 4096u);
  EXPECT_EQ(h.chunk_count, 64u);
  EXPECT_EQ(h.max_segments, 3u);
  EXPECT_EQ(h.inline_threshold, 100u);
  EXPECT_EQ(h.port_id, 77u);
  options.ring_capacity = 64 * 1024;
  EXPECT_EQ(MakeHello(options, 12, 34).features, wire::kFeatureRing);
}

TEST(PortHelloTest, AcceptsAGoodHelloAndReturnsItsTerms) {
  wire::Hello h = PeerHello();
  h.chunk_size = 8192;
  h.chunk_count = 32;
  h.max_segments = 2;
  auto terms = Accept(h, {kPeerPid, kPeerUid});
  ASSERT_TRUE(terms.ok()) << terms.status();
  EXPECT_EQ(terms->geometry.chunk_size, 8192u);
  EXPECT_EQ(terms->geometry.chunk_count, 32u);
  EXPECT_EQ(terms->max_segments, 2u);
  EXPECT_TRUE(terms->has_ring);
}

TEST(PortHelloTest, RefusesAFirstMessageThatIsNotHello) {
  wire::Encoder e(wire::MessageType::kShmAck, 0);
  const auto bytes = e.bytes();
  auto terms = AcceptHello(bytes, 0, Credentials{kPeerPid, kPeerUid, 0}, {},
                           PortOptions());
  EXPECT_EQ(terms.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(terms.status().message(), HasSubstr("expected HELLO"));
}

TEST(PortHelloTest, RefusesGarbage) {
  const std::vector<uint8_t> garbage = {1, 2, 3};
  auto terms = AcceptHello(garbage, 0, Credentials{kPeerPid, kPeerUid, 0}, {},
                           PortOptions());
  EXPECT_EQ(terms.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(terms.status().message(), HasSubstr("bad first message"));
}

TEST(PortHelloTest, RefusesAHelloWithoutCredentials) {
  auto terms =
      AcceptHello(Encode(PeerHello()), 0, std::nullopt, {}, PortOptions());
  EXPECT_EQ(terms.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(terms.status().message(),
              HasSubstr("without kernel credentials"));
}

TEST(PortHelloTest, RefusesTheWrongSender) {
  auto wrong_pid = Accept(PeerHello(), {kPeerPid + 1});
  EXPECT_EQ(wrong_pid.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(wrong_pid.status().message(), HasSubstr("expected pid 4243"));
  auto wrong_uid = Accept(PeerHello(), {0, kPeerUid + 1});
  EXPECT_EQ(wrong_uid.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(wrong_uid.status().message(), HasSubstr("expected uid 1002"));
  wire::Hello lying = PeerHello();
  lying.pid = 1;
  auto claimed = Accept(lying);
  EXPECT_EQ(claimed.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(claimed.status().message(), HasSubstr("claims pid 1"));
}

TEST(PortHelloTest, RefusesAnotherProtocolVersion) {
  wire::Hello h = PeerHello();
  h.protocol_version = wire::kProtocolVersion + 1;
  auto terms = Accept(h);
  EXPECT_EQ(terms.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(terms.status().message(), HasSubstr("protocol version"));
}

TEST(PortHelloTest, RefusesABadGeometry) {
  wire::Hello h = PeerHello();
  h.chunk_size = 1000;  // not a multiple of the page size
  auto terms = Accept(h);
  EXPECT_EQ(terms.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(terms.status().message(), HasSubstr("bad geometry"));
}

TEST(PortHelloTest, RefusesMoreSegmentsOrBytesThanThisEndMaps) {
  PortOptions options;
  wire::Hello h = PeerHello();
  h.max_segments = options.max_peer_segments + 1;
  auto segments = Accept(h, {}, options);
  EXPECT_EQ(segments.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(segments.status().message(), HasSubstr("max_segments"));
  h.max_segments = 0;
  EXPECT_FALSE(Accept(h, {}, options).ok());
  h.max_segments = 2;
  options.max_peer_bytes =
      SegmentGeometry{h.chunk_size, h.chunk_count}.file_size();
  auto bytes = Accept(h, {}, options);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bytes.status().message(), HasSubstr("bytes of segments"));
}

TEST(PortHelloTest, RefusesAHelloForAnotherPort) {
  PortOptions options;
  options.port_id = 5;
  wire::Hello h = PeerHello();
  h.port_id = 6;
  auto terms = Accept(h, {}, options);
  EXPECT_EQ(terms.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(terms.status().message(), HasSubstr("for port 6"));
  h.port_id = 0;  // a peer that does not say: accepted
  EXPECT_TRUE(Accept(h, {}, options).ok());
}

TEST(PortHelloTest, ValidatePortOptionsNamesTheField) {
  PortOptions options;
  EXPECT_TRUE(ValidatePortOptions(options).ok());
  options.max_segments = 0;
  EXPECT_THAT(ValidatePortOptions(options).message(),
              HasSubstr("PortOptions.max_segments 0"));
  options = PortOptions();
  options.max_stash_messages = 0;
  EXPECT_THAT(ValidatePortOptions(options).message(),
              HasSubstr("max_stash_messages"));
  options = PortOptions();
  options.inline_threshold = wire::kMaxInlinePayload + 1;
  EXPECT_THAT(ValidatePortOptions(options).message(),
              HasSubstr("PortOptions.inline_threshold"));
}

}  // namespace
}  // namespace shmport::internal
