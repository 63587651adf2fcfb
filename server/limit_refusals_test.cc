#include "server/limit_refusals.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::server {
namespace {

using ::testing::Contains;
using ::testing::Pair;

TEST(LimitNamedInTest, FindsTheLimitARefusalNames) {
  EXPECT_EQ(LimitNamedIn("process 3 has 64 ports, the limit for one pair "
                         "(limits.max_ports_per_pair)"),
            "limits.max_ports_per_pair");
  EXPECT_EQ(LimitNamedIn("12 control connections are open "
                         "(connections.max_control_connections = 12)"),
            "connections.max_control_connections");
}

TEST(LimitNamedInTest, MatchesWholeFieldNamesOnly) {
  EXPECT_EQ(LimitNamedIn("uid 5 has 9 attached processes, its limit "
                         "(limits.max_processes_per_uid)"),
            "limits.max_processes_per_uid");
  EXPECT_EQ(LimitNamedIn("the daemon holds 9 attached processes, its limit "
                         "(limits.max_processes)"),
            "limits.max_processes");
  EXPECT_EQ(LimitNamedIn("see limits.max_processesX"), "");
}

TEST(LimitNamedInTest, UnknownFieldsAreNoLabel) {
  // A client-chosen name that looks like a field mints no label.
  EXPECT_EQ(LimitNamedIn("name 'limits.max_evil' is taken"), "");
  EXPECT_EQ(LimitNamedIn("bad admin token"), "");
}

TEST(LimitRefusalsTest, CountsByLimitAndStartsEveryLimitAtZero) {
  LimitRefusals refusals;
  refusals.Count(absl::ResourceExhaustedError("x (limits.max_watchers)"));
  refusals.Count(absl::ResourceExhaustedError("y (limits.max_watchers)"));
  refusals.Count(absl::PermissionDeniedError("wrong token"));
  refusals.Count(absl::OkStatus());
  const std::vector<std::pair<std::string, uint64_t>> counts =
      refusals.Snapshot();
  EXPECT_THAT(counts, Contains(Pair("limits.max_watchers", 2)));
  EXPECT_THAT(counts, Contains(Pair("limits.max_watchers_per_uid", 0)));
  EXPECT_THAT(counts,
              Contains(Pair("connections.max_pending_broker_connections", 0)));
  uint64_t total = 0;
  for (const auto& [limit, count] : counts) total += count;
  EXPECT_EQ(total, 2u);
}

}  // namespace
}  // namespace shmport::server
