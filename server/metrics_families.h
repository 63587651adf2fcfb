// The Prometheus metric families shmportd exports, built from one snapshot
// of the Switchboard's statistics. docs/operations.md lists every family;
// keep the two in step.
#ifndef SHMPORT_SERVER_METRICS_FAMILIES_H_
#define SHMPORT_SERVER_METRICS_FAMILIES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "prometheus/metric_family.h"
#include "shmport/v1/control.pb.h"

namespace shmport::server {

// Refused control-plane calls of one method with one gRPC code.
struct RefusalCount {
  std::string method;  // "Register", "OpenPort", ...
  std::string code;    // "RESOURCE_EXHAUSTED", ...
  uint64_t count = 0;
};

// What one scrape reads from the daemon.
struct MetricsSnapshot {
  std::string version;
  v1::GetStatsResponse stats;         // daemon counters and every open port
  uint32_t processes_registered = 0;  // not attached yet
  uint32_t processes_attached = 0;
  std::vector<RefusalCount> refusals;
  // (config field of the limit, refusals naming it), every known limit.
  std::vector<std::pair<std::string, uint64_t>> limit_refusals;
  uint64_t control_connections = 0;         // open gRPC connections
  uint64_t broker_pending_connections = 0;  // accepted, no Attach yet
  v1::ListTopicsResponse topics;            // every topic
  // Subscriptions (and topics) that get series of their own
  // (metrics.max_subscription_series).
  uint32_t max_subscription_series = 256;
};

// Building blocks of the families (metrics_families.cc).
using Labels = std::vector<prometheus::ClientMetric::Label>;
prometheus::MetricFamily Family(std::string name, std::string help,
                                prometheus::MetricType type);
void AddSample(prometheus::MetricFamily* family, double value,
               Labels labels = {});
prometheus::MetricFamily Single(std::string name, std::string help,
                                prometheus::MetricType type, double value);

// Builds every family. Per-port series go to at most `max_port_series`
// ports, those with the lowest ids (the oldest, so a series does not come
// and go as ports churn); shmport_metrics_ports_omitted counts the rest.
// Closed ports are not in the snapshot, so their series end with them.
// `now_unix_ms` dates the reports' age.
std::vector<prometheus::MetricFamily> BuildMetricFamilies(
    const MetricsSnapshot& snapshot, size_t max_port_series,
    int64_t now_unix_ms);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_METRICS_FAMILIES_H_
