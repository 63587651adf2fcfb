#include "cli/top_sampler.h"

#include "gtest/gtest.h"

namespace shmport::cli {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

// A port whose end a has sent `a_bytes` in `a_messages`, reported at
// `a_reported`; end b has sent nothing but reported too.
v1::PortInfo* AddPort(v1::ListPortsResponse& response, uint64_t id,
                      uint64_t a_bytes, uint64_t a_messages,
                      absl::Time a_reported) {
  v1::PortInfo* port = response.add_ports();
  port->set_id(id);
  port->mutable_a()->set_name("router");
  port->mutable_b()->set_name("worker");
  v1::PortEndStats* a = port->mutable_a()->mutable_stats();
  a->set_bytes_sent(a_bytes);
  a->set_messages_sent(a_messages);
  a->set_updated_at_unix_ms(absl::ToUnixMillis(a_reported));
  a->set_chunks_in_use(3);
  port->mutable_b()->mutable_stats()->set_updated_at_unix_ms(
      absl::ToUnixMillis(a_reported));
  port->mutable_b()->mutable_stats()->set_chunks_in_use(1);
  return port;
}

TEST(TopSamplerTest, FirstSnapshotIsNotYetMeasured) {
  TopSampler sampler;
  v1::ListPortsResponse s;
  AddPort(s, 1, 1000, 10, kT0);
  std::vector<PortRate> rates = sampler.Update(s, kT0);
  ASSERT_EQ(rates.size(), 1u);
  EXPECT_FALSE(rates[0].measured);
  EXPECT_EQ(rates[0].a_to_b.bytes_per_second, 0);
  EXPECT_EQ(rates[0].chunks_in_use, 4u);
  EXPECT_EQ(rates[0].a_name, "router");
}

TEST(TopSamplerTest, RateDividesByTheTimeBetweenTheEndsReports) {
  TopSampler sampler;
  v1::ListPortsResponse s1, s2;
  AddPort(s1, 1, 1000, 10, kT0);
  // Reports 2 s apart, although the samples are 3 s apart.
  AddPort(s2, 1, 5000, 30, kT0 + absl::Seconds(2));
  sampler.Update(s1, kT0 + absl::Milliseconds(500));
  std::vector<PortRate> rates =
      sampler.Update(s2, kT0 + absl::Milliseconds(3500));
  ASSERT_EQ(rates.size(), 1u);
  EXPECT_TRUE(rates[0].measured);
  EXPECT_DOUBLE_EQ(rates[0].a_to_b.bytes_per_second, 2000);
  EXPECT_DOUBLE_EQ(rates[0].a_to_b.messages_per_second, 10);
  EXPECT_DOUBLE_EQ(rates[0].b_to_a.bytes_per_second, 0);
}

TEST(TopSamplerTest, UnchangedReportKeepsTheLastRateUntilStale) {
  TopSampler sampler(absl::Seconds(5));
  v1::ListPortsResponse s1, s2;
  AddPort(s1, 1, 0, 0, kT0);
  AddPort(s2, 1, 1000, 1, kT0 + absl::Seconds(1));
  sampler.Update(s1, kT0);
  sampler.Update(s2, kT0 + absl::Seconds(1));
  // The same report seen again soon after: same rate.
  std::vector<PortRate> again = sampler.Update(s2, kT0 + absl::Seconds(2));
  EXPECT_DOUBLE_EQ(again[0].a_to_b.bytes_per_second, 1000);
  // Seen again long after: the end stopped reporting, so idle.
  std::vector<PortRate> stale = sampler.Update(s2, kT0 + absl::Seconds(10));
  EXPECT_DOUBLE_EQ(stale[0].a_to_b.bytes_per_second, 0);
}

TEST(TopSamplerTest, CountersGoingBackwardsDoNotGiveNegativeRates) {
  TopSampler sampler;
  v1::ListPortsResponse s1, s2;
  AddPort(s1, 1, 5000, 5, kT0);
  AddPort(s2, 1, 100, 1, kT0 + absl::Seconds(1));  // a reconnected client
  sampler.Update(s1, kT0);
  std::vector<PortRate> rates = sampler.Update(s2, kT0 + absl::Seconds(1));
  EXPECT_GE(rates[0].a_to_b.bytes_per_second, 0);
}

TEST(TopSamplerTest, KeepsPortsInIdOrderAndForgetsClosedPorts) {
  TopSampler sampler;
  v1::ListPortsResponse s1, s2, s3;
  AddPort(s1, 1, 0, 0, kT0);
  AddPort(s1, 2, 0, 0, kT0);
  AddPort(s2, 1, 100, 1, kT0 + absl::Seconds(1));
  AddPort(s2, 2, 900, 1, kT0 + absl::Seconds(1));
  sampler.Update(s1, kT0);
  std::vector<PortRate> rates = sampler.Update(s2, kT0 + absl::Seconds(1));
  ASSERT_EQ(rates.size(), 2u);
  // Port 2 is busier, but the rows keep their places.
  EXPECT_EQ(rates[0].port_id, 1u);
  EXPECT_EQ(rates[1].port_id, 2u);

  // Port 1 closes, then a new port reuses nothing of its state.
  AddPort(s3, 2, 900, 1, kT0 + absl::Seconds(1));
  EXPECT_EQ(sampler.Update(s3, kT0 + absl::Seconds(2)).size(), 1u);
  v1::ListPortsResponse s4;
  AddPort(s4, 1, 100, 1, kT0 + absl::Seconds(3));
  std::vector<PortRate> fresh = sampler.Update(s4, kT0 + absl::Seconds(3));
  EXPECT_FALSE(fresh[0].measured);
}

TEST(TopSamplerTest, EndThatNeverReportedIsNotMeasured) {
  TopSampler sampler;
  v1::ListPortsResponse s;
  v1::PortInfo* port = s.add_ports();
  port->set_id(9);
  std::vector<PortRate> rates = sampler.Update(s, kT0);
  rates = sampler.Update(s, kT0 + absl::Seconds(1));
  EXPECT_FALSE(rates[0].measured);
}

TEST(TopSamplerTest, BusiestPicksTheHighestRatesFirst) {
  std::vector<PortRate> rates(4);
  for (size_t i = 0; i < rates.size(); ++i) rates[i].port_id = i + 1;
  rates[0].a_to_b.bytes_per_second = 10;
  rates[2].a_to_b.bytes_per_second = 30;
  rates[3].b_to_a.bytes_per_second = 20;
  std::vector<PortRate> shown = Busiest(rates, 2);
  ASSERT_EQ(shown.size(), 2u);
  EXPECT_EQ(shown[0].port_id, 3u);
  EXPECT_EQ(shown[1].port_id, 4u);
  EXPECT_EQ(Busiest(rates, 10).size(), 4u);
}

TEST(TopSamplerTest, OosmIsARateAndChunksHaveATotal) {
  TopSampler sampler;
  v1::ListPortsResponse s1, s2;
  v1::PortInfo* p1 = AddPort(s1, 1, 0, 0, kT0);
  p1->mutable_geometry()->set_chunk_count(1024);
  p1->mutable_a()->mutable_stats()->set_segments_out(2);
  p1->mutable_a()->mutable_stats()->set_oosm_waits(100);
  v1::PortInfo* p2 = AddPort(s2, 1, 0, 0, kT0 + absl::Seconds(2));
  p2->mutable_geometry()->set_chunk_count(1024);
  p2->mutable_a()->mutable_stats()->set_segments_out(2);
  p2->mutable_b()->mutable_stats()->set_segments_out(1);
  p2->mutable_a()->mutable_stats()->set_oosm_waits(110);
  sampler.Update(s1, kT0);
  std::vector<PortRate> rates = sampler.Update(s2, kT0 + absl::Seconds(2));
  ASSERT_EQ(rates.size(), 1u);
  EXPECT_DOUBLE_EQ(rates[0].oosm_per_second, 5.0);  // 10 waits in 2 s
  EXPECT_EQ(rates[0].oosm_waits, 110u);
  EXPECT_EQ(rates[0].chunks_in_use, 4u);
  EXPECT_EQ(rates[0].chunks_total, 3u * 1024);
}

}  // namespace
}  // namespace shmport::cli
