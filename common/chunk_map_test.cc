#include "common/chunk_map.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace shmport {
namespace {

// A bitmap in ordinary memory standing in for a segment header's free map.
class Bitmap {
 public:
  explicit Bitmap(uint32_t count)
      : words_(new std::atomic<uint64_t>[ChunkMap::WordsFor(count)]),
        map_(words_.get(), count) {
    map_.InitAllFree();
  }
  ChunkMap& map() { return map_; }
  uint64_t word(uint32_t i) const { return words_[i].load(); }
  void Scribble(uint32_t i, uint64_t value) { words_[i].store(value); }

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
  ChunkMap map_;
};

TEST(ChunkMapTest, InitMarksEveryChunkFreeAndTheSentinelBusy) {
  for (uint32_t count : {1u, 63u, 64u, 65u, 100u, 1024u, 4096u}) {
    Bitmap b(count);
    EXPECT_EQ(b.map().CountFree(), count) << count;
    // The bit right after the last chunk is the busy sentinel.
    EXPECT_EQ((b.word(count / 64) >> (count % 64)) & 1, 0u) << count;
    EXPECT_FALSE(b.map().IsFree(count));
  }
}

TEST(ChunkMapTest, NextFreeRunFindsMaximalRunsAcrossWordsAndStopsAtTheEnd) {
  Bitmap b(200);
  ChunkMap& m = b.map();
  ASSERT_EQ(m.Allocate(10, 0), 0u);  // [0, 10) busy
  ASSERT_TRUE(m.TryClaim(130, 5));   // [130, 135) busy
  auto run = m.NextFreeRun(0);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->first, 10u);
  EXPECT_EQ(run->length, 120u);  // crosses the words at 64 and 128
  run = m.NextFreeRun(run->first + run->length);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->first, 135u);
  EXPECT_EQ(run->length, 65u);  // up to the end, not the sentinel
  EXPECT_FALSE(m.NextFreeRun(200).has_value());
  ASSERT_TRUE(m.TryClaim(135, 65));
  EXPECT_FALSE(m.NextFreeRun(130).has_value());
}

TEST(ChunkMapTest, NextFreeRunIgnoresAFreedSentinel) {
  // A peer that sets the sentinel bit must not stretch a run past the end.
  Bitmap b(64);
  b.Scribble(1, ~0ull);  // the sentinel word, all "free"
  auto run = b.map().NextFreeRun(0);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->length, 64u);
}

TEST(ChunkMapTest, AllocatesFirstFitAndNeverPastTheEnd) {
  Bitmap b(100);
  EXPECT_EQ(b.map().Allocate(1), 0u);
  EXPECT_EQ(b.map().Allocate(1), 1u);
  EXPECT_EQ(b.map().Allocate(98), 2u);
  EXPECT_EQ(b.map().CountFree(), 0u);
  EXPECT_EQ(b.map().Allocate(1), std::nullopt);
}

TEST(ChunkMapTest, RunSpanningWordsIsClaimedWhole) {
  Bitmap b(256);
  ASSERT_EQ(b.map().Allocate(30), 0u);
  ASSERT_EQ(b.map().Allocate(150), 30u);  // bits 30..179 across 3 words
  for (uint32_t i = 0; i < 180; ++i) EXPECT_FALSE(b.map().IsFree(i)) << i;
  EXPECT_TRUE(b.map().IsFree(180));
  EXPECT_EQ(b.map().CountFree(), 76u);
}

TEST(ChunkMapTest, BusyChunkInsideACandidateRunSkipsPastIt) {
  Bitmap b(128);
  ASSERT_TRUE(b.map().TryClaim(10, 1));
  // 0..9 is too short for 16; the run must start after the busy chunk 10.
  EXPECT_EQ(b.map().Allocate(16), 11u);
  // The failed attempt at 0 rolled back: 0..9 are still free.
  for (uint32_t i = 0; i < 10; ++i) EXPECT_TRUE(b.map().IsFree(i)) << i;
}

TEST(ChunkMapTest, PartialRunAcrossAWordBoundaryRollsBack) {
  Bitmap b(192);
  ASSERT_TRUE(b.map().TryClaim(70, 1));  // busy in the second word
  // A run at 60 would take 60..63 (word 0) before meeting 70 in word 1.
  EXPECT_FALSE(b.map().TryClaim(60, 20));
  EXPECT_EQ(b.map().CountFree(), 191u);
  EXPECT_EQ(b.map().Allocate(20, 60), 71u);
}

TEST(ChunkMapTest, HintWrapsAroundOnce) {
  Bitmap b(64);
  ASSERT_EQ(b.map().Allocate(8, 56), 56u);
  EXPECT_EQ(b.map().Allocate(8, 60), 0u);  // nothing fits after 60: wrap
  EXPECT_EQ(b.map().Allocate(64, 10), std::nullopt);
}

