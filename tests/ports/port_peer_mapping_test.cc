// Acceptance (issue 11, hole 6): what a peer may make this process map is
// the daemon's grant for the port (carried in PortOpened), enforced on the
// peer's HELLO and NEW_SEGMENTs, and across all ports a per-process cap
// keeps the mappings far from vm.max_map_count.
#include <unistd.h>

#include <vector>

#include "client/peer_mapping_budget.h"
#include "client/port_grant.h"
#include "common/wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"
#include "tests/ports/raw_peer.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using ::testing::HasSubstr;
using testing::RawPeer;

constexpr absl::Duration kBound = absl::Seconds(10);
constexpr uint64_t k16MiBSegment = layout::kHeaderSize + (16u << 20);

// What the daemon sends for a port granted 2 x 16 MiB per direction.
v1::PortOpened TwoSegmentGrant(uint64_t max_bytes_per_direction) {
  v1::PortOpened opened;
  opened.set_port_id(7);
  opened.mutable_geometry()->set_chunk_size(16 * 1024);
  opened.mutable_geometry()->set_chunk_count(1024);
  opened.mutable_geometry()->set_max_segments(2);
  opened.mutable_geometry()->set_inline_threshold(1024);
  opened.set_max_bytes_per_direction(max_bytes_per_direction);
  return opened;
}

TEST(PortPeerMappingTest, TheGrantBoundsWhatThePeerMayDeclare) {
  const PortOptions o =
      internal::PortOptionsFromGrant(TwoSegmentGrant(2 * k16MiBSegment), {});
  EXPECT_EQ(o.max_segments, 2u);
  EXPECT_EQ(o.max_peer_segments, 2u);
  EXPECT_EQ(o.max_peer_bytes, 2 * k16MiBSegment);
  EXPECT_EQ(o.port_id, 7u);
  // An older daemon sends no byte bound: the geometry implies it.
  const PortOptions old =
      internal::PortOptionsFromGrant(TwoSegmentGrant(0), {});
  EXPECT_EQ(old.max_peer_bytes, 2 * k16MiBSegment);
  // Local limits stricter than the grant stay.
  PortOptions strict;
  strict.max_peer_segments = 1;
  EXPECT_EQ(internal::PortOptionsFromGrant(TwoSegmentGrant(0), strict)
                .max_peer_segments,
            1u);
}

TEST(PortPeerMappingTest, APeerDeclaringMoreThanItsGrantIsRefusedAtHello) {
  const int mappings = testing::CountSegmentMappings();
  testing::SocketPair sp = testing::MakeSocketPair();
  RawPeer raw(std::move(sp.b));
  PortOptions greedy;  // 63 x 64 MiB, where 2 x 16 MiB were granted
  greedy.geometry = {64 * 1024, 1024};
  greedy.max_segments = 63;
  greedy.port_id = 7;
  raw.SendHello(greedy);
  const PortOptions o =
      internal::PortOptionsFromGrant(TwoSegmentGrant(2 * k16MiBSegment), {});
  auto port = Port::Open(std::move(sp.a), {.pid = ::getpid()}, o);
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(port.status().message()),
              HasSubstr("declares max_segments 63; this end accepts [1, 2]"));
  EXPECT_EQ(testing::CountSegmentMappings(), mappings);
}

