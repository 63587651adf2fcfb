#include "server/registry.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::server {
namespace {

using ::testing::HasSubstr;

v1::ProcessInfo Named(const std::string& name) {
  v1::ProcessInfo info;
  info.set_name(name);
  return info;
}

TEST(RegistryTest, NameOfAnAttachedProcessIsAlreadyExistsNamingTheHolder) {
  Registry r;
  auto a = r.AddProcess(Named("a"), "t");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(r.Attach((*a)->info.id(), 1000, 1000).ok());
  auto again = r.AddProcess(Named("a"), "t2");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("process 1"));
}

TEST(RegistryTest, UnattachedRegistrationsDoNotReserveTheNameFirstAttachWins) {
  Registry r;
  const uint64_t squatter = (*r.AddProcess(Named("router"), "s"))->info.id();
  const uint64_t rightful = (*r.AddProcess(Named("router"), "r"))->info.id();
  EXPECT_EQ(r.unattached_count(), 2u);
  ASSERT_TRUE(r.Attach(rightful, 1000, 1000).ok());
  EXPECT_EQ(r.FindProcessByName("router")->info.id(), rightful);
  const absl::Status late = r.Attach(squatter, 2000, 2000);
  EXPECT_EQ(late.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(late.message(), HasSubstr(absl::StrCat("process ", rightful)));
  EXPECT_EQ(r.FindProcess(squatter)->info.state(),
            v1::PROCESS_STATE_REGISTERED);
  EXPECT_EQ(r.attached_count(), 1u);
  EXPECT_EQ(r.attached_count_of_uid(1000), 1u);
  EXPECT_EQ(r.oldest_unattached(), squatter);
  ASSERT_TRUE(r.RemoveProcess(rightful).has_value());
  EXPECT_EQ(r.attached_count_of_uid(1000), 0u);
  // The name is free again; the squatter is only a registration.
  EXPECT_EQ(r.FindProcessByName("router")->info.id(), squatter);
}

TEST(RegistryTest, PortsAreCountedPerPairAndIncomingAtTheTarget) {
  Registry r;
  const uint64_t a = (*r.AddProcess(Named("a"), "t"))->info.id();
  const uint64_t b = (*r.AddProcess(Named("b"), "t"))->info.id();
  const uint64_t ab = r.AddPort(a, b, {}, 0)->info.id();
  r.AddPort(b, a, {}, 0);
  EXPECT_EQ(r.PortsBetween(a, b), 2u);
  EXPECT_EQ(r.PortsBetween(b, a), 2u);
  EXPECT_EQ(r.FindProcess(a)->incoming_ports, 1u);
  EXPECT_EQ(r.FindProcess(b)->incoming_ports, 1u);
  ASSERT_TRUE(r.RemovePort(ab).has_value());
  EXPECT_EQ(r.PortsBetween(a, b), 1u);
  EXPECT_EQ(r.FindProcess(b)->incoming_ports, 0u);
  EXPECT_EQ(r.FindProcess(a)->incoming_ports, 1u);
}

TEST(RegistryTest, IdsAreNeverReused) {
  Registry r;
  auto a = r.AddProcess(Named("a"), "t");
  ASSERT_TRUE(a.ok());
  const uint64_t first = (*a)->info.id();
  ASSERT_TRUE(r.RemoveProcess(first).has_value());
  auto b = r.AddProcess(Named("a"), "t");
  ASSERT_TRUE(b.ok());
  EXPECT_GT((*b)->info.id(), first);
  EXPECT_EQ(r.FindProcess(first), nullptr);
}

TEST(RegistryTest, RemovingAProcessRemovesItsPortsFromBothEnds) {
  Registry r;
  const uint64_t a = (*r.AddProcess(Named("a"), "t"))->info.id();
  const uint64_t b = (*r.AddProcess(Named("b"), "t"))->info.id();
  const uint64_t c = (*r.AddProcess(Named("c"), "t"))->info.id();
  const uint64_t ab = r.AddPort(a, b, {}, 0)->info.id();
  const uint64_t bc = r.AddPort(b, c, {}, 0)->info.id();
  EXPECT_EQ(r.FindProcess(b)->info.port_count(), 2u);
  auto removed = r.RemoveProcess(a);
  ASSERT_TRUE(removed.has_value());
  ASSERT_EQ(removed->ports.size(), 1u);
  EXPECT_EQ(removed->ports[0].info.id(), ab);
  EXPECT_EQ(r.FindPort(ab), nullptr);
  EXPECT_NE(r.FindPort(bc), nullptr);
  EXPECT_EQ(r.FindProcess(b)->info.port_count(), 1u);
  EXPECT_EQ(r.FindProcessByName("a"), nullptr);
}

TEST(RegistryTest, PortToUnknownProcessIsNotAdded) {
  Registry r;
  const uint64_t a = (*r.AddProcess(Named("a"), "t"))->info.id();
  EXPECT_EQ(r.AddPort(a, 99, {}, 0), nullptr);
  EXPECT_TRUE(r.ports().empty());
}

TEST(RegistryTest, PortRecordsNamesAndOpenerAsEndA) {
  Registry r;
  const uint64_t a = (*r.AddProcess(Named("opener"), "t"))->info.id();
  const uint64_t b = (*r.AddProcess(Named("target"), "t"))->info.id();
  PortRecord* p = r.AddPort(a, b, {}, 42);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->info.a().name(), "opener");
  EXPECT_EQ(p->info.b().name(), "target");
  EXPECT_EQ(p->info.opened_at_unix_ms(), 42);
}

// A resumed port's id is a client's number: a large one must neither wrap
// the counter onto existing ports nor be overwritten by a new port.
TEST(RegistryTest, AnExplicitPortIdNeverMovesOrWrapsTheNextId) {
  Registry r;
  const uint64_t a = (*r.AddProcess(Named("a"), "t"))->info.id();
  const uint64_t b = (*r.AddProcess(Named("b"), "t"))->info.id();
  const uint64_t first = r.AddPort(a, b, {}, 0)->info.id();
  ASSERT_NE(r.AddPort(a, b, {}, 0, UINT64_MAX - 1), nullptr);
  ASSERT_NE(r.AddPort(a, b, {}, 0, first + 1), nullptr);
  std::set<uint64_t> ids = {first, first + 1, UINT64_MAX - 1};
  for (int i = 0; i < 3; ++i) {
    PortRecord* p = r.AddPort(a, b, {}, 0);
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->info.id(), 0u);
    EXPECT_TRUE(ids.insert(p->info.id()).second)
        << "port id " << p->info.id() << " given twice";
  }
  EXPECT_EQ(r.ports().size(), 6u);
  EXPECT_EQ(r.FindPort(UINT64_MAX - 1)->info.id(), UINT64_MAX - 1);
}

}  // namespace
}  // namespace shmport::server
