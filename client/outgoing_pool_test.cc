// OutgoingPool on its own: claims, growth, the bounded wait and idle
// release, with no peer and no socket (a fake port end does the asking
// and the waiting).
#include "client/outgoing_pool.h"

#include <unistd.h>

#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::internal {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr SegmentGeometry kGeometry{/*chunk_size=*/4096, /*chunk_count=*/8};

OutgoingPool::Limits TestLimits(uint32_t max_segments) {
  return {kGeometry, max_segments, /*idle_timeout=*/absl::Seconds(1),
          /*free_run_bytes=*/0, ::getpid()};
}

// What ClaimOrWait needs of a port end, scripted.
struct FakePort {
  bool is_closed = false;
  int asks = 0;
  int waits = 0;
  std::function<bool(uint64_t seen)> wait = [](uint64_t) { return false; };

  bool closed() const { return is_closed; }
  absl::Status closed_reason() const {
    return absl::UnavailableError("closed for the test");
  }
  void AskForMemory() { ++asks; }
  bool WaitForMemory(uint64_t seen, const Deadline&) {
    ++waits;
    return wait(seen);
  }
};

// Allocate's use of ClaimOrWait: `chunks` whole, growing as needed.
absl::StatusOr<OutgoingPool::Claim> ClaimChunks(OutgoingPool& pool,
                                                FakePort& port, uint32_t chunks,
                                                bool blocking) {
  return pool.ClaimOrWait<OutgoingPool::Claim>(
      port, Deadline(absl::Seconds(5)), blocking,
      [&] { return pool.TryClaim(chunks, chunks); },
      [&] { return pool.Grow(chunks); },
      [](bool timed_out) {
        return timed_out ? absl::DeadlineExceededError("timed out")
                         : absl::ResourceExhaustedError("full");
      });
}

TEST(OutgoingPoolTest, ClaimsFirstFitFromTheLowestSegment) {
  PortCounters counters;
  OutgoingPool pool(TestLimits(2), counters);
  EXPECT_FALSE(pool.TryClaim(2, 2).has_value()) << "no segment yet";
  auto grown = pool.Grow(2);
  ASSERT_TRUE(grown.ok()) << grown.status();
  ASSERT_TRUE(grown->has_value());
  EXPECT_EQ((*grown)->segment->id(), 0u);
  EXPECT_EQ((*grown)->first, 0u);
  std::optional<OutgoingPool::Claim> second = pool.TryClaim(2, 2);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->first, 2u);
  // The receiver frees the first claim: the next one reuses it.
  (*grown)->segment->chunks().Free((*grown)->first, (*grown)->count);
  std::optional<OutgoingPool::Claim> third = pool.TryClaim(2, 2);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->first, 0u);
  EXPECT_EQ(third->segment->id(), 0u);
}

TEST(OutgoingPoolTest, ClaimHalvesDownToTheMinimum) {
  PortCounters counters;
  OutgoingPool pool(TestLimits(1), counters);
  ASSERT_TRUE(pool.Grow(6).ok());  // 2 of 8 chunks left
  EXPECT_FALSE(pool.TryClaim(4, 4).has_value());
  std::optional<OutgoingPool::Claim> got = pool.TryClaim(4, 1);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->count, 2u);
  EXPECT_EQ(got->first, 6u);
}

TEST(OutgoingPoolTest, GrowthStopsAtMaxSegmentsAndAtClose) {
  PortCounters counters;
  OutgoingPool pool(TestLimits(2), counters);
  ASSERT_TRUE(pool.Grow(0).ok());
  auto second = pool.Grow(8);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->segment->id(), 1u);
  auto third = pool.Grow(1);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->has_value()) << "past max_segments";
  EXPECT_EQ(counters.segments_out.load(), 2u);
  pool.Close();
  EXPECT_EQ(counters.segments_out.load(), 0u);
  auto after = pool.Grow(1);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value()) << "a closed pool does not grow";
  EXPECT_FALSE(pool.TryClaim(1, 1).has_value());
}

