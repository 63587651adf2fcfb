// Reading the daemon's state for one scrape of the metrics endpoint.
#ifndef SHMPORT_SERVER_METRICS_SNAPSHOT_H_
#define SHMPORT_SERVER_METRICS_SNAPSHOT_H_

#include "server/metrics_families.h"
#include "server/metrics_refusals.h"
#include "server/switchboard.h"

namespace shmport::server {

// Copies the Switchboard's statistics (its GetStats and the processes'
// states, each under its lock once) and the refusal counts. Costs one
// registry walk per scrape; nothing is updated on the calls themselves.
MetricsSnapshot TakeMetricsSnapshot(Switchboard& switchboard,
                                    const RpcRefusals& refusals);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_METRICS_SNAPSHOT_H_
