// transport_compare: shmport (through its C++ API and its C ABI) side by side
// with a Unix socketpair, a pipe and gRPC streaming, plus two references:
// memcpy (one core copying) and handoff (bare shared memory between the two
// processes, the ceiling for any shared-memory transport).
//
//   bazel run -c opt //bench:transport_compare -- [--json] [--plot=F.svg]
//       [--touch=all,none]
//
// Every cell runs in two fresh processes; see workload.h for what is timed
// and comparison.h for the order of the cells.
#include <sched.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/comparison.h"
#include "bench/payload.h"
#include "bench/report.h"
#include "bench/svg_plot.h"
#include "bench/transport_catalog.h"

ABSL_FLAG(std::string, payloads, "64,1K,16K,256K,1M,8M",
          "payload sizes, comma-separated; K and M suffixes are KiB and MiB");
ABSL_FLAG(std::string, transports, "",
          "transports to compare, comma-separated (default: all)");
ABSL_FLAG(std::string, modes, "throughput,pingpong",
          "modes, comma-separated: throughput, pingpong");
ABSL_FLAG(std::string, touch, "all",
          "how much of each payload the workload writes and reads, "
          "comma-separated: all (every byte), none (the 24-byte header only, "
          "as iceoryx's iceperf measures); every output labels the level");
ABSL_FLAG(int, reps, 3, "repetitions of each cell (median reported)");
ABSL_FLAG(int, warmup_ms, 200, "warm-up of each cell, ms");
ABSL_FLAG(int, duration_ms, 1000, "measured window of each cell, ms");
ABSL_FLAG(int, min_round_trips, 100,
          "ping-pong measures at least this many round trips...");
ABSL_FLAG(int, max_duration_ms, 4000,
          "...but stops at this many ms of measuring");
ABSL_FLAG(bool, memcpy, true, "also measure memcpy per payload");
ABSL_FLAG(bool, json, false, "print the JSON array instead of the tables");
ABSL_FLAG(std::string, json_out, "", "also write the JSON to this file");
ABSL_FLAG(std::string, table_out, "", "also write the tables to this file");
ABSL_FLAG(std::string, plot, "", "write an SVG plot to this file");
ABSL_FLAG(std::string, plot_subtitle, "",
          "a line under the plot's title (e.g. the machine)");
ABSL_FLAG(int, unix_socket_buffer, 0,
          "SO_SNDBUF/SO_RCVBUF for the unix baseline, bytes (0: default)");
ABSL_FLAG(int, pipe_bytes, 0,
          "F_SETPIPE_SZ for the pipe baseline, bytes (0: default 64 KiB)");
ABSL_FLAG(bool, quiet, false, "no per-cell progress on stderr");
ABSL_FLAG(std::string, cpus, "",
          "SENDER,RECEIVER: run each cell's sender and receiver process on "
          "these CPUs (e.g. 0,1); default: wherever the scheduler puts them");

namespace shmport::bench {
namespace {

// Largest payload: one shmport buffer must fit one 16 MiB segment.
constexpr size_t kMaxPayload = 16u << 20;

absl::StatusOr<size_t> ParsePayload(absl::string_view text) {
  size_t unit = 1;
  absl::string_view digits = text;
  if (absl::ConsumeSuffix(&digits, "K") || absl::ConsumeSuffix(&digits, "k")) {
    unit = 1024;
  } else if (absl::ConsumeSuffix(&digits, "M") ||
             absl::ConsumeSuffix(&digits, "m")) {
    unit = 1024 * 1024;
  }
  uint64_t n = 0;
  if (!absl::SimpleAtoi(digits, &n) || n == 0 || n > kMaxPayload / unit) {
    return absl::InvalidArgumentError(
        absl::StrCat("--payloads: \"", text, "\" is not a size in [24, ",
                     kMaxPayload, "] (e.g. 64, 16K, 8M)"));
  }
  const size_t bytes = n * unit;
  if (absl::Status s = ValidatePayloadSize(bytes); !s.ok()) return s;
  return bytes;
}

// Splits a comma-separated flag into values named in `choices`;
// INVALID_ARGUMENT naming the flag and the choices for any other word.
template <typename T>
absl::Status ParseChoices(
    absl::string_view flag, const std::string& text,
    const std::vector<std::pair<absl::string_view, T>>& choices,
    std::vector<T>& out) {
  out.clear();
  for (absl::string_view word : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    auto it = std::find_if(choices.begin(), choices.end(),
                           [&](const auto& c) { return c.first == word; });
    if (it == choices.end()) {
      std::vector<absl::string_view> names;
      for (const auto& c : choices) names.push_back(c.first);
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": \"", word, "\" is none of ",
                       absl::StrJoin(names, ", ")));
    }
    out.push_back(it->second);
  }
  return absl::OkStatus();
}

// --modes and --touch into the plan.
absl::Status ParseModes(ComparisonPlan& plan) {
  absl::Status status = ParseChoices<Mode>(
      "modes", absl::GetFlag(FLAGS_modes),
      {{"throughput", Mode::kThroughput}, {"pingpong", Mode::kPingPong}},
      plan.modes);
  status.Update(ParseChoices<Touch>(
      "touch", absl::GetFlag(FLAGS_touch),
      {{"all", Touch::kAll}, {"none", Touch::kNone}}, plan.touches));
  return status;
}

