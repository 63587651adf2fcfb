#include "server/policy.h"

#include "common/segment_layout.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config.h"

namespace shmport::server {
namespace {

using ::testing::HasSubstr;

Policy Make(const std::string& text, uid_t daemon_uid = 1000) {
  auto config = ParseDaemonConfig(text, "test");
  EXPECT_TRUE(config.ok()) << config.status();
  return Policy(*config, daemon_uid);
}

TEST(PolicyTest, DefaultAdmitsOnlyTheDaemonsUid) {
  Policy p = Make("");
  EXPECT_TRUE(p.MayAttach({.pid = 1, .uid = 1000, .gid = 5}, "x").ok());
  const absl::Status other =
      p.MayAttach({.pid = 1, .uid = 1001, .gid = 5}, "x");
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(other.message(), HasSubstr("uid 1001"));
}

TEST(PolicyTest, AllowedGidsAdmitMembers) {
  Policy p = Make("policy { allowed_gids: 77 }");
  EXPECT_TRUE(p.MayAttach({.pid = 1, .uid = 5, .gid = 77}, "x").ok());
  EXPECT_FALSE(p.MayAttach({.pid = 1, .uid = 1000, .gid = 5}, "x").ok());
}

TEST(PolicyTest, NameRulesRestrictWhatAUidMayClaim) {
  Policy p = Make(R"(policy {
    allow_any_uid: true
    name_rules { uid: 2000 name_patterns: "worker-*" }
  })");
  EXPECT_TRUE(p.MayAttach({.pid = 1, .uid = 2000}, "worker-7").ok());
  const absl::Status s = p.MayAttach({.pid = 1, .uid = 2000}, "router");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("worker-*"));
  EXPECT_TRUE(p.MayAttach({.pid = 1, .uid = 3000}, "router").ok());
}

TEST(PolicyTest, FirstMatchingPortRuleDecides) {
  Policy p = Make(R"(policy {
    port_rules { from: "bad-*" to: "*" deny: true }
    port_rules { from: "*" to: "router" }
  })");
  EXPECT_TRUE(p.MayOpen("good-1", "router").ok());
  EXPECT_THAT(p.MayOpen("bad-1", "router").message(),
              HasSubstr("port_rules[0]"));
  EXPECT_THAT(p.MayOpen("good-1", "db").message(),
              HasSubstr("no policy.port_rules entry matches"));
}

TEST(PolicyTest, NoPortRulesAllowEverything) {
  EXPECT_TRUE(Make("").MayOpen("a", "b").ok());
}

TEST(PolicyTest, GrantFillsDefaultsForZeroFields) {
  auto g = Make("").Grant({});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->chunk_size(), 16384u);
  EXPECT_EQ(g->chunk_count(), 1024u);
  EXPECT_EQ(g->max_segments(), 8u);
  EXPECT_EQ(g->inline_threshold(), 1024u);
}

TEST(PolicyTest, GrantClampsToByteLimitBySegmentsFirst) {
  Policy p = Make("limits { max_bytes_per_port: 67108864 }");  // 64 MiB
  v1::Geometry want;
  want.set_chunk_size(16384);
  want.set_chunk_count(1024);  // 16 MiB per segment
  want.set_max_segments(8);
  auto g = p.Grant(want);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->chunk_count(), 1024u);
  EXPECT_EQ(g->max_segments(), 1u);  // 2 x 16 MiB + headers fit, 2 x 2 do not
  const uint64_t total =
      2ull * g->max_segments() *
      (layout::kHeaderSize + uint64_t{g->chunk_size()} * g->chunk_count());
  EXPECT_LE(total, 67108864u);
}

TEST(PolicyTest, GrantShrinksChunkCountWhenOneSegmentIsTooBig) {
  Policy p = Make("limits { max_bytes_per_port: 4194304 }");  // 4 MiB
  auto g = p.Grant({});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->max_segments(), 1u);
  EXPECT_LT(g->chunk_count(), 1024u);
  EXPECT_LE(
      2 * (layout::kHeaderSize + uint64_t{g->chunk_size()} * g->chunk_count()),
      4194304u);
}

TEST(PolicyTest, GrantRefusesChunkSizeThatIsNotAPowerOfTwo) {
  v1::Geometry want;
  want.set_chunk_size(12288);
  const auto g = Make("").Grant(want);
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(g.status().message(), HasSubstr("12288"));
}

TEST(PolicyTest, PatternsAreShellGlobs) {
  EXPECT_TRUE(MatchesPattern("worker-*", "worker-12"));
  EXPECT_TRUE(MatchesPattern("db-?", "db-1"));
  EXPECT_FALSE(MatchesPattern("db-?", "db-12"));
}

}  // namespace
}  // namespace shmport::server
