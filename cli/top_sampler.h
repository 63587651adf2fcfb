// TopSampler: per-port throughput for `shmportctl top`, from successive
// ListPorts snapshots.
#ifndef SHMPORT_CLI_TOP_SAMPLER_H_
#define SHMPORT_CLI_TOP_SAMPLER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "shmport/v1/control.pb.h"

namespace shmport::cli {

// One direction of a port over the last measured interval.
struct DirectionRate {
  double bytes_per_second = 0;
  double messages_per_second = 0;
};

struct PortRate {
  uint64_t port_id = 0;
  std::string a_name;  // the end that opened the port
  std::string b_name;
  DirectionRate a_to_b;
  DirectionRate b_to_a;
  uint64_t chunks_in_use = 0;  // both ends' outgoing segments
  uint64_t chunks_total = 0;   // the chunks of the segments both ends map
  uint64_t oosm_waits = 0;     // both ends, since the port opened
  double oosm_per_second = 0;  // both ends, over the last interval
  uint64_t protocol_errors = 0;
  // False until an end has reported twice: the rates are then zero, not
  // measured.
  bool measured = false;

  double total_bytes_per_second() const {
    return a_to_b.bytes_per_second + b_to_a.bytes_per_second;
  }
};

// Rates come from the counters each end pushes to the daemon (every second
// by default), divided by the time between two of that end's reports
// (PortEndStats.updated_at_unix_ms), not between two samples: sampling is
// not synchronised with pushing, and dividing by the sampling period would
// alias. A direction is measured at its sender (bytes_sent). An end whose
// report has not changed for `stale_after` counts as idle.
//
// Thread-safety: none; one thread samples.
class TopSampler {
 public:
  explicit TopSampler(absl::Duration stale_after = absl::Seconds(5))
      : stale_after_(stale_after) {}

  // Takes the snapshot `ports` made at `now`; returns every port in it, in
  // the order of their ids (so that a redrawn screen keeps its rows in
  // place). Ports that left the snapshot are forgotten.
  std::vector<PortRate> Update(const v1::ListPortsResponse& ports,
                               absl::Time now);

  // Forgets every port: after a daemon restart, ids start again.
  void Reset() { ends_.clear(); }

 private:
  // The last report seen from one end, and the rate it gave.
  struct EndState {
    uint64_t messages_sent = 0;
    uint64_t bytes_sent = 0;
    uint64_t oosm_waits = 0;
    int64_t updated_at_ms = 0;
    DirectionRate rate;
    double oosm_per_second = 0;
    bool measured = false;
  };
  DirectionRate Advance(EndState& state, const v1::PortEndStats& stats,
                        absl::Time now, bool* measured);

  const absl::Duration stale_after_;
  // (port id, 0 for end a / 1 for end b) -> state.
  std::map<std::pair<uint64_t, int>, EndState> ends_;
};

// The `limit` busiest of `rates`, busiest first: bytes per second, then
// messages per second, then the lower id.
std::vector<PortRate> Busiest(std::vector<PortRate> rates, size_t limit);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_TOP_SAMPLER_H_
