// The soak run of `make test-long` (tools/run_long_tests.sh):
//
//   bazel-bin/tests/load/soak --minutes=2
//
// Prints one line per sample (every --report_seconds) and ends with one
// summary line, "soak: ok (...)" or "soak: FAILED ...". Exits 0 when every
// check passed, 1 when one failed, 2 when the soak could not run.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "tests/load/soak.h"

ABSL_FLAG(int, workers, 200, "worker processes");
ABSL_FLAG(int, ports_per_worker, 4, "port ends per worker (even)");
ABSL_FLAG(double, minutes, 2, "how long to stream");
ABSL_FLAG(int, report_seconds, 10, "seconds between samples");
ABSL_FLAG(double, restart_seconds, 1,
          "a random worker is replaced this often (0: never)");
ABSL_FLAG(int, rate, 5, "messages per second each port end sends");
ABSL_FLAG(int, max_payload, 512 * 1024, "largest payload in bytes");
ABSL_FLAG(uint64_t, seed, 1, "random seed (sizes, restarts)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  shmport::testing::SoakOptions options;
  options.workers = absl::GetFlag(FLAGS_workers);
  options.ports_per_worker = absl::GetFlag(FLAGS_ports_per_worker);
  options.duration = absl::Seconds(absl::GetFlag(FLAGS_minutes) * 60);
  options.report_interval = absl::Seconds(absl::GetFlag(FLAGS_report_seconds));
  options.warmup = options.report_interval;
  options.restart_interval =
      absl::Seconds(absl::GetFlag(FLAGS_restart_seconds));
  options.stream.messages_per_second = absl::GetFlag(FLAGS_rate);
  options.stream.max_payload = absl::GetFlag(FLAGS_max_payload);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.stream.seed = options.seed;
  options.log = [](absl::string_view line) {
    std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stdout);
  };
  absl::StatusOr<shmport::testing::SoakResult> result =
      shmport::testing::RunSoak(options);
  if (!result.ok()) {
    std::printf("soak: FAILED to run: %s\n",
                std::string(result.status().message()).c_str());
    return 2;
  }
  for (const std::string& f : result->failures) {
    std::printf("failure: %s\n", f.c_str());
  }
  std::printf("soak: %s\n", result->Summary().c_str());
  return result->failures.empty() ? 0 : 1;
}