TEST(PortPeerMappingTest, ReleasedSegmentsThatMessagesHoldStillCount) {
  // Within its HELLO, a peer could release a segment the receiver's
  // Messages still map and announce the id again, over and over.
  testing::SocketPair sp = testing::MakeSocketPair();
  RawPeer raw(std::move(sp.b));
  raw.SendHello();  // 4 segments of 16 x 4 KiB
  PortOptions o;
  o.max_peer_segments = 4;
  auto port = Port::Open(std::move(sp.a), {.pid = ::getpid()}, o);
  ASSERT_TRUE(port.ok()) << port.status();
  const int mappings = testing::CountSegmentMappings();
  std::vector<Message> held;
  for (int round = 0; round < 4; ++round) {
    auto seg = raw.Announce(0);
    raw.Descriptor({0, 0, 100});
    wire::Encoder release(wire::MessageType::kReleaseSegment, 0);
    release.SetReleaseSegment({0});
    raw.Send(release);
    auto m = (*port)->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
    held.push_back(*std::move(m));
  }
  ASSERT_TRUE(raw.TryAnnounce(0).ok());  // keeps no mapping of its own
  auto end = (*port)->Receive(kBound);
  EXPECT_EQ(end.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string((*port)->closed_reason().message()),
              HasSubstr("past the max_segments 4 the peer declared"));
  EXPECT_EQ((*port)->stats().protocol_errors, 1u);
  // Two mappings (header, data) per segment, four segments held.
  EXPECT_EQ(testing::CountSegmentMappings() - mappings, 2 * 4);
  held.clear();
  EXPECT_EQ(testing::CountSegmentMappings(), mappings);
}

TEST(PortPeerMappingTest, ManyPortsOfTinySegmentsStopAtTheProcessCap) {
  constexpr uint32_t kCap = 200;
  constexpr int kPorts = 30;
  constexpr uint32_t kSegmentsEach = 63;  // 30 x 63 = 1890 > kCap
  SetMaxPeerSegmentsPerProcess(kCap);
  const int mappings = testing::CountMappings();
  struct Attacked {
    std::unique_ptr<Port> port;
    std::unique_ptr<RawPeer> raw;
  };
  std::vector<Attacked> ports;
  int refused = 0;
  for (int i = 0; i < kPorts; ++i) {
    testing::SocketPair sp = testing::MakeSocketPair();
    Attacked a{nullptr, std::make_unique<RawPeer>(std::move(sp.b))};
    PortOptions hello;
    hello.geometry = {4096, 1};
    hello.max_segments = kSegmentsEach;
    hello.ring_capacity = 0;
    a.raw->SendHello(hello);
    PortOptions o;
    o.ring_capacity = 0;
    auto port = Port::Open(std::move(sp.a), {.pid = ::getpid()}, o);
    ASSERT_TRUE(port.ok()) << port.status();
    a.port = *std::move(port);
    for (uint32_t id = 0; id < kSegmentsEach; ++id) {
      ASSERT_TRUE(a.raw->TryAnnounce(id, hello.geometry).ok());
    }
    // Take them all in: either they are mapped or the cap closed the port.
    while (a.port->stats().segments_in < kSegmentsEach &&
           a.port->TryReceive().ok()) {
    }
    if (a.port->closed()) {
      ++refused;
      EXPECT_EQ(a.port->closed_reason().code(),
                absl::StatusCode::kResourceExhausted);
      EXPECT_THAT(std::string(a.port->closed_reason().message()),
                  HasSubstr("max_peer_segments_per_process = 200"));
      EXPECT_EQ(a.port->stats().protocol_errors, 0u);
    }
    ports.push_back(std::move(a));
    EXPECT_LE(PeerSegmentsMapped(), kCap);
  }
  EXPECT_GT(refused, kPorts / 2);
  // Two mappings per peer segment, plus what the ports' own memory may take
  // (malloc maps each 64 KiB receive buffer; sanitizers add their own).
  // Without the cap: 2 x 1890.
  EXPECT_LE(testing::CountMappings() - mappings,
            static_cast<int>(2 * kCap + 2 * kPorts));
  // The process is fine: a legitimate port still works (its peer segment
  // fits once the attackers' ports are gone).
  ports.clear();
  EXPECT_EQ(PeerSegmentsMapped(), 0u);
  auto good = testing::OpenLocalPorts();
  ASSERT_TRUE(good.ok()) << good.status();
  const std::vector<uint8_t> bytes(64 * 1024, 1);
  ASSERT_TRUE(good->a->SendCopy(1, bytes).ok());
  auto m = good->b->Receive(kBound);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->size(), bytes.size());
  SetMaxPeerSegmentsPerProcess(kDefaultMaxPeerSegmentsPerProcess);
}

}  // namespace
}  // namespace shmport
