#include "cli/stop_signal.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "gtest/gtest.h"
#include "tests/util/child_process.h"

namespace shmport::cli {
namespace {

using ::shmport::testing::ChildProcess;

TEST(StopSignalTest, SigintRunsTheStopActionAndWakesWaiters) {
  StopSignal stop;
  std::atomic<int> actions{0};
  stop.SetStopAction([&] { actions.fetch_add(1); });
  EXPECT_FALSE(stop.stopped());
  ::kill(::getpid(), SIGINT);
  EXPECT_TRUE(stop.WaitFor(absl::Seconds(60)));
  EXPECT_TRUE(stop.stopped());
  EXPECT_EQ(actions.load(), 1);
}

TEST(StopSignalTest, SigtermStopsToo) {
  StopSignal stop;
  stop.SetStopAction([] {});
  ::kill(::getpid(), SIGTERM);
  EXPECT_TRUE(stop.WaitFor(absl::Seconds(60)));
}

TEST(StopSignalTest, WaitForTimesOutWithoutASignal) {
  StopSignal stop;
  EXPECT_FALSE(stop.WaitFor(absl::Milliseconds(1)));
}

TEST(StopSignalTest, WithoutAStopActionASignalEndsTheProcessLikeTheDefault) {
  ChildProcess child = ChildProcess::Fork([] {
    StopSignal stop;
    ::kill(::getpid(), SIGINT);
    // Never returns: the signal thread exits the process with 128 + 2.
    stop.WaitFor(absl::Seconds(60));
    return 0;
  });
  EXPECT_EQ(child.Wait(absl::Seconds(60)), "exit 130");
}

TEST(StopSignalTest, ReplacedActionIsNeverCalledAgain) {
  StopSignal stop;
  std::atomic<int> first{0};
  std::atomic<int> second{0};
  stop.SetStopAction([&] { first.fetch_add(1); });
  stop.SetStopAction([&] { second.fetch_add(1); });
  ::kill(::getpid(), SIGINT);
  EXPECT_TRUE(stop.WaitFor(absl::Seconds(60)));
  EXPECT_EQ(first.load(), 0);
  EXPECT_EQ(second.load(), 1);
}

}  // namespace
}  // namespace shmport::cli
