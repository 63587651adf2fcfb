#include "server/registry.h"

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

TEST(RegistryTest, TakenNameIsAlreadyExistsNamingTheHolder) {
  Registry r;
  auto a = r.AddProcess(Named("a"), "t");
  ASSERT_TRUE(a.ok());
  auto again = r.AddProcess(Named("a"), "t2");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("process 1"));
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

}  // namespace
}  // namespace shmport::server
