#include "cli/json_schema.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/descriptor.h"

namespace shmport::cli {

std::string ProcessStateName(v1::ProcessState state) {
  switch (state) {
    case v1::PROCESS_STATE_REGISTERED:
      return "registered";
    case v1::PROCESS_STATE_ATTACHED:
      return "attached";
    default:
      return "unknown";
  }
}

std::string EventKindName(v1::Event::Kind kind) {
  switch (kind) {
    case v1::Event::PROCESS_REGISTERED:
      return "process_registered";
    case v1::Event::PROCESS_EXITED:
      return "process_exited";
    case v1::Event::PORT_OPENED:
      return "port_opened";
    case v1::Event::PORT_CLOSED:
      return "port_closed";
    default:
      return "unknown";
  }
}

Json GeometryJson(const v1::Geometry& g) {
  return Json::Object()
      .Set("chunk_size", g.chunk_size())
      .Set("chunk_count", g.chunk_count())
      .Set("max_segments", g.max_segments())
      .Set("inline_threshold", g.inline_threshold());
}

Json ProcessJson(const v1::ProcessInfo& p) {
  // Sorted, so the output does not depend on the map's iteration order.
  std::vector<std::pair<std::string, std::string>> labels(p.labels().begin(),
                                                          p.labels().end());
  std::sort(labels.begin(), labels.end());
  Json label_json = Json::Object();
  for (const auto& [key, value] : labels) label_json.Set(key, value);
  return Json::Object()
      .Set("id", p.id())
      .Set("name", p.name())
      .Set("pid", p.pid())
      .Set("pid_namespace", p.pid_namespace())
      .Set("namespace_pid", p.namespace_pid())
      .Set("uid", p.uid())
      .Set("gid", p.gid())
      .Set("state", ProcessStateName(p.state()))
      .Set("version", p.version())
      .Set("registered_at_unix_ms", p.registered_at_unix_ms())
      .Set("port_count", p.port_count())
      .Set("labels", std::move(label_json));
}

Json PortEndStatsJson(const v1::PortEndStats& s) {
  // Every field, by its proto name: a counter added to PortEndStats shows
  // up here without another copy. The report's time comes last.
  Json json = Json::Object();
  const google::protobuf::Descriptor* descriptor = s.GetDescriptor();
  const google::protobuf::Reflection* reflection = s.GetReflection();
  const google::protobuf::FieldDescriptor* updated = nullptr;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = descriptor->field(i);
    if (f->name() == "updated_at_unix_ms") {
      updated = f;
      continue;
    }
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        json.Set(f->name(), reflection->GetUInt32(s, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
        json.Set(f->name(), reflection->GetUInt64(s, f));
        break;
      default:
        break;  // PortEndStats holds counters only
    }
  }
  if (updated != nullptr) {
    json.Set(updated->name(), reflection->GetInt64(s, updated));
  }
  return json;
}

namespace {

Json PortEndJson(const v1::PortEnd& end) {
  return Json::Object()
      .Set("process_id", end.process_id())
      .Set("name", end.name())
      .Set("stats", end.stats().updated_at_unix_ms() == 0
                        ? Json()
                        : PortEndStatsJson(end.stats()));
}

// Rates are estimates from one-second reports: a tenth is precision enough.
double Tenths(double value) { return std::round(value * 10) / 10; }

Json RateJson(const DirectionRate& r) {
  return Json::Object()
      .Set("bytes_per_second", Tenths(r.bytes_per_second))
      .Set("messages_per_second", Tenths(r.messages_per_second));
}

}  // namespace

Json PortJson(const v1::PortInfo& port) {
  return Json::Object()
      .Set("id", port.id())
      .Set("opened_at_unix_ms", port.opened_at_unix_ms())
      .Set("geometry", GeometryJson(port.geometry()))
      .Set("a", PortEndJson(port.a()))
      .Set("b", PortEndJson(port.b()));
}

Json StatusJson(const v1::GetStatusResponse& s) {
  return Json::Object()
      .Set("version", s.version())
      .Set("pid", s.pid())
      .Set("started_at_unix_ms", s.started_at_unix_ms())
      .Set("uptime_ms", s.uptime_ms())
      .Set("listen_address", s.listen_address())
      .Set("broker_address", s.broker_address())
      .Set("processes", s.processes())
      .Set("ports", s.ports());
}

Json DaemonStatsJson(const v1::DaemonStats& s) {
  return Json::Object()
      .Set("processes", s.processes())
      .Set("ports", s.ports())
      .Set("registrations_total", s.registrations_total())
      .Set("ports_opened_total", s.ports_opened_total())
      .Set("registrations_expired", s.registrations_expired())
      .Set("attach_refused", s.attach_refused())
      .Set("events_dropped", s.events_dropped())
      .Set("watchers", s.watchers())
      .Set("rss_bytes", s.rss_bytes())
      .Set("open_fds", s.open_fds());
}

Json EventJson(const v1::Event& e) {
  Json j = Json::Object()
               .Set("sequence", e.sequence())
               .Set("time_unix_ms", e.time_unix_ms())
               .Set("kind", EventKindName(e.kind()));
  if (e.has_process()) j.Set("process", ProcessJson(e.process()));
  if (e.has_port()) j.Set("port", PortJson(e.port()));
  j.Set("reason", e.reason());
  return j;
}

Json PortRateJson(const PortRate& r) {
  return Json::Object()
      .Set("id", r.port_id)
      .Set("a", r.a_name)
      .Set("b", r.b_name)
      .Set("measured", r.measured)
      .Set("a_to_b", RateJson(r.a_to_b))
      .Set("b_to_a", RateJson(r.b_to_a))
      .Set("chunks_in_use", r.chunks_in_use)
      .Set("oosm_waits", r.oosm_waits)
      .Set("protocol_errors", r.protocol_errors);
}

Json ProcessTrafficJson(const ProcessTraffic& t) {
  return Json::Object()
      .Set("process_id", t.process_id)
      .Set("name", t.name)
      .Set("ports", t.ports)
      .Set("messages_sent", t.messages_sent)
      .Set("bytes_sent", t.bytes_sent)
      .Set("messages_received", t.messages_received)
      .Set("bytes_received", t.bytes_received)
      .Set("chunks_in_use", t.chunks_in_use)
      .Set("oosm_waits", t.oosm_waits)
      .Set("protocol_errors", t.protocol_errors);
}

}  // namespace shmport::cli
