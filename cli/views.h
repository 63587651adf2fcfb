// The human views of shmportctl: what each subcommand prints without
// --json. Pure functions of the daemon's answers (and the time), so the
// unit tests pin them down exactly.
#ifndef SHMPORT_CLI_VIEWS_H_
#define SHMPORT_CLI_VIEWS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/top_sampler.h"
#include "shmport/v1/control.pb.h"

namespace shmport::cli {

// "16 KiB × 1024, 8 segments, inline < 1 KiB"; zero fields show "default".
std::string GeometryText(const v1::Geometry& geometry);

// `status`: the daemon's identity, health ("serving"), uptime and counts
// as key/value lines.
std::string StatusView(const v1::GetStatusResponse& status,
                       absl::string_view health);

// `ps`: ID NAME PID UID STATE AGE PORTS LABELS, ordered by id.
std::string ProcessTable(const v1::ListProcessesResponse& processes,
                         absl::Time now);

// `ports`: one row per port, each direction's messages and bytes measured
// at its sender, segments and chunks in use as "a/b", OOSM waits and
// protocol errors summed over both ends. "-" where an end never reported.
std::string PortTable(
    const google::protobuf::RepeatedPtrField<v1::PortInfo>& ports);

// `stats`: the daemon's counters, then traffic per process and in total.
std::string StatsView(const v1::GetStatsResponse& stats);

// `watch`: one line per event, local time first:
//   "17:40:01.123  #12  port_opened  port 7: router → worker-1 (...)"
std::string EventLine(const v1::Event& event, absl::TimeZone zone);

// `top`: a header line, then the `limit` busiest ports with their rates,
// in id order. Every line fits in `width` columns (0: no limit): long names
// are cut with "…".
std::string TopView(const v1::GetStatusResponse& status,
                    const std::vector<PortRate>& rates, size_t limit,
                    absl::Time now, absl::TimeZone zone, size_t width = 0);

// What `top` shows while the daemon does not answer: why, and that it
// keeps trying.
std::string TopWaitingView(absl::string_view address, absl::string_view why,
                           absl::Time now, absl::TimeZone zone,
                           size_t width = 0);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_VIEWS_H_