// A one-segment pool whose every chunk is out (in `all`).
class FullPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto claimed = ClaimChunks(pool, port, 8, /*blocking=*/false);
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    all = *std::move(claimed);
    ASSERT_EQ(port.asks, 0) << "there was room";
  }

  PortCounters counters;
  OutgoingPool pool{TestLimits(1), counters};
  FakePort port;
  OutgoingPool::Claim all;
};

TEST_F(FullPoolTest, NotBlockingRaisesOosmAsksOnceAndRefuses) {
  auto more = ClaimChunks(pool, port, 1, /*blocking=*/false);
  EXPECT_TRUE(absl::IsResourceExhausted(more.status())) << more.status();
  EXPECT_EQ(port.asks, 1);
  EXPECT_EQ(port.waits, 0);
  EXPECT_EQ(all.segment->oosm().load(), 1u);
  EXPECT_EQ(counters.oosm_waits.load(), 1u);
}

TEST_F(FullPoolTest, BlockingWaitsUntilTheReceiverFrees) {
  bool waiter_seen = false;
  port.wait = [&](uint64_t seen) {
    EXPECT_EQ(pool.epoch(), seen);
    // The receiver frees; its SHM_ACK moves the epoch and finds us waiting.
    all.segment->chunks().Free(all.first, all.count);
    waiter_seen = pool.NoteFreed();
    return pool.epoch() != seen;
  };
  auto got = ClaimChunks(pool, port, 4, /*blocking=*/true);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->first, 0u);
  EXPECT_EQ(port.waits, 1);
  EXPECT_TRUE(waiter_seen);
  EXPECT_FALSE(pool.NoteFreed()) << "nobody waits any more";
  EXPECT_EQ(counters.oosm_waits.load(), 1u);
}

TEST_F(FullPoolTest, BlockingGivesUpAtTheDeadline) {
  auto got = ClaimChunks(pool, port, 1, /*blocking=*/true);  // wait: false
  EXPECT_TRUE(absl::IsDeadlineExceeded(got.status())) << got.status();
  EXPECT_EQ(port.waits, 1);
  EXPECT_EQ(port.asks, 1);
}

TEST(OutgoingPoolTest, AClosedPortEndsTheWait) {
  PortCounters counters;
  OutgoingPool pool(TestLimits(1), counters);
  FakePort port;
  port.is_closed = true;
  auto got = ClaimChunks(pool, port, 1, /*blocking=*/true);
  EXPECT_TRUE(absl::IsUnavailable(got.status())) << got.status();
  EXPECT_EQ(counters.segments_out.load(), 0u) << "nothing grew";
}

TEST(OutgoingPoolTest, TrackingSlotsArmTheirWordWithAFreshGeneration) {
  PortCounters counters;
  OutgoingPool pool(TestLimits(1), counters);
  std::shared_ptr<Segment> segment;
  EXPECT_FALSE(pool.TryClaimTrackingSlot(7, &segment).has_value());
  ASSERT_TRUE(pool.Grow(0).ok());
  std::optional<wire::TrackingRef> a = pool.TryClaimTrackingSlot(7, &segment);
  ASSERT_TRUE(a.has_value());
  ASSERT_NE(segment, nullptr);
  EXPECT_EQ(a->segment_id, 0u);
  EXPECT_EQ(a->generation, 1u);
  EXPECT_EQ(segment->tracking_word(a->slot).load(), TrackingWord(1, 7));
  std::optional<wire::TrackingRef> b = pool.TryClaimTrackingSlot(9, &segment);
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(b->slot, a->slot);
  EXPECT_EQ(b->generation, 2u);
  PortStats stats;
  pool.AddStats(stats);
  EXPECT_EQ(stats.tracking_in_flight, 2u);
}

