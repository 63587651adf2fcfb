#include "server/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::server {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, EmptyTextGivesEveryDefault) {
  auto c = ParseDaemonConfig("", "empty");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->attach_timeout_ms(), kDefaultAttachTimeoutMs);
  EXPECT_EQ(c->watcher_queue_limit(), kDefaultWatcherQueueLimit);
  EXPECT_EQ(c->limits().max_processes(), kDefaultMaxProcesses);
  EXPECT_EQ(c->limits().max_ports_per_process(), kDefaultMaxPortsPerProcess);
  EXPECT_EQ(c->limits().max_segments_per_port(), kDefaultMaxSegmentsPerPort);
  EXPECT_EQ(c->limits().registrations_per_second(),
            kDefaultRegistrationsPerSecond);
  EXPECT_EQ(c->limits().default_geometry().chunk_size(), kDefaultChunkSize);
}

TEST(ConfigTest, HostileNeighbourLimitsHaveDefaults) {
  auto c = ParseDaemonConfig("", "empty");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->watcher_queue_bytes(), kDefaultWatcherQueueBytes);
  const auto& l = c->limits();
  EXPECT_EQ(l.max_unattached_registrations(),
            kDefaultMaxUnattachedRegistrations);
  EXPECT_EQ(l.max_processes_per_uid(), kDefaultMaxProcessesPerUid);
  EXPECT_EQ(l.max_incoming_ports_per_process(),
            kDefaultMaxIncomingPortsPerProcess);
  EXPECT_EQ(l.max_ports_per_pair(), kDefaultMaxPortsPerPair);
  EXPECT_EQ(l.max_watchers(), kDefaultMaxWatchers);
  EXPECT_EQ(l.max_watchers_per_uid(), kDefaultMaxWatchersPerUid);
  auto given = ParseDaemonConfig(
      "watcher_queue_bytes: 4096 limits { max_ports_per_pair: 2 }", "t");
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(given->watcher_queue_bytes(), 4096u);
  EXPECT_EQ(given->limits().max_ports_per_pair(), 2u);
}

TEST(ConfigTest, GivenFieldsOverrideDefaults) {
  auto c = ParseDaemonConfig(
      "attach_timeout_ms: 200 limits { max_processes: 3 }", "t");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->attach_timeout_ms(), 200u);
  EXPECT_EQ(c->limits().max_processes(), 3u);
  EXPECT_EQ(c->limits().max_ports_per_process(), kDefaultMaxPortsPerProcess);
}

TEST(ConfigTest, ConnectionLimitsDefaultWithinEachOther) {
  auto c = ParseDaemonConfig("limits { max_processes: 100 }", "t");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& k = c->connections();
  EXPECT_EQ(k.broker_pending_timeout_ms(), kDefaultBrokerPendingTimeoutMs);
  EXPECT_EQ(k.max_pending_broker_connections_per_uid(),
            kDefaultMaxPendingBrokerConnectionsPerUid);
  EXPECT_EQ(k.max_pending_broker_connections(),
            kDefaultMaxPendingBrokerConnections);
  // One control connection per possible process, plus headroom.
  EXPECT_EQ(k.max_control_connections_per_uid(),
            100 + kControlConnectionsHeadroom);
  EXPECT_EQ(k.max_control_connections(), kDefaultMaxControlConnections);
  // A lowered total lowers the per-uid default with it.
  c = ParseDaemonConfig(
      "connections { max_pending_broker_connections: 8 "
      "max_control_connections: 16 }",
      "t");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->connections().max_pending_broker_connections_per_uid(), 8u);
  EXPECT_EQ(c->connections().max_control_connections_per_uid(), 16u);
}

TEST(ConfigTest, PerUidConnectionCapAboveTheTotalIsRefused) {
  auto c = ParseDaemonConfig(
      "connections { max_pending_broker_connections_per_uid: 9 "
      "max_pending_broker_connections: 8 }",
      "t");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(),
              HasSubstr("connections.max_pending_broker_connections_per_uid"));
  c = ParseDaemonConfig(
      "connections { max_control_connections_per_uid: 9 "
      "max_control_connections: 8 }",
      "t");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(),
              HasSubstr("connections.max_control_connections_per_uid"));
}

TEST(ConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  auto c = ParseDaemonConfig("limits {\n  max_processes: x\n}", "my.textproto");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("my.textproto:2:"));
}

TEST(ConfigTest, UnknownFieldIsRefused) {
  auto c = ParseDaemonConfig("limits { max_proceses: 3 }", "t");
  EXPECT_THAT(c.status().message(), HasSubstr("max_proceses"));
}

TEST(ConfigTest, OutOfRangeValuesNameTheField) {
  auto c = ParseDaemonConfig("limits { max_chunk_size: 3000 }", "t");
  EXPECT_THAT(c.status().message(), HasSubstr("limits.max_chunk_size = 3000"));
  c = ParseDaemonConfig("limits { max_bytes_per_port: 100 }", "t");
  EXPECT_THAT(c.status().message(), HasSubstr("limits.max_bytes_per_port"));
  c = ParseDaemonConfig("limits { default_geometry { max_segments: 9 } }", "t");
  EXPECT_THAT(c.status().message(),
              HasSubstr("default_geometry.max_segments = 9"));
}

TEST(ConfigTest, ListPageBytesDefaultsInsideGrpcsLimitAndIsBounded) {
  auto c = ParseDaemonConfig("", "t");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->list_page_bytes(), kDefaultListPageBytes);
  EXPECT_LT(c->list_page_bytes(), 4u << 20);  // gRPC's default receive cap
  EXPECT_TRUE(ParseDaemonConfig("list_page_bytes: 4096", "t").ok());
  c = ParseDaemonConfig("list_page_bytes: 4095", "t");
  EXPECT_THAT(c.status().message(), HasSubstr("list_page_bytes = 4095"));
  c = ParseDaemonConfig("list_page_bytes: 2000000000", "t");
  EXPECT_THAT(c.status().message(), HasSubstr("list_page_bytes = 2000000000"));
}

TEST(ConfigTest, ByteCapTooSmallForOneDefaultChunkIsRefused) {
  // 64 KiB chunks need 2 x (8 KiB header + 64 KiB) = 147456 bytes; with
  // less, every port of the default geometry would fail to open.
  auto c = ParseDaemonConfig(
      "limits { max_bytes_per_port: 100000 default_geometry { chunk_size: "
      "65536 chunk_count: 1 } }",
      "t");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(),
              HasSubstr("limits.max_bytes_per_port = 100000"));
  EXPECT_THAT(c.status().message(), HasSubstr("147456"));
  c = ParseDaemonConfig(
      "limits { max_bytes_per_port: 147456 default_geometry { chunk_size: "
      "65536 chunk_count: 1 } }",
      "t");
  EXPECT_TRUE(c.ok()) << c.status();
}

TEST(ConfigTest, NameRuleWithoutPatternsIsRefused) {
  auto c = ParseDaemonConfig("policy { name_rules { uid: 5 } }", "t");
  EXPECT_THAT(c.status().message(), HasSubstr("no name_patterns"));
}

TEST(ConfigTest, MissingFileIsNotFoundNamingIt) {
  auto c = LoadDaemonConfig("/nonexistent/shmportd.textproto");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/shmportd"));
}

}  // namespace
}  // namespace shmport::server