TEST(ChunkMapTest, TryClaimExtendsInPlaceOnlyWhenEveryChunkIsFree) {
  Bitmap b(64);
  ASSERT_EQ(b.map().Allocate(4), 0u);
  EXPECT_TRUE(b.map().TryClaim(4, 4));  // grow [0,4) to [0,8)
  ASSERT_TRUE(b.map().TryClaim(12, 1));
  EXPECT_FALSE(b.map().TryClaim(8, 8));  // 12 is busy: all or nothing
  for (uint32_t i = 8; i < 12; ++i) EXPECT_TRUE(b.map().IsFree(i)) << i;
  EXPECT_FALSE(b.map().TryClaim(60, 5));  // past the end
  EXPECT_FALSE(b.map().TryClaim(64, 1));
  EXPECT_FALSE(b.map().TryClaim(0, 0));
}

TEST(ChunkMapTest, FreeRejectsOutOfRangeAndReportsDoubleFree) {
  Bitmap b(64);
  ASSERT_EQ(b.map().Allocate(10), 0u);
  EXPECT_FALSE(b.map().Free(60, 5));  // out of range: nothing changes
  EXPECT_FALSE(b.map().Free(64, 1));
  EXPECT_FALSE(b.map().Free(0, 0));
  EXPECT_EQ(b.map().CountFree(), 54u);
  EXPECT_TRUE(b.map().Free(0, 10));
  EXPECT_FALSE(b.map().Free(0, 10));  // double free is reported
  EXPECT_EQ(b.map().CountFree(), 64u);
}

TEST(ChunkMapTest, AllocateRejectsZeroAndOversizedRuns) {
  Bitmap b(64);
  EXPECT_EQ(b.map().Allocate(0), std::nullopt);
  EXPECT_EQ(b.map().Allocate(65), std::nullopt);
  EXPECT_EQ(b.map().CountFree(), 64u);
}

TEST(ChunkMapTest, ScribbledBitsBeyondTheEndAreNeverHandedOut) {
  // A peer can set any bit in shared memory; allocations stay in bounds.
  std::vector<std::atomic<uint64_t>> raw(ChunkMap::WordsFor(70));
  ChunkMap hostile(raw.data(), 70);
  hostile.InitAllFree();
  raw[1].store(~0ull);  // bits 64..127 "free", but only 64..69 exist
  ASSERT_EQ(hostile.Allocate(64), 0u);
  EXPECT_EQ(hostile.Allocate(6), 64u);
  EXPECT_EQ(hostile.Allocate(1), std::nullopt);
  EXPECT_EQ(hostile.Allocate(10, 60), std::nullopt);
  EXPECT_EQ(hostile.CountFree(), 0u);
}

// Property test: random allocate / extend / free sequences give exactly the
// answers of a plain first-fit model over a vector<bool>.
class ReferenceModel {
 public:
  explicit ReferenceModel(uint32_t count) : free_(count, true) {}
  std::optional<uint32_t> Allocate(uint32_t n, uint32_t hint) {
    const uint32_t count = free_.size();
    if (n == 0 || n > count) return std::nullopt;
    const uint32_t start = hint < count ? hint : 0;
    for (uint32_t i = start; i + n <= count; ++i) {
      if (RunFree(i, n)) return Take(i, n);
    }
    for (uint32_t i = 0; i < start && i + n <= count; ++i) {
      if (RunFree(i, n)) return Take(i, n);
    }
    return std::nullopt;
  }
  bool TryClaim(uint32_t first, uint32_t n) {
    if (n == 0 || first >= free_.size() || n > free_.size() - first) {
      return false;
    }
    if (!RunFree(first, n)) return false;
    Take(first, n);
    return true;
  }
  void Free(uint32_t first, uint32_t n) {
    for (uint32_t i = first; i < first + n; ++i) free_[i] = true;
  }
  bool IsFree(uint32_t i) const { return free_[i]; }

 private:
  bool RunFree(uint32_t i, uint32_t n) const {
    for (uint32_t j = i; j < i + n; ++j) {
      if (!free_[j]) return false;
    }
    return true;
  }
  uint32_t Take(uint32_t i, uint32_t n) {
    for (uint32_t j = i; j < i + n; ++j) free_[j] = false;
    return i;
  }
  std::vector<bool> free_;
};

