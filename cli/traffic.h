// Traffic totals per process, summed over the ends of its ports, for
// `shmportctl stats` (the daemon reports per port; operators ask per
// process).
#ifndef SHMPORT_CLI_TRAFFIC_H_
#define SHMPORT_CLI_TRAFFIC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shmport/v1/control.pb.h"

namespace shmport::cli {

struct ProcessTraffic {
  uint64_t process_id = 0;
  std::string name;
  uint64_t ports = 0;  // ports with this process at one end
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t messages_received = 0;
  uint64_t bytes_received = 0;
  uint64_t chunks_in_use = 0;
  uint64_t oosm_waits = 0;
  uint64_t protocol_errors = 0;
};

// One entry per process that appears at an end of `ports`, ordered by
// process id. Ends that never reported count as zero.
std::vector<ProcessTraffic> TotalsByProcess(
    const google::protobuf::RepeatedPtrField<v1::PortInfo>& ports);

// What the closed ports carried (ports of exited processes too), as the
// daemon keeps it: one row, however many have closed.
ProcessTraffic ClosedPortsTraffic(const v1::ClosedPortTotals& closed);

// The sum over the live ports' ends and the closed ports (ports counts
// each port once): the traffic since the daemon started.
ProcessTraffic TotalOf(const v1::GetStatsResponse& stats);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_TRAFFIC_H_
