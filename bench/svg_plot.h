// SvgPlot: the comparison drawn as a standalone SVG (no plotting tool
// needed): one-way throughput vs payload size, and ping-pong round-trip
// p50 vs payload size, both on log-log axes, one line per transport, the
// median of the reps with min-max whiskers.
#ifndef SHMPORT_BENCH_SVG_PLOT_H_
#define SHMPORT_BENCH_SVG_PLOT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "bench/comparison.h"

namespace shmport::bench {

// A complete SVG document. `subtitle` (e.g. the machine) goes under the
// title; it is escaped.
std::string RenderSvg(const std::vector<CellSummary>& cells,
                      absl::string_view subtitle);

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_SVG_PLOT_H_
