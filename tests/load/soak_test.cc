// The short soak of `make test`: 20 workers x 4 ports for 15 s, with a
// worker replaced every second. The same checks as the long run
// (tests/load/soak.h): no corrupted, lost or repeated message, the
// registry equal to what is alive at every sample, no unasked worker
// death, and the daemon back to its idle fds at the end. Throughput and
// latency are printed, never asserted (this machine is shared).
#include "tests/load/soak.h"

#include <cstdio>

#include "gtest/gtest.h"

namespace shmport::testing {
namespace {

TEST(SoakTest, TwentyWorkersStreamThroughRestartsWithoutLossOrLeak) {
  SoakOptions options;
  options.workers = 20;
  options.ports_per_worker = 4;
  options.duration = absl::Seconds(15);
  options.report_interval = absl::Seconds(3);
  options.warmup = absl::Seconds(3);
  options.restart_interval = absl::Seconds(1);
  options.stream.messages_per_second = 20;
  options.log = [](absl::string_view line) {
    std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
  };
  absl::StatusOr<SoakResult> result = RunSoak(options);
  ASSERT_TRUE(result.ok()) << result.status();
  for (const std::string& f : result->failures) ADD_FAILURE() << f;
  EXPECT_GE(result->restarts, 10u);
  EXPECT_GT(result->totals.messages_received, 0u);
  EXPECT_EQ(result->totals.corrupt, 0u);
  EXPECT_EQ(result->totals.lost, 0u);
  EXPECT_EQ(result->totals.duplicated, 0u);
  // Every killed worker's ports closed on its peers' side as a plain EOF.
  EXPECT_GT(result->totals.closed_by_peer, 0u);
  EXPECT_EQ(result->totals.closed_by_protocol, 0u);
  EXPECT_LE(result->daemon_fds_after, result->daemon_fds_idle);
}

}  // namespace
}  // namespace shmport::testing
