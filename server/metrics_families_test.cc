#include "server/metrics_families.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace shmport::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNowMs = 1'000'000;

v1::PortInfo Port(uint64_t id, const std::string& a, const std::string& b) {
  v1::PortInfo port;
  port.set_id(id);
  port.mutable_a()->set_name(a);
  port.mutable_b()->set_name(b);
  port.mutable_geometry()->set_chunk_count(64);
  port.mutable_geometry()->set_max_segments(2);
  v1::PortEndStats* s = port.mutable_a()->mutable_stats();
  s->set_bytes_sent(1000 * id);
  s->set_messages_sent(10 * id);
  s->set_chunks_in_use(5);
  s->set_segments_out(1);
  s->set_oosm_waits(3);
  s->set_updated_at_unix_ms(kNowMs - 1500);
  port.mutable_b()->mutable_stats()->set_bytes_received(1000 * id);
  return port;
}

std::string Exposition(const MetricsSnapshot& snapshot, size_t max_ports) {
  return prometheus::TextSerializer().Serialize(
      BuildMetricFamilies(snapshot, max_ports, kNowMs));
}

TEST(MetricsFamiliesTest, DaemonCountersUseTheirPrometheusNames) {
  MetricsSnapshot s;
  s.version = "1.2.3";
  s.stats.mutable_daemon()->set_registrations_total(7);
  s.stats.mutable_daemon()->set_ports_opened_total(5);
  s.stats.mutable_daemon()->set_ports(2);
  s.processes_attached = 3;
  s.refusals.push_back({"Register", "RESOURCE_EXHAUSTED", 4});
  const std::string text = Exposition(s, 10);
  EXPECT_THAT(text, HasSubstr("shmport_build_info{version=\"1.2.3\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE shmport_registrations_total counter\n"
                              "shmport_registrations_total 7\n"));
  EXPECT_THAT(text, HasSubstr("shmport_ports_closed_total 3\n"));
  EXPECT_THAT(text, HasSubstr("shmport_processes{state=\"attached\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("shmport_rpc_refusals_total{method=\"Register\","
                              "code=\"RESOURCE_EXHAUSTED\"} 4\n"));
}

TEST(MetricsFamiliesTest, LimitRefusalsAndConnectionsHaveTheirFamilies) {
  MetricsSnapshot s;
  s.limit_refusals = {{"limits.max_ports_per_pair", 3},
                      {"connections.max_control_connections", 0}};
  s.control_connections = 12;
  s.broker_pending_connections = 2;
  s.stats.mutable_daemon()->set_watchers(4);
  const std::string text = Exposition(s, 10);
  EXPECT_THAT(text, HasSubstr("# TYPE shmport_limit_refusals_total counter\n"
                              "shmport_limit_refusals_total{limit=\"limits."
                              "max_ports_per_pair\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("shmport_limit_refusals_total{limit=\""
                              "connections.max_control_connections\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("shmport_control_connections 12\n"));
  EXPECT_THAT(text, HasSubstr("shmport_broker_pending_connections 2\n"));
  EXPECT_THAT(text, HasSubstr("shmport_watchers 4\n"));
}

TEST(MetricsFamiliesTest, PortSeriesCarryPortIdNamesAndEnd) {
  MetricsSnapshot s;
  *s.stats.add_ports() = Port(4, "worker-1", "router");
  const std::string text = Exposition(s, 10);
  EXPECT_THAT(text, HasSubstr("shmport_port_sent_bytes_total{port_id=\"4\",a="
                              "\"worker-1\",b=\"router\",end=\"a\"} 4000\n"));
  EXPECT_THAT(text, HasSubstr("shmport_port_received_bytes_total{port_id=\"4\","
                              "a=\"worker-1\",b=\"router\",end=\"b\"} 4000\n"));
  EXPECT_THAT(text, HasSubstr("shmport_port_chunks_in_use{port_id=\"4\",a="
                              "\"worker-1\",b=\"router\",end=\"a\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("shmport_port_chunks{port_id=\"4\",a=\"worker-1\""
                              ",b=\"router\",end=\"a\"} 64\n"));
  EXPECT_THAT(text, HasSubstr("shmport_port_chunks_limit{port_id=\"4\",a="
                              "\"worker-1\",b=\"router\",end=\"a\"} 128\n"));
  EXPECT_THAT(text, HasSubstr("shmport_port_stats_age_seconds{port_id=\"4\",a="
                              "\"worker-1\",b=\"router\",end=\"a\"} 1.5\n"));
  // End b never reported.
  EXPECT_THAT(text, HasSubstr("shmport_port_stats_age_seconds{port_id=\"4\",a="
                              "\"worker-1\",b=\"router\",end=\"b\"} -1\n"));
}

TEST(MetricsFamiliesTest, PortSeriesAreCappedAtTheOldestPorts) {
  MetricsSnapshot s;
  for (uint64_t id : {9, 3, 7, 5}) {
    *s.stats.add_ports() = Port(id, "w" + std::to_string(id), "router");
  }
  const std::string text = Exposition(s, 2);
  EXPECT_THAT(text, HasSubstr("port_id=\"3\""));
  EXPECT_THAT(text, HasSubstr("port_id=\"5\""));
  EXPECT_THAT(text, Not(HasSubstr("port_id=\"7\"")));
  EXPECT_THAT(text, Not(HasSubstr("port_id=\"9\"")));
  EXPECT_THAT(text, HasSubstr("shmport_metrics_ports_omitted 2\n"));
}

TEST(MetricsFamiliesTest, ClosedPortsHaveNoSeries) {
  MetricsSnapshot with_port;
  *with_port.stats.add_ports() = Port(1, "a", "b");
  EXPECT_THAT(Exposition(with_port, 10), HasSubstr("port_id=\"1\""));
  MetricsSnapshot closed;  // the next scrape, after the port closed
  EXPECT_THAT(Exposition(closed, 10), Not(HasSubstr("port_id=")));
}

}  // namespace
}  // namespace shmport::server