TEST(ChunkMapTest, MatchesReferenceModelOverRandomSequences) {
  std::mt19937 rng(12345);
  for (uint32_t count : {1u, 37u, 64u, 130u, 1024u}) {
    Bitmap b(count);
    ReferenceModel model(count);
    struct Run {
      uint32_t first, n;
    };
    std::vector<Run> live;
    for (int step = 0; step < 20000; ++step) {
      const int op = rng() % 10;
      if (op < 5 || live.empty()) {
        const uint32_t n = 1 + rng() % std::min<uint32_t>(count, 70);
        const uint32_t hint = rng() % (count + 5);
        auto got = b.map().Allocate(n, hint);
        auto want = model.Allocate(n, hint);
        ASSERT_EQ(got, want) << "count " << count << " step " << step;
        if (got) live.push_back({*got, n});
      } else if (op < 7) {
        Run& r = live[rng() % live.size()];
        const uint32_t extra = 1 + rng() % 8;
        const bool got = b.map().TryClaim(r.first + r.n, extra);
        ASSERT_EQ(got, model.TryClaim(r.first + r.n, extra)) << step;
        if (got) r.n += extra;
      } else {
        const size_t i = rng() % live.size();
        ASSERT_TRUE(b.map().Free(live[i].first, live[i].n));
        model.Free(live[i].first, live[i].n);
        live[i] = live.back();
        live.pop_back();
      }
      if (step % 97 == 0) {
        for (uint32_t c = 0; c < count; ++c) {
          ASSERT_EQ(b.map().IsFree(c), model.IsFree(c)) << c;
        }
      }
    }
  }
}

// Every chunk handed out is stamped; a second hand-out of a stamped chunk is
// the bug these stress tests look for.
class Stamps {
 public:
  explicit Stamps(uint32_t count) : owner_(count) {}
  // Returns false if any chunk of the run was already owned.
  bool Take(uint32_t first, uint32_t n) {
    bool ok = true;
    for (uint32_t i = first; i < first + n; ++i) {
      if (owner_[i].exchange(1, std::memory_order_relaxed) != 0) ok = false;
    }
    return ok;
  }
  void Give(uint32_t first, uint32_t n) {
    for (uint32_t i = first; i < first + n; ++i) {
      owner_[i].store(0, std::memory_order_relaxed);
    }
  }

 private:
  std::vector<std::atomic<int>> owner_;
};

TEST(ChunkMapStressTest, OwnerAllocatesWhileAnotherThreadFrees) {
  constexpr uint32_t kCount = 512;
  Bitmap b(kCount);
  Stamps stamps(kCount);
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<uint32_t, uint32_t>> queue;  // guarded by mu
  bool done = false;                                // guarded by mu
  std::atomic<int> double_handouts{0};
  constexpr int kAllocations = 200000;

  std::thread freer([&] {
    while (true) {
      std::pair<uint32_t, uint32_t> run;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return done || !queue.empty(); });
        if (queue.empty()) return;
        run = queue.front();
        queue.pop_front();
      }
      stamps.Give(run.first, run.second);
      b.map().Free(run.first, run.second);
    }
  });
  std::mt19937 rng(7);
  uint32_t hint = 0;
  for (int i = 0; i < kAllocations;) {
    const uint32_t n = 1 + rng() % 9;
    auto first = b.map().Allocate(n, hint);
    if (!first) {
      std::this_thread::yield();  // the freer will catch up
      continue;
    }
    if (!stamps.Take(*first, n)) double_handouts++;
    hint = *first + n;
    {
      std::lock_guard<std::mutex> lock(mu);
      queue.emplace_back(*first, n);
    }
    cv.notify_one();
    ++i;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_one();
  freer.join();
  EXPECT_EQ(double_handouts.load(), 0);
  EXPECT_EQ(b.map().CountFree(), kCount);
}

TEST(ChunkMapStressTest, SeveralAllocatorsNeverShareAChunk) {
  constexpr uint32_t kCount = 256;
  constexpr int kThreads = 4;
  constexpr int kRounds = 50000;
  Bitmap b(kCount);
  Stamps stamps(kCount);
  std::atomic<int> double_handouts{0};
  std::atomic<int> allocated{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<std::pair<uint32_t, uint32_t>> held;
      for (int r = 0; r < kRounds; ++r) {
        if (held.size() < 8 && rng() % 3 != 0) {
          const uint32_t n = 1 + rng() % 12;
          if (auto first = b.map().Allocate(n, rng() % kCount)) {
            if (!stamps.Take(*first, n)) double_handouts++;
            held.emplace_back(*first, n);
            allocated++;
            // Sometimes grow in place, as Buffer::TryExtend does.
            if (rng() % 4 == 0 && b.map().TryClaim(*first + n, 2)) {
              if (!stamps.Take(*first + n, 2)) double_handouts++;
              held.back().second += 2;
            }
          }
        } else if (!held.empty()) {
          auto run = held.back();
          held.pop_back();
          stamps.Give(run.first, run.second);
          b.map().Free(run.first, run.second);
        }
      }
      for (auto run : held) {
        stamps.Give(run.first, run.second);
        b.map().Free(run.first, run.second);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(double_handouts.load(), 0);
  EXPECT_GT(allocated.load(), kRounds);  // the stress really allocated
  EXPECT_EQ(b.map().CountFree(), kCount);
}

}  // namespace
}  // namespace shmport