// --cpus into the plan: two CPUs this process may run on, or none.
absl::Status ParseCpus(std::array<int, 2>& cpus) {
  const std::string text = absl::GetFlag(FLAGS_cpus);
  if (text.empty()) return absl::OkStatus();
  std::vector<absl::string_view> words = absl::StrSplit(text, ',');
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) CPU_ZERO(&allowed);
  for (size_t i = 0; i < words.size() && i < cpus.size(); ++i) {
    if (!absl::SimpleAtoi(words[i], &cpus[i]) || cpus[i] < 0 ||
        cpus[i] >= CPU_SETSIZE || !CPU_ISSET(cpus[i], &allowed)) {
      cpus[i] = -1;
    }
  }
  if (words.size() != 2 || cpus[0] < 0 || cpus[1] < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cpus: \"", text,
                     "\" is not SENDER,RECEIVER with two CPUs this "
                     "process may run on (see `taskset -p $$`), e.g. 0,1"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ComparisonPlan> PlanFromFlags() {
  ComparisonPlan plan;
  for (absl::string_view p :
       absl::StrSplit(absl::GetFlag(FLAGS_payloads), ',', absl::SkipEmpty())) {
    absl::StatusOr<size_t> bytes = ParsePayload(p);
    if (!bytes.ok()) return bytes.status();
    plan.payloads.push_back(*bytes);
  }
  std::vector<std::string> names =
      absl::StrSplit(absl::GetFlag(FLAGS_transports), ',', absl::SkipEmpty());
  if (names.empty()) names = AllTransportNames();
  BaselineTuning tuning;
  tuning.unix_socket_buffer_bytes = absl::GetFlag(FLAGS_unix_socket_buffer);
  tuning.pipe_bytes = absl::GetFlag(FLAGS_pipe_bytes);
  if (tuning.unix_socket_buffer_bytes < 0 || tuning.pipe_bytes < 0) {
    return absl::InvalidArgumentError(
        "--unix_socket_buffer and --pipe_bytes must be >= 0");
  }
  for (const std::string& name : names) {
    auto transport = MakeTransport(name, tuning);
    if (!transport.ok()) return transport.status();
    plan.transports.push_back(*transport);
  }
  if (absl::Status s = ParseModes(plan); !s.ok()) return s;
  if (plan.payloads.empty() || plan.transports.empty() || plan.modes.empty() ||
      plan.touches.empty()) {
    return absl::InvalidArgumentError(
        "--payloads, --transports, --modes and --touch must each name at "
        "least one");
  }
  plan.reps = absl::GetFlag(FLAGS_reps);
  const int warmup = absl::GetFlag(FLAGS_warmup_ms);
  const int duration = absl::GetFlag(FLAGS_duration_ms);
  const int max_duration = absl::GetFlag(FLAGS_max_duration_ms);
  const int min_round_trips = absl::GetFlag(FLAGS_min_round_trips);
  if (plan.reps < 1 || warmup < 0 || duration < 1 || max_duration < duration ||
      min_round_trips < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "need --reps >= 1 (got ", plan.reps, "), --warmup_ms >= 0 (got ",
        warmup, "), --duration_ms >= 1 (got ", duration,
        "), --max_duration_ms >= --duration_ms (got ", max_duration,
        "), --min_round_trips >= 1 (got ", min_round_trips, ")"));
  }
  plan.timing.warmup = absl::Milliseconds(warmup);
  plan.timing.duration = absl::Milliseconds(duration);
  plan.timing.max_duration = absl::Milliseconds(max_duration);
  plan.timing.min_round_trips = static_cast<uint64_t>(min_round_trips);
  if (absl::Status s = ParseCpus(plan.timing.cpus); !s.ok()) return s;
  plan.memcpy = absl::GetFlag(FLAGS_memcpy);
  if (!absl::GetFlag(FLAGS_quiet)) {
    plan.progress = [](absl::string_view line) {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()),
                   line.data());
    };
  }
  return plan;
}

// Relative paths are taken from where `bazel run` was invoked, not from the
// runfiles directory it runs in.
std::string OutputPath(const std::string& path) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || cwd == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(OutputPath(path), std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

int Main() {
  absl::StatusOr<ComparisonPlan> plan = PlanFromFlags();
  if (!plan.ok()) {
    std::fprintf(stderr, "transport_compare: %s\n",
                 std::string(plan.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<std::vector<CellSummary>> cells = RunComparison(*plan);
  if (!cells.ok()) {
    std::fprintf(stderr, "transport_compare: FAILED: %s\n",
                 cells.status().ToString().c_str());
    return 1;
  }
  const std::string json = FormatJson(*cells);
  const std::string tables = FormatTables(*cells);
  std::fputs(absl::GetFlag(FLAGS_json) ? json.c_str() : tables.c_str(), stdout);
  std::fflush(stdout);
  absl::Status written;
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    written.Update(WriteFile(absl::GetFlag(FLAGS_json_out), json));
  }
  if (!absl::GetFlag(FLAGS_table_out).empty()) {
    written.Update(WriteFile(absl::GetFlag(FLAGS_table_out), tables));
  }
  if (!absl::GetFlag(FLAGS_plot).empty()) {
    written.Update(
        WriteFile(absl::GetFlag(FLAGS_plot),
                  RenderSvg(*cells, absl::GetFlag(FLAGS_plot_subtitle))));
  }
  if (!written.ok()) {
    std::fprintf(stderr, "transport_compare: %s\n",
                 std::string(written.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace shmport::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Compares shmport with a Unix socketpair, a pipe and gRPC streaming "
      "between two local processes.");
  absl::ParseCommandLine(argc, argv);
  return shmport::bench::Main();
}