TEST(OutgoingPoolTest, IdleReleaseDropsUntoldAndRetiresAnnouncedOnes) {
  PortCounters counters;
  OutgoingPool pool(TestLimits(4), counters);
  auto first = pool.Grow(1);   // 0: stays (and holds a chunk)
  auto busy = pool.Grow(1);    // 1: holds a chunk
  auto told = pool.Grow(0);    // 2: announced
  auto untold = pool.Grow(0);  // 3: never announced
  ASSERT_TRUE(first.ok() && busy.ok() && told.ok() && untold.ok());
  std::shared_ptr<Segment> announced;
  pool.MarkAnnounced(2, [&] {
    auto c = pool.TryClaim(8, 8);  // segment 2: 0 and 1 hold a chunk
    EXPECT_TRUE(c.has_value());
    EXPECT_EQ(c->segment->id(), 2u);
    announced = c->segment;
    announced->chunks().Free(c->first, c->count);
    return announced.get();
  }());
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_THAT(pool.TakeIdle(t0), IsEmpty()) << "the first look starts clocks";
  EXPECT_THAT(pool.TakeIdle(t0 + absl::Milliseconds(999)), IsEmpty());
  auto retiring = pool.TakeIdle(t0 + absl::Seconds(1));
  ASSERT_THAT(retiring, SizeIs(1));
  EXPECT_EQ(retiring[0].first, 2u);
  EXPECT_EQ(counters.segments_out.load(), 3u) << "3 went at once, untold";
  // Hands off while the RELEASE_SEGMENT is on its way.
  EXPECT_FALSE(pool.TryClaim(8, 8).has_value());
  pool.FinishRelease(2, retiring[0].second, /*released=*/false);
  auto back = pool.TryClaim(8, 8);
  ASSERT_TRUE(back.has_value()) << "not released: back in the pool";
  EXPECT_EQ(back->segment->id(), 2u);
  back->segment->chunks().Free(back->first, back->count);
  const absl::Time t1 = t0 + absl::Seconds(5);
  EXPECT_THAT(pool.TakeIdle(t1), IsEmpty()) << "used since: clock restarts";
  retiring = pool.TakeIdle(t1 + absl::Seconds(1));
  ASSERT_THAT(retiring, SizeIs(1));
  pool.FinishRelease(2, retiring[0].second, /*released=*/true);
  EXPECT_EQ(counters.segments_out.load(), 2u) << "0 and the busy 1 remain";
}

// The first segment is claimed from without the lock (the steady state);
// such a claim still counts as use, so its free runs stay in RAM while it
// is busy and go back to the kernel only once it has been idle.
TEST(OutgoingPoolTest, LockFreeClaimsKeepTheFirstSegmentInUse) {
  PortCounters counters;
  OutgoingPool::Limits limits = TestLimits(1);
  limits.free_run_bytes = 4 * kGeometry.chunk_size;
  OutgoingPool pool(limits, counters);
  auto grown = pool.Grow(1);
  ASSERT_TRUE(grown.ok() && grown->has_value());
  const std::shared_ptr<Segment> segment = (*grown)->segment;  // chunk 0 held
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(pool.ReturnFreeRuns(t0, 1)) << "the first look starts a clock";
  EXPECT_TRUE(pool.ReturnFreeRuns(t0 + absl::Seconds(2), 1)) << "idle: 1..7";
  std::optional<OutgoingPool::Claim> c = pool.TryClaim(2, 2);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->segment, segment);
  EXPECT_EQ(c->first, 1u);
  segment->chunks().Free(c->first, c->count);
  segment->chunks().Free((*grown)->first, (*grown)->count);  // more free now
  EXPECT_FALSE(pool.ReturnFreeRuns(t0 + absl::Seconds(4), 1))
      << "claimed since the last look: in use, its pages stay";
  EXPECT_TRUE(pool.ReturnFreeRuns(t0 + absl::Seconds(6), 1));
  pool.Close();
  EXPECT_FALSE(pool.TryClaim(1, 1).has_value()) << "closed: no more claims";
  EXPECT_EQ(segment->chunks().CountFree(), kGeometry.chunk_count);
}

}  // namespace
}  // namespace shmport::internal
