// The stable JSON schema of `shmportctl --json`, version 1: how each record
// of the control plane prints. docs/operations.md documents every field;
// fields may be added in later versions but are never renamed or removed.
//
// Conventions: field names are the proto's (snake_case); integers are JSON
// numbers (counters stay far below 2^53 in practice); enums are lower-case
// strings ("attached", "port_opened"); times are Unix milliseconds; an end
// that never reported statistics has "stats": null.
#ifndef SHMPORT_CLI_JSON_SCHEMA_H_
#define SHMPORT_CLI_JSON_SCHEMA_H_

#include <string>

#include "cli/json.h"
#include "cli/top_sampler.h"
#include "cli/traffic.h"
#include "shmport/v1/control.pb.h"

namespace shmport::cli {

// "registered", "attached", or "unknown".
std::string ProcessStateName(v1::ProcessState state);
// "process_registered", "process_exited", "port_opened", "port_closed",
// "unknown".
std::string EventKindName(v1::Event::Kind kind);

Json GeometryJson(const v1::Geometry& geometry);
Json ProcessJson(const v1::ProcessInfo& process);
Json PortEndStatsJson(const v1::PortEndStats& stats);
Json PortJson(const v1::PortInfo& port);
Json StatusJson(const v1::GetStatusResponse& status);
Json DaemonStatsJson(const v1::DaemonStats& stats);
Json EventJson(const v1::Event& event);
Json PortRateJson(const PortRate& rate);
Json ProcessTrafficJson(const ProcessTraffic& traffic);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_JSON_SCHEMA_H_
