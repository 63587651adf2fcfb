#include "server/metrics_snapshot.h"

#include "server/control_service.h"

namespace shmport::server {

MetricsSnapshot TakeMetricsSnapshot(Switchboard& switchboard,
                                    const RpcRefusals& refusals) {
  MetricsSnapshot s;
  s.version = kDaemonVersion;
  s.stats = switchboard.GetStats();
  const v1::ListProcessesResponse processes = switchboard.ListProcesses();
  for (const v1::ProcessInfo& p : processes.processes()) {
    if (p.state() == v1::PROCESS_STATE_ATTACHED) {
      ++s.processes_attached;
    } else {
      ++s.processes_registered;
    }
  }
  s.refusals = refusals.Snapshot();
  return s;
}

}  // namespace shmport::server
