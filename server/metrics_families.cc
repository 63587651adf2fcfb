#include "server/metrics_families.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/metrics_topics.h"

namespace shmport::server {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddSample(MetricFamily* family, double value, Labels labels) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (family->type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family->metric.push_back(std::move(metric));
}

MetricFamily Single(std::string name, std::string help, MetricType type,
                    double value) {
  MetricFamily family = Family(std::move(name), std::move(help), type);
  AddSample(&family, value);
  return family;
}

namespace {

void AddDaemonFamilies(const MetricsSnapshot& s,
                       std::vector<MetricFamily>* out) {
  const v1::DaemonStats& d = s.stats.daemon();
  constexpr MetricType kCounter = MetricType::Counter;
  constexpr MetricType kGauge = MetricType::Gauge;
  MetricFamily build =
      Family("shmport_build_info", "The running shmportd's version (always 1).",
             kGauge);
  AddSample(&build, 1, {{"version", s.version}});
  out->push_back(std::move(build));

  MetricFamily processes =
      Family("shmport_processes",
             "Registered processes by state: registered (broker link not "
             "attached yet) or attached.",
             kGauge);
  AddSample(&processes, s.processes_registered, {{"state", "registered"}});
  AddSample(&processes, s.processes_attached, {{"state", "attached"}});
  out->push_back(std::move(processes));

  out->push_back(Single("shmport_ports", "Open ports.", kGauge, d.ports()));
  out->push_back(Single("shmport_broker_links",
                        "Attached broker links (one per attached process).",
                        kGauge, s.processes_attached));
  out->push_back(Single("shmport_watchers", "Open WatchEvents streams.", kGauge,
                        d.watchers()));
  out->push_back(Single("shmport_registrations_total",
                        "Register calls accepted.", kCounter,
                        d.registrations_total()));
  out->push_back(Single("shmport_ports_opened_total",
                        "Ports opened and handed to both ends.", kCounter,
                        d.ports_opened_total()));
  // Ports only leave the registry by closing, so opened - open = closed.
  out->push_back(Single(
      "shmport_ports_closed_total", "Ports closed, for any reason.", kCounter,
      d.ports_opened_total() -
          std::min<uint64_t>(d.ports_opened_total(), d.ports())));
  out->push_back(Single("shmport_attach_refusals_total",
                        "Broker-link attaches refused (token, pid or policy).",
                        kCounter, d.attach_refused()));
  out->push_back(Single("shmport_registrations_expired_total",
                        "Registrations that never attached within "
                        "attach_timeout_ms.",
                        kCounter, d.registrations_expired()));
  out->push_back(Single("shmport_watchers_dropped_total",
                        "Watchers disconnected for lagging behind "
                        "watcher_queue_limit events or watcher_queue_bytes "
                        "bytes.",
                        kCounter, d.events_dropped()));

  MetricFamily refusals = Family(
      "shmport_rpc_refusals_total",
      "Control-plane calls answered with an error, by method and gRPC code.",
      kCounter);
  for (const RefusalCount& r : s.refusals) {
    AddSample(&refusals, r.count, {{"method", r.method}, {"code", r.code}});
  }
  out->push_back(std::move(refusals));

  MetricFamily limits =
      Family("shmport_limit_refusals_total",
             "Requests and connections refused because a configured limit was "
             "reached, by the limit's config field (docs/control-plane.md).",
             kCounter);
  for (const auto& [limit, count] : s.limit_refusals) {
    AddSample(&limits, count, {{"limit", limit}});
  }
  out->push_back(std::move(limits));
  out->push_back(Single("shmport_control_connections",
                        "Open gRPC connections to the control socket.", kGauge,
                        s.control_connections));
  out->push_back(Single("shmport_broker_pending_connections",
                        "Broker connections accepted that have not sent "
                        "Attach yet.",
                        kGauge, s.broker_pending_connections));

  out->push_back(Single("process_resident_memory_bytes",
                        "shmportd's resident memory.", kGauge, d.rss_bytes()));
  out->push_back(Single("process_open_fds", "shmportd's open file descriptors.",
                        kGauge, d.open_fds()));
}

// What a per-port value is computed from: one end of one port.
struct PortEndView {
  const v1::PortEndStats& stats;
  const v1::Geometry& geometry;
  int64_t now_ms;
};

// One per-port family: a value for each end of each port.
struct PortFamily {
  const char* name;
  const char* help;
  MetricType type;
  std::function<double(const PortEndView&)> value;
};

const std::vector<PortFamily>& PortFamilies() {
  using V = PortEndView;
  constexpr MetricType kCounter = MetricType::Counter;
  constexpr MetricType kGauge = MetricType::Gauge;
  static const auto* families = new std::vector<PortFamily>{
      {"shmport_port_sent_bytes_total", "Payload bytes this end sent.",
       kCounter, [](const V& v) { return v.stats.bytes_sent(); }},
      {"shmport_port_received_bytes_total", "Payload bytes this end received.",
       kCounter, [](const V& v) { return v.stats.bytes_received(); }},
      {"shmport_port_sent_messages_total", "Messages this end sent.", kCounter,
       [](const V& v) { return v.stats.messages_sent(); }},
      {"shmport_port_received_messages_total", "Messages this end received.",
       kCounter, [](const V& v) { return v.stats.messages_received(); }},
      {"shmport_port_oosm_waits_total",
       "Times this end waited for shared memory to free up.", kCounter,
       [](const V& v) { return v.stats.oosm_waits(); }},
      {"shmport_port_protocol_errors_total",
       "Malformed or out-of-order frames this end received from its peer.",
       kCounter, [](const V& v) { return v.stats.protocol_errors(); }},
      {"shmport_port_chunks_in_use",
       "Chunks of this end's outgoing segments not yet freed by the peer.",
       kGauge, [](const V& v) { return v.stats.chunks_in_use(); }},
      {"shmport_port_chunks",
       "Chunks in this end's mapped outgoing segments (chunks_in_use <= "
       "this).",
       kGauge,
       [](const V& v) {
         return static_cast<double>(v.stats.segments_out()) *
                v.geometry.chunk_count();
       }},
      {"shmport_port_chunks_limit",
       "Chunks this end's outgoing segments may grow to (chunk_count x "
       "max_segments).",
       kGauge,
       [](const V& v) {
         return static_cast<double>(v.geometry.max_segments()) *
                v.geometry.chunk_count();
       }},
      {"shmport_port_stats_age_seconds",
       "Seconds since this end last reported its counters (-1: never).", kGauge,
       [](const V& v) {
         const int64_t at = v.stats.updated_at_unix_ms();
         return at == 0 ? -1.0 : (v.now_ms - at) / 1000.0;
       }},
  };
  return *families;
}

void AddPortFamilies(const MetricsSnapshot& s, size_t max_port_series,
                     int64_t now_ms, std::vector<MetricFamily>* out) {
  std::vector<const v1::PortInfo*> ports;
  for (const v1::PortInfo& port : s.stats.ports()) ports.push_back(&port);
  std::sort(ports.begin(), ports.end(),
            [](const v1::PortInfo* x, const v1::PortInfo* y) {
              return x->id() < y->id();
            });
  const size_t omitted =
      ports.size() > max_port_series ? ports.size() - max_port_series : 0;
  ports.resize(ports.size() - omitted);

  for (const PortFamily& pf : PortFamilies()) {
    MetricFamily family = Family(pf.name, pf.help, pf.type);
    for (const v1::PortInfo* port : ports) {
      const std::string id = absl::StrCat(port->id());
      for (const auto& [end, info] :
           {std::pair<const char*, const v1::PortEnd*>{"a", &port->a()},
            {"b", &port->b()}}) {
        const double value =
            pf.value({info->stats(), port->geometry(), now_ms});
        AddSample(&family, value,
                  {{"port_id", id},
                   {"a", port->a().name()},
                   {"b", port->b().name()},
                   {"end", end}});
      }
    }
    out->push_back(std::move(family));
  }
  out->push_back(Single("shmport_metrics_ports_omitted",
                        "Open ports left out of the per-port series "
                        "(metrics.max_port_series reached).",
                        MetricType::Gauge, omitted));
}

}  // namespace

std::vector<MetricFamily> BuildMetricFamilies(const MetricsSnapshot& snapshot,
                                              size_t max_port_series,
                                              int64_t now_unix_ms) {
  std::vector<MetricFamily> families;
  AddDaemonFamilies(snapshot, &families);
  AddPortFamilies(snapshot, max_port_series, now_unix_ms, &families);
  AddTopicFamilies(snapshot, &families);
  return families;
}

}  // namespace shmport::server
