// Acceptance (issue 11, hole 2): a peer that announces a ring, never writes
// its marker into it, and floods the socket cannot make the receiver hold
// what it sends. The reorder stash is bounded in bytes, messages and fds;
// passing a bound is the peer's protocol error, and closing the port gives
// back every byte and fd held.
#include <atomic>
#include <thread>
#include <vector>

#include "common/wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"
#include "tests/ports/raw_peer.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RawPeer;

constexpr absl::Duration kBound = absl::Seconds(10);

struct Victim {
  std::unique_ptr<Port> port;
  std::unique_ptr<RawPeer> peer;
  std::unique_ptr<RingWriter> ring;  // announced, never written
};

// A victim port with default options whose raw peer offered a ring and
// announced one it will never write.
Victim OpenVictim() {
  testing::SocketPair sp = testing::MakeSocketPair();
  Victim v;
  v.peer = std::make_unique<RawPeer>(std::move(sp.b));
  PortOptions hello;
  hello.geometry = testing::kRawPeerGeometry;
  hello.max_segments = 4;
  v.peer->SendHello(hello);
  auto port = Port::Open(std::move(sp.a), {.pid = ::getpid()}, PortOptions{});
  EXPECT_TRUE(port.ok()) << port.status();
  if (port.ok()) v.port = *std::move(port);
  v.ring = v.peer->AnnounceRing();
  return v;
}

// Sends `message()` until the victim stops taking them or `count` went.
std::thread Flood(int count, std::function<absl::Status()> message,
                  std::atomic<int>& n) {
  return std::thread([count, message, &n] {
    while (n.load() < count && message().ok()) n.fetch_add(1);
  });
}

// Receives until the port closes; nothing may be delivered.
absl::Status ReceiveUntilClosed(Port& port) {
  auto m = port.Receive(kBound);
  EXPECT_FALSE(m.ok()) << "a message was delivered";
  return m.status();
}

TEST(PortReorderStashTest, InlineFloodAheadOfTheMarkerIsBoundedInBytes) {
  Victim v = OpenVictim();
  ASSERT_NE(v.port, nullptr);
  // One 60 KB inline DATA, built once: the flood must not cost this
  // process (the victim's) memory of its own.
  wire::Encoder e(wire::MessageType::kData, 1);
  const std::vector<uint8_t> payload(60 * 1000, 0x5a);
  e.SetInlineLength(payload.size());
  std::vector<uint8_t> bytes(e.bytes().begin(), e.bytes().end());
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  ASSERT_LE(bytes.size(), wire::kMaxMessageBytes);

  testing::ResetPeakResident();
  const uint64_t before = testing::PeakResidentBytes();
  std::atomic<int> sent{0};
  std::thread flood = Flood(
      8000, [&] { return v.peer->TrySend(bytes); }, sent);
  const absl::Status end = ReceiveUntilClosed(*v.port);
  flood.join();

  EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
  const std::string reason(v.port->closed_reason().message());
  EXPECT_THAT(reason, HasSubstr("protocol error from the peer"));
  EXPECT_THAT(reason, HasSubstr("PortOptions.max_stash_bytes = 4194304"));
  EXPECT_EQ(v.port->stats().protocol_errors, 1u);
  EXPECT_EQ(v.port->stats().messages_received, 0u);
  // Unbounded, 8,000 x 60 KB would be 480 MB; the bound is 4 MiB.
  EXPECT_LT(sent.load(), 8000);
  EXPECT_LT(testing::PeakResidentBytes() - before, 32u << 20)
      << "peak grew by " << (testing::PeakResidentBytes() - before) << " bytes";
}

TEST(PortReorderStashTest, SegmentFloodAheadOfTheMarkerIsBoundedInFds) {
  const int fds_before_port = testing::CountOpenFds();
  {
    Victim v = OpenVictim();
    ASSERT_NE(v.port, nullptr);
    const int baseline = testing::CountOpenFds();
    // 1,100 NEW_SEGMENTs, each with a fresh memfd (the raw peer closes its
    // own copy once sent: what stays open is the victim's).
    std::atomic<int> sent{0};
    std::atomic<uint32_t> id{0};
    std::thread flood = Flood(
        1100, [&] { return v.peer->TryAnnounce(id++ % 4); }, sent);
    std::atomic<int> peak{0};
    // Sample the victim's fds while it reads: within the bound throughout.
    std::atomic<bool> reading{true};
    std::thread census([&] {
      while (reading.load()) {
        peak.store(std::max(peak.load(), testing::CountOpenFds() - baseline));
      }
    });
    const absl::Status end = ReceiveUntilClosed(*v.port);
    flood.join();
    reading.store(false);
    census.join();

    EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
    const std::string reason(v.port->closed_reason().message());
    EXPECT_THAT(reason, HasSubstr("protocol error from the peer"));
    EXPECT_THAT(reason, HasSubstr("PortOptions.max_stash_fds = 64"));
    EXPECT_THAT(reason, Not(HasSubstr("out of file descriptors")));
    EXPECT_EQ(v.port->stats().protocol_errors, 1u);
    EXPECT_LT(sent.load(), 1100);
    // 64 stashed, plus the one in hand and the flood's own memfd in flight.
    EXPECT_LE(peak.load(), 64 + 4);
    // The port is closed but still alive: every stashed fd is back.
    EXPECT_EQ(testing::CountOpenFds(), baseline)
        << testing::ListOpenFds().size();
  }
  EXPECT_EQ(testing::CountOpenFds(), fds_before_port);
}

TEST(PortReorderStashTest, ACorrectPeerStillGetsItsMessagesThroughAFullRing) {
  // The bounds must not bite a real sender: a burst large enough to spill
  // from the ring to the socket arrives whole and in order.
  auto ports = testing::OpenLocalPorts();
  ASSERT_TRUE(ports.ok()) << ports.status();
  constexpr int kMessages = 5000;
  std::thread sender([&] {
    const std::vector<uint8_t> body(900, 7);
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_TRUE(ports->a->SendCopy(static_cast<uint32_t>(i), body).ok());
    }
  });
  // Start reading only once the ring overflowed onto the socket.
  ASSERT_TRUE(testing::Eventually(
      [&] { return ports->a->stats().ring_fallbacks > 0; }, kBound));
  for (int i = 0; i < kMessages; ++i) {
    auto m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_EQ(m->stream(), static_cast<uint32_t>(i));
  }
  sender.join();
  EXPECT_EQ(ports->b->stats().protocol_errors, 0u);
}

}  // namespace
}  // namespace shmport
