// A port end's PortStats as the broker's PortEndStats (StatsReport).
#ifndef SHMPORT_CLIENT_PORT_STATS_PROTO_H_
#define SHMPORT_CLIENT_PORT_STATS_PROTO_H_

#include "shmport/port_stats.h"
#include "shmport/v1/control.pb.h"

namespace shmport::internal {

// Every field but updated_at_unix_ms, which the caller stamps.
v1::PortEndStats PortEndStatsProto(const PortStats& stats);

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PORT_STATS_PROTO_H_
