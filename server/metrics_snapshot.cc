#include "server/metrics_snapshot.h"

#include "server/control_service.h"

namespace shmport::server {

MetricsSnapshot TakeMetricsSnapshot(const MetricsSources& sources) {
  MetricsSnapshot s;
  s.version = kDaemonVersion;
  s.stats = sources.switchboard->AllStats();
  const v1::ListProcessesResponse processes =
      sources.switchboard->AllProcesses();
  for (const v1::ProcessInfo& p : processes.processes()) {
    if (p.state() == v1::PROCESS_STATE_ATTACHED) {
      ++s.processes_attached;
    } else {
      ++s.processes_registered;
    }
  }
  s.refusals = sources.rpc_refusals->Snapshot();
  s.limit_refusals = sources.limit_refusals->Snapshot();
  s.control_connections = sources.control_listener->open_connections();
  s.broker_pending_connections = sources.broker->pending_count();
  s.topics = *sources.switchboard->ListTopics({});
  s.max_subscription_series = sources.max_subscription_series;
  return s;
}

}  // namespace shmport::server
