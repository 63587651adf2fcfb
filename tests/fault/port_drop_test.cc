// A Port dropped by its owner while shared-memory messages still wait in
// its inbox (found by the fault suite: a worker whose peer died between two
// receives). Everything the port held must go with it.
//
// PRODUCT BUG (disabled until fixed in client/): PortCore::OnMmapData gives
// each shared-memory Message a shared_ptr back to the PortCore (to send the
// SHM_ACK it may owe), and the PortCore's inbox_ holds those Messages. When
// the Port is destroyed with such a Message still queued, ~Port only
// Close()s the core: inbox_ keeps the Message, the Message keeps the core,
// and nothing ever frees either. Leaked per port: the socket, the eventfd,
// both rings' mappings and every incoming segment's mapping. Fix: drop the
// inbox (and the reader's stash) in ~Port, or in Close() once no Receive
// can run; a Message's core_ could also be a weak_ptr.
#include "client/port.h"
#include "gtest/gtest.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr absl::Duration kBound = absl::Seconds(10);

TEST(PortDropTest, PortDroppedWithNothingQueuedReleasesEverything) {
  ProcessCensus census;
  {
    auto ports = OpenLocalPorts(SmallPortOptions(4, 1), SmallPortOptions(4, 1));
    ASSERT_TRUE(ports.ok()) << ports.status();
    ASSERT_TRUE(ports->a->SendCopy(1, std::vector<uint8_t>(4096, 1)).ok());
    auto m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

TEST(PortDropTest,
     DISABLED_PortDroppedWithQueuedSharedMemoryMessagesReleasesEverything) {
  ProcessCensus census;
  {
    auto ports = OpenLocalPorts(SmallPortOptions(4, 1), SmallPortOptions(4, 1));
    ASSERT_TRUE(ports.ok()) << ports.status();
    // The first message announces the segment (on the socket).
    ASSERT_TRUE(ports->a->SendCopy(1, std::vector<uint8_t>(4096, 1)).ok());
    auto m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
    m = Message();
    // Two more through the ring: the receiver takes in both at once and
    // hands out the first; the second stays queued.
    ASSERT_TRUE(ports->a->SendCopy(2, std::vector<uint8_t>(4096, 2)).ok());
    ASSERT_TRUE(ports->a->SendCopy(3, std::vector<uint8_t>(4096, 3)).ok());
    m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->stream(), 2u);
    // b is dropped here with message 3 in its inbox.
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

}  // namespace
}  // namespace shmport::testing
