// Acceptance (issue 3, item 2): a 64 MiB payload crosses when the pool
// allows it; one buffer larger than a segment's data area is refused with a
// clear error, and SendCopy splits such a payload into ordered fragments.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"

namespace shmport {
namespace {

using testing::CheckPattern;
using testing::FillPattern;
using ::testing::HasSubstr;

constexpr size_t k64MiB = 64u << 20;
constexpr absl::Duration kBound = absl::Seconds(60);

// The child receives one message, checks it against `seed` and reports how
// many fragments it had in its exit code (or 90+ on failure).
int ReceiveAndCheck(Port& port, uint64_t seed) {
  auto m = port.Receive(kBound);
  if (!m.ok()) return 90;
  if (m->size() != k64MiB) return 91;
  if (!CheckPattern(*m, seed)) return 92;
  if (!m->in_shared_memory()) return 93;
  return static_cast<int>(m->fragment_count());
}

TEST(PortLargePayloadTest, SixtyFourMiBInOneBufferWhenTheGeometryAllowsIt) {
  PortOptions big;
  big.geometry = {64 * 1024, 1024};  // 64 MiB per segment
  big.max_segments = 2;
  auto peer = testing::ForkPeer(
      [](Port& port) { return ReceiveAndCheck(port, 64); }, big, big);
  ASSERT_TRUE(peer.ok()) << peer.status();
  auto b = peer->port->Allocate(k64MiB, kBound);
  ASSERT_TRUE(b.ok()) << b.status();
  FillPattern(b->data(), b->size(), 64);
  ASSERT_TRUE(peer->port->Send(1, *std::move(b)).ok());
  EXPECT_EQ(peer->child.Wait(kBound), "exit 1");  // one fragment
}

TEST(PortLargePayloadTest, BufferLargerThanASegmentIsRefused) {
  auto ports = testing::OpenLocalPorts();  // default 16 MiB segments
  ASSERT_TRUE(ports.ok());
  auto b = ports->a->Allocate(k64MiB);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(b.status().message()),
              HasSubstr("cannot allocate 67108864 bytes"));
}

TEST(PortLargePayloadTest, SendCopySplitsSixtyFourMiBIntoOrderedFragments) {
  auto peer =
      testing::ForkPeer([](Port& port) { return ReceiveAndCheck(port, 65); });
  ASSERT_TRUE(peer.ok()) << peer.status();
  std::vector<uint8_t> payload(k64MiB);
  FillPattern(payload.data(), payload.size(), 65);
  ASSERT_TRUE(peer->port->SendCopy(1, payload).ok());
  EXPECT_EQ(peer->child.Wait(kBound), "exit 4");  // 4 x 16 MiB fragments
}

TEST(PortLargePayloadTest, PayloadBeyondThePortsWholePoolIsRefused) {
  auto ports = testing::OpenLocalPorts(testing::SmallPortOptions(16, 2));
  ASSERT_TRUE(ports.ok());
  std::vector<uint8_t> payload(200 * 1024);
  absl::Status s = ports->a->SendCopy(1, payload);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("exceeds this port's shared memory"));
}

}  // namespace
}  // namespace shmport
