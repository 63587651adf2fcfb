// PortResumption: a re-declared port comes back only with both halves, and
// what waits is bounded. Each attack is one test.
#include "server/port_resumption.h"

#include "gtest/gtest.h"

namespace shmport::server {
namespace {

v1::ResumePorts Declares(uint64_t port_id, int32_t peer_pid, bool initiator) {
  v1::ResumePorts r;
  v1::ResumedPort* p = r.add_ports();
  p->set_port_id(port_id);
  p->set_peer_pid(peer_pid);
  p->set_initiator(initiator);
  p->mutable_geometry()->set_chunk_size(4096);
  return r;
}

// Process 1 (pid 100) opened port 7 to process 2 (pid 200).
TEST(PortResumptionTest, BothHalvesMatchInEitherOrder) {
  for (bool opener_first : {true, false}) {
    PortResumption table;
    auto opener = [&] {
      return table.Declare(1, 100, Declares(7, 200, true), 8);
    };
    auto peer = [&] {
      return table.Declare(2, 200, Declares(7, 100, false), 8);
    };
    const PortResumption::Outcome first = opener_first ? opener() : peer();
    EXPECT_EQ(first.waiting, 1u);
    EXPECT_TRUE(first.matched.empty());
    const PortResumption::Outcome second = opener_first ? peer() : opener();
    ASSERT_EQ(second.matched.size(), 1u);
    EXPECT_EQ(second.matched[0].port_id, 7u);
    EXPECT_EQ(second.matched[0].a, 1u);  // the opener, whoever came first
    EXPECT_EQ(second.matched[0].b, 2u);
    EXPECT_EQ(second.matched[0].geometry.chunk_size(), 4096u);
    EXPECT_EQ(table.pending(), 0u);
  }
}

TEST(PortResumptionTest, AClaimToSomeoneWhoClaimsAnotherPeerDoesNotMatch) {
  PortResumption table;
  // Process 2 really has port 7 with process 1 (pid 100).
  table.Declare(2, 200, Declares(7, 100, false), 8);
  // Process 3 (pid 300) claims port 7 to process 2: 2 named pid 100.
  const PortResumption::Outcome attack =
      table.Declare(3, 300, Declares(7, 200, true), 8);
  EXPECT_TRUE(attack.matched.empty());
  // The rightful opener still gets its port.
  EXPECT_EQ(table.Declare(1, 100, Declares(7, 200, true), 8).matched.size(),
            1u);
}

TEST(PortResumptionTest, AClaimNobodyMakesBackStaysUnmatched) {
  PortResumption table;
  EXPECT_TRUE(table.Declare(3, 300, Declares(7, 200, true), 8).matched.empty());
  // A claim with the same initiator flag is not the other half either.
  EXPECT_TRUE(table.Declare(2, 200, Declares(7, 300, true), 8).matched.empty());
  EXPECT_EQ(table.pending(), 2u);
}

TEST(PortResumptionTest, ARegistrationCannotCompleteItsOwnDeclaration) {
  PortResumption table;
  v1::ResumePorts both_halves = Declares(7, 100, true);
  *both_halves.add_ports() = Declares(7, 100, false).ports(0);
  const PortResumption::Outcome o = table.Declare(1, 100, both_halves, 8);
  EXPECT_TRUE(o.matched.empty());
  EXPECT_EQ(o.waiting, 1u);
  EXPECT_EQ(o.refused, 1u);  // the second half: a duplicate of its own
  // Two sessions of one process (same pid) are two registrations: they do.
  EXPECT_EQ(table.Declare(2, 100, Declares(7, 100, false), 8).matched.size(),
            1u);
}

TEST(PortResumptionTest, ADeclarationWithoutIdOrPidIsRefused) {
  PortResumption table;
  EXPECT_EQ(table.Declare(1, 100, Declares(0, 200, true), 8).refused, 1u);
  EXPECT_EQ(table.Declare(1, 100, Declares(7, 0, true), 8).refused, 1u);
  EXPECT_EQ(table.pending(), 0u);
}

TEST(PortResumptionTest, WaitingDeclarationsAreBoundedPerProcessAndForgotten) {
  PortResumption table;
  v1::ResumePorts many;
  for (uint64_t id = 1; id <= 100; ++id) {
    *many.add_ports() = Declares(id, 200, true).ports(0);
  }
  *many.add_ports() = Declares(1, 200, true).ports(0);  // a duplicate
  const PortResumption::Outcome o = table.Declare(1, 100, many, 10);
  EXPECT_EQ(o.waiting, 10u);
  EXPECT_EQ(o.refused, 91u);
  EXPECT_EQ(table.Declare(1, 100, many, 10).waiting, 0u);  // still full
  EXPECT_EQ(table.pending(), 10u);
  table.Forget(1);
  EXPECT_EQ(table.pending(), 0u);
  // Forgotten: the other half finds nothing.
  EXPECT_TRUE(
      table.Declare(2, 200, Declares(1, 100, false), 10).matched.empty());
}

}  // namespace
}  // namespace shmport::server
