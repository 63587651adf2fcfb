// Reading the daemon's state for one scrape of the metrics endpoint.
#ifndef SHMPORT_SERVER_METRICS_SNAPSHOT_H_
#define SHMPORT_SERVER_METRICS_SNAPSHOT_H_

#include "server/broker.h"
#include "server/control_listener.h"
#include "server/limit_refusals.h"
#include "server/metrics_families.h"
#include "server/metrics_refusals.h"
#include "server/switchboard.h"

namespace shmport::server {

// Where a scrape reads from; every pointer is non-null.
struct MetricsSources {
  Switchboard* switchboard;
  const RpcRefusals* rpc_refusals;
  const LimitRefusals* limit_refusals;
  const ControlListener* control_listener;
  const Broker* broker;
  uint32_t max_subscription_series = 256;  // metrics.max_subscription_series
};

// Copies the Switchboard's statistics (its GetStats and the processes'
// states, each under its lock once), the refusal counts and the connection
// counts. Costs one registry walk per scrape; nothing is updated on the
// calls themselves.
MetricsSnapshot TakeMetricsSnapshot(const MetricsSources& sources);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_METRICS_SNAPSHOT_H_
