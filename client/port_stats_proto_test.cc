#include "client/port_stats_proto.h"

#include <set>
#include <string>
#include <type_traits>

#include "client/port_counters.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace shmport::internal {
namespace {

// A PortStats whose every reported field holds a distinct value: field i
// (in list order) holds 1000 + i.
PortStats Numbered() {
  PortStats s;
  int i = 0;
  ForEachReportedStat([&](const char*, auto field) {
    s.*field =
        static_cast<std::remove_reference_t<decltype(s.*field)>>(1000 + i++);
  });
  return s;
}

TEST(PortStatsProtoTest, EveryReportedStatNamesAProtoField) {
  const auto* descriptor = v1::PortEndStats::descriptor();
  ForEachReportedStat([&](const char* name, auto) {
    EXPECT_NE(descriptor->FindFieldByName(name), nullptr)
        << name << " is not a field of PortEndStats";
  });
}

TEST(PortStatsProtoTest, EveryProtoFieldButTheTimestampCarriesItsStat) {
  const v1::PortEndStats proto = PortEndStatsProto(Numbered());
  const auto* descriptor = proto.GetDescriptor();
  const auto* reflection = proto.GetReflection();
  std::set<uint64_t> seen;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* f = descriptor->field(i);
    if (f->name() == "updated_at_unix_ms") continue;
    const uint64_t value =
        f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT32
            ? reflection->GetUInt32(proto, f)
            : reflection->GetUInt64(proto, f);
    EXPECT_GE(value, 1000u) << f->name() << " is not produced from PortStats";
    EXPECT_TRUE(seen.insert(value).second)
        << f->name() << " carries another field's value";
  }
  EXPECT_EQ(proto.updated_at_unix_ms(), 0);
}

TEST(PortStatsProtoTest, SpinCountersReachTheProto) {
  PortStats s;
  s.receive_spins = 7;
  s.receive_spin_hits = 5;
  const v1::PortEndStats proto = PortEndStatsProto(s);
  EXPECT_EQ(proto.receive_spins(), 7u);
  EXPECT_EQ(proto.receive_spin_hits(), 5u);
}

TEST(PortCountersTest, ReadCountersCopiesEveryCounter) {
  PortCounters c;
  int i = 0;
  ForEachCounter(
      [&](const char*, auto counter, auto) { (c.*counter).store(2000 + i++); });
  c.closed.store(true);
  PortStats s;
  ReadCounters(c, s);
  i = 0;
  ForEachCounter([&](const char* name, auto, auto field) {
    EXPECT_EQ(static_cast<uint64_t>(s.*field), 2000u + i++) << name;
  });
  EXPECT_TRUE(s.closed);
}

}  // namespace
}  // namespace shmport::internal
