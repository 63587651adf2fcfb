#include "cli/views.h"

#include "absl/strings/str_split.h"
#include "cli/table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::cli {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

v1::Geometry DefaultGeometry() {
  v1::Geometry g;
  g.set_chunk_size(16384);
  g.set_chunk_count(1024);
  g.set_max_segments(8);
  g.set_inline_threshold(1024);
  return g;
}

v1::PortInfo Port(uint64_t id) {
  v1::PortInfo p;
  p.set_id(id);
  p.mutable_a()->set_process_id(1);
  p.mutable_a()->set_name("router");
  p.mutable_b()->set_process_id(2);
  p.mutable_b()->set_name("worker-1");
  *p.mutable_geometry() = DefaultGeometry();
  return p;
}

TEST(GeometryTextTest, PrintsUnitsAndDefaults) {
  EXPECT_EQ(GeometryText(DefaultGeometry()),
            "16 KiB × 1024, 8 segments, inline < 1 KiB");
  EXPECT_EQ(GeometryText(v1::Geometry()),
            "default × default, default segments, inline < default");
}

TEST(StatusViewTest, ShowsVersionPidAddressAndCounts) {
  v1::GetStatusResponse s;
  s.set_version("0.1.0");
  s.set_pid(4242);
  s.set_uptime_ms(192'000);
  s.set_listen_address("unix:/tmp/x/control.sock");
  s.set_broker_address("/tmp/x/broker.sock");
  s.set_processes(3);
  s.set_ports(2);
  const std::string view = StatusView(s, "serving");
  EXPECT_THAT(view, HasSubstr("shmportd 0.1.0 (pid 4242)"));
  EXPECT_THAT(view, HasSubstr("health     serving"));
  EXPECT_THAT(view, HasSubstr("uptime     3m12s"));
  EXPECT_THAT(view, HasSubstr("address    unix:/tmp/x/control.sock"));
  EXPECT_THAT(view, HasSubstr("processes  3\n"));
  EXPECT_THAT(view, HasSubstr("ports      2\n"));
}

TEST(ProcessTableTest, OneRowPerProcessOrderedById) {
  v1::ListProcessesResponse r;
  v1::ProcessInfo* w = r.add_processes();
  w->set_id(2);
  w->set_name("worker-1");
  w->set_pid(101);
  w->set_uid(1000);
  w->set_state(v1::PROCESS_STATE_ATTACHED);
  w->set_registered_at_unix_ms(absl::ToUnixMillis(kNow - absl::Seconds(5)));
  (*w->mutable_labels())["role"] = "worker";
  (*w->mutable_labels())["demo"] = "1";
  v1::ProcessInfo* router = r.add_processes();
  router->set_id(1);
  router->set_name("router");
  router->set_pid(100);
  router->set_uid(1000);
  router->set_state(v1::PROCESS_STATE_REGISTERED);
  router->set_port_count(2);
  router->set_registered_at_unix_ms(
      absl::ToUnixMillis(kNow - absl::Seconds(192)));
  EXPECT_EQ(ProcessTable(r, kNow),
            "ID  NAME      PID   UID  STATE         AGE  PORTS  LABELS\n"
            " 1  router    100  1000  registered  3m12s      2  \n"
            " 2  worker-1  101  1000  attached       5s      0  "
            "demo=1,role=worker\n");
}

TEST(PortTableTest, DirectionsComeFromTheSendersAndUnreportedEndsShowDashes) {
  google::protobuf::RepeatedPtrField<v1::PortInfo> ports;
  v1::PortInfo p = Port(7);
  v1::PortEndStats* a = p.mutable_a()->mutable_stats();
  a->set_updated_at_unix_ms(1);
  a->set_messages_sent(12);
  a->set_bytes_sent(3 << 20);
  a->set_segments_out(1);
  a->set_chunks_in_use(4);
  a->set_oosm_waits(2);
  *ports.Add() = p;
  const std::string table = PortTable(ports);
  EXPECT_THAT(table, HasSubstr("A → B"));
  EXPECT_THAT(table, HasSubstr("router → worker-1"));
  EXPECT_THAT(table, HasSubstr("16 KiB × 1024, 8 segments"));
  EXPECT_THAT(table, ContainsRegex("12 +3 MiB +- +- "));
  EXPECT_THAT(table, HasSubstr("1/-"));
  EXPECT_THAT(table, HasSubstr("4/-"));
}

TEST(StatsViewTest, SumsTrafficPerProcessAndInTotal) {
  v1::GetStatsResponse stats;
  stats.mutable_daemon()->set_processes(2);
  stats.mutable_daemon()->set_rss_bytes(12 << 20);
  v1::PortInfo p = Port(7);
  p.mutable_a()->mutable_stats()->set_updated_at_unix_ms(1);
  p.mutable_a()->mutable_stats()->set_messages_sent(10);
  p.mutable_a()->mutable_stats()->set_bytes_sent(2048);
  p.mutable_b()->mutable_stats()->set_updated_at_unix_ms(1);
  p.mutable_b()->mutable_stats()->set_messages_received(10);
  p.mutable_b()->mutable_stats()->set_bytes_received(2048);
  *stats.add_ports() = p;
  const std::string view = StatsView(stats);
  EXPECT_THAT(view, HasSubstr("memory         12 MiB resident"));
  EXPECT_THAT(view, HasSubstr(" 1  router"));
  EXPECT_THAT(view, HasSubstr(" 2  worker-1"));
  // The total row counts the port once and both ends' traffic.
  EXPECT_THAT(view, ContainsRegex("total +1 +10 +2 KiB +10 +2 KiB"));
}

TEST(StatsViewTest, KeepsWhatClosedPortsCarriedInItsOwnRowAndTheTotal) {
  v1::GetStatsResponse stats;
  v1::ClosedPortTotals* closed = stats.mutable_daemon()->mutable_closed_ports();
  closed->set_ports(3);
  closed->set_messages_sent(30);
  closed->set_bytes_sent(3 << 20);
  closed->set_messages_received(30);
  closed->set_bytes_received(3 << 20);
  v1::PortInfo p = Port(7);
  p.mutable_a()->mutable_stats()->set_messages_sent(10);
  p.mutable_a()->mutable_stats()->set_bytes_sent(1 << 20);
  *stats.add_ports() = p;
  const std::string view = StatsView(stats);
  EXPECT_THAT(view,
              ContainsRegex("\\(closed ports\\) +3 +30 +3 MiB +30 +3 MiB"));
  // Live plus closed: the traffic since the daemon started.
  EXPECT_THAT(view, ContainsRegex("total +4 +40 +4 MiB +30 +3 MiB"));
}

TEST(EventLineTest, DescribesProcessEventsWithTheirReason) {
  v1::Event e;
  e.set_sequence(12);
  e.set_time_unix_ms(absl::ToUnixMillis(kNow) + 123);
  e.set_kind(v1::Event::PROCESS_EXITED);
  e.mutable_process()->set_id(3);
  e.mutable_process()->set_name("worker-1");
  e.mutable_process()->set_pid(1234);
  e.mutable_process()->set_uid(1000);
  e.set_reason("broker link closed");
  EXPECT_EQ(EventLine(e, absl::UTCTimeZone()),
            "08:00:00.123  #12  process_exited      worker-1 (id 3, pid 1234, "
            "uid 1000): broker link closed");
}

TEST(EventLineTest, DescribesPortEventsWithGeometry) {
  v1::Event e;
  e.set_sequence(13);
  e.set_time_unix_ms(absl::ToUnixMillis(kNow));
  e.set_kind(v1::Event::PORT_OPENED);
  *e.mutable_port() = Port(7);
  EXPECT_THAT(EventLine(e, absl::UTCTimeZone()),
              HasSubstr("port_opened         port 7: router → worker-1 (16 "
                        "KiB × 1024, 8 segments, inline < 1 KiB)"));
}

TEST(TopViewTest, ShowsRatesOfTheBusiestPortsUpToTheLimit) {
  v1::GetStatusResponse s;
  s.set_version("0.1.0");
  s.set_listen_address("unix:/x");
  s.set_processes(3);
  s.set_ports(2);
  PortRate busy;
  busy.port_id = 7;
  busy.a_name = "router";
  busy.b_name = "worker-1";
  busy.a_to_b = {3.1e9, 1.2e6};
  busy.measured = true;
  PortRate idle;
  idle.port_id = 8;
  const std::string view =
      TopView(s, {busy, idle}, /*limit=*/1, kNow, absl::UTCTimeZone());
  EXPECT_THAT(view, HasSubstr("3 processes, 2 ports, 3.1 GB/s — 08:00:00"));
  EXPECT_THAT(view, HasSubstr("router → worker-1  3.1 GB/s   1.2M"));
  EXPECT_THAT(view, HasSubstr("(1 more port)"));
  EXPECT_THAT(view, Not(HasSubstr("\n    8 ")));
}

TEST(TopViewTest, FitsTheWidthAndCountsInTheSingular) {
  v1::GetStatusResponse s;
  s.set_version("0.1.0");
  s.set_listen_address(
      "unix:/a/very/long/runtime/directory/path/that/goes/"
      "on/and/on/shmport/control.sock");
  s.set_processes(1);
  s.set_ports(1);
  PortRate r;
  r.port_id = 12;
  r.a_name = "a-worker-with-a-long-name";
  r.b_name = "the-router-with-an-even-longer-name";
  r.a_to_b = {123.4e6, 123.4e3};
  r.b_to_a = {12.3e3, 1.2e3};
  r.chunks_in_use = 8192;
  r.chunks_total = 16384;
  r.measured = true;
  const std::string view = TopView(s, {r}, 20, kNow, absl::UTCTimeZone(), 80);
  EXPECT_THAT(view, HasSubstr("1 process, 1 port,"));
  EXPECT_THAT(view, HasSubstr("8192/16384"));
  for (absl::string_view line : absl::StrSplit(view, '\n')) {
    EXPECT_LE(DisplayWidth(line), 80u) << line;
  }
}

TEST(TopViewTest, ShowsTheChosenPortsInIdOrder) {
  PortRate busy, calm;
  busy.port_id = 7;
  busy.a_name = "busy";
  busy.a_to_b = {3e9, 1e6};
  calm.port_id = 3;
  calm.a_name = "calm";
  calm.a_to_b = {1e3, 1};
  const std::string view = TopView(v1::GetStatusResponse(), {busy, calm}, 2,
                                   kNow, absl::UTCTimeZone());
  ASSERT_NE(view.find("calm →"), std::string::npos) << view;
  EXPECT_LT(view.find("calm →"), view.find("busy →")) << view;
}

TEST(TopViewTest, WaitingViewSaysTheDaemonDoesNotAnswer) {
  const std::string view = TopWaitingView("unix:/x", "is shmportd running?",
                                          kNow, absl::UTCTimeZone(), 80);
  EXPECT_THAT(view, HasSubstr("shmportd does not answer"));
  EXPECT_THAT(view, HasSubstr("is shmportd running?"));
}

TEST(TopViewTest, UnmeasuredPortsShowAnEllipsis) {
  PortRate fresh;
  fresh.port_id = 1;
  EXPECT_THAT(
      TopView(v1::GetStatusResponse(), {fresh}, 20, kNow, absl::UTCTimeZone()),
      HasSubstr("…"));
}

}  // namespace
}  // namespace shmport::cli
