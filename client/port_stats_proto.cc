#include "client/port_stats_proto.h"

#include <cstdint>

#include "client/port_counters.h"
#include "google/protobuf/descriptor.h"

namespace shmport::internal {

v1::PortEndStats PortEndStatsProto(const PortStats& stats) {
  v1::PortEndStats proto;
  const google::protobuf::Descriptor* descriptor = proto.GetDescriptor();
  const google::protobuf::Reflection* reflection = proto.GetReflection();
  ForEachReportedStat([&](const char* name, auto field) {
    const google::protobuf::FieldDescriptor* f =
        descriptor->FindFieldByName(name);
    // client/port_stats_proto_test.cc holds the names to the proto.
    if (f == nullptr) return;
    const auto value = stats.*field;
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT32) {
      reflection->SetUInt32(&proto, f, static_cast<uint32_t>(value));
    } else {
      reflection->SetUInt64(&proto, f, static_cast<uint64_t>(value));
    }
  });
  return proto;
}

}  // namespace shmport::internal
