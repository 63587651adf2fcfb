#include "cli/traffic.h"

#include <map>

namespace shmport::cli {
namespace {

void Add(ProcessTraffic& t, const v1::PortEndStats& s) {
  t.messages_sent += s.messages_sent();
  t.bytes_sent += s.bytes_sent();
  t.messages_received += s.messages_received();
  t.bytes_received += s.bytes_received();
  t.chunks_in_use += s.chunks_in_use();
  t.oosm_waits += s.oosm_waits();
  t.protocol_errors += s.protocol_errors();
}

}  // namespace

std::vector<ProcessTraffic> TotalsByProcess(
    const google::protobuf::RepeatedPtrField<v1::PortInfo>& ports) {
  std::map<uint64_t, ProcessTraffic> by_id;
  for (const v1::PortInfo& port : ports) {
    for (const v1::PortEnd* end : {&port.a(), &port.b()}) {
      ProcessTraffic& t = by_id[end->process_id()];
      t.process_id = end->process_id();
      t.name = end->name();
      ++t.ports;
      Add(t, end->stats());
    }
  }
  std::vector<ProcessTraffic> totals;
  totals.reserve(by_id.size());
  for (auto& [id, t] : by_id) totals.push_back(std::move(t));
  return totals;
}

ProcessTraffic ClosedPortsTraffic(const v1::ClosedPortTotals& closed) {
  ProcessTraffic t;
  t.name = "(closed ports)";
  t.ports = static_cast<uint32_t>(closed.ports());
  t.messages_sent = closed.messages_sent();
  t.bytes_sent = closed.bytes_sent();
  t.messages_received = closed.messages_received();
  t.bytes_received = closed.bytes_received();
  t.oosm_waits = closed.oosm_waits();
  t.protocol_errors = closed.protocol_errors();
  return t;
}

ProcessTraffic TotalOf(const v1::GetStatsResponse& stats) {
  ProcessTraffic total = ClosedPortsTraffic(stats.daemon().closed_ports());
  total.name = "total";
  for (const v1::PortInfo& port : stats.ports()) {
    ++total.ports;
    Add(total, port.a().stats());
    Add(total, port.b().stats());
  }
  return total;
}

}  // namespace shmport::cli
