#include "common/chunk_map.h"

#include <algorithm>
#include <bit>

namespace shmport {
namespace {

// Mask of bits [lo, lo + n) within one word; n in [1, 64], lo + n <= 64.
constexpr uint64_t RunMask(uint32_t lo, uint32_t n) {
  return (n == 64 ? ~0ull : ((1ull << n) - 1)) << lo;
}

}  // namespace

void ChunkMap::InitAllFree() {
  const uint32_t full_words = count_ / 64;
  for (uint32_t w = 0; w < full_words; ++w) {
    words_[w].store(~0ull, std::memory_order_relaxed);
  }
  // The last word holds the remaining free bits and the busy sentinel.
  const uint32_t rest = count_ % 64;
  words_[full_words].store(rest == 0 ? 0 : RunMask(0, rest),
                           std::memory_order_release);
}

uint32_t ChunkMap::FindFree(uint32_t pos, uint32_t limit) const {
  if (pos >= limit) return count_;
  uint32_t w = pos / 64;
  uint64_t bits =
      words_[w].load(std::memory_order_relaxed) & (~0ull << (pos % 64));
  while (bits == 0) {
    ++w;
    if (w * 64 >= limit) return count_;
    bits = words_[w].load(std::memory_order_relaxed);
  }
  const uint32_t found = w * 64 + std::countr_zero(bits);
  return found < limit ? found : count_;
}

void ChunkMap::Release(uint32_t first, uint32_t n) {
  while (n > 0) {
    const uint32_t lo = first % 64;
    const uint32_t take = std::min(n, 64 - lo);
    words_[first / 64].fetch_or(RunMask(lo, take), std::memory_order_release);
    first += take;
    n -= take;
  }
}

bool ChunkMap::ClaimRun(uint32_t first, uint32_t n, uint32_t* busy) {
  if (n == 1) {
    // One bit: fetch_and clears it if free and changes nothing if busy.
    const uint64_t bit = 1ull << (first % 64);
    const uint64_t old =
        words_[first / 64].fetch_and(~bit, std::memory_order_acquire);
    if (old & bit) return true;
    *busy = first;
    return false;
  }
  uint32_t pos = first;
  uint32_t left = n;
  while (left > 0) {
    const uint32_t lo = pos % 64;
    const uint32_t take = std::min(left, 64 - lo);
    const uint64_t mask = RunMask(lo, take);
    std::atomic<uint64_t>& word = words_[pos / 64];
    uint64_t cur = word.load(std::memory_order_relaxed);
    while (true) {
      if ((cur & mask) != mask) {
        // Roll back what this run already took, then report where it broke.
        Release(first, pos - first);
        *busy = pos / 64 * 64 + std::countr_zero(~cur & mask);
        return false;
      }
      if (word.compare_exchange_weak(cur, cur & ~mask,
                                     std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
        break;
      }
    }
    pos += take;
    left -= take;
  }
  return true;
}

std::optional<uint32_t> ChunkMap::Search(uint32_t lo, uint32_t hi, uint32_t n) {
  uint32_t pos = lo;
  while (true) {
    pos = FindFree(pos, hi);
    if (pos >= hi || pos + n > count_) return std::nullopt;
    uint32_t busy = 0;
    if (ClaimRun(pos, n, &busy)) return pos;
    pos = busy + 1;
  }
}

std::optional<uint32_t> ChunkMap::Allocate(uint32_t n, uint32_t hint) {
  if (n == 0 || n > count_) return std::nullopt;
  const uint32_t start = hint < count_ ? hint : 0;
  if (auto found = Search(start, count_, n)) return found;
  if (start == 0) return std::nullopt;
  // Wrap: runs may start before `start` and end after it.
  return Search(0, start, n);
}

bool ChunkMap::TryClaim(uint32_t first, uint32_t n) {
  if (n == 0 || first >= count_ || n > count_ - first) return false;
  uint32_t busy = 0;
  return ClaimRun(first, n, &busy);
}

bool ChunkMap::Free(uint32_t first, uint32_t n) {
  if (n == 0 || first >= count_ || n > count_ - first) return false;
  bool all_were_busy = true;
  while (n > 0) {
    const uint32_t lo = first % 64;
    const uint32_t take = std::min(n, 64 - lo);
    const uint64_t mask = RunMask(lo, take);
    const uint64_t old =
        words_[first / 64].fetch_or(mask, std::memory_order_release);
    if (old & mask) all_were_busy = false;
    first += take;
    n -= take;
  }
  return all_were_busy;
}

std::optional<ChunkMap::Run> ChunkMap::NextFreeRun(uint32_t from) const {
  const uint32_t first = FindFree(from, count_);
  if (first >= count_) return std::nullopt;
  // The run ends at the first busy bit after `first`; the bound is count_
  // (the local copy), never the shared sentinel.
  const uint32_t last_word = count_ / 64;
  uint32_t w = first / 64;
  uint64_t busy =
      ~words_[w].load(std::memory_order_relaxed) & (~0ull << (first % 64));
  while (busy == 0 && w < last_word) {
    busy = ~words_[++w].load(std::memory_order_relaxed);
  }
  const uint32_t end =
      busy == 0 ? count_ : std::min(count_, w * 64 + std::countr_zero(busy));
  return Run{first, end - first};
}

uint32_t ChunkMap::CountFree() const {
  uint32_t total = 0;
  const uint32_t full_words = count_ / 64;
  for (uint32_t w = 0; w < full_words; ++w) {
    total += std::popcount(words_[w].load(std::memory_order_relaxed));
  }
  const uint32_t rest = count_ % 64;
  if (rest != 0) {
    total += std::popcount(words_[full_words].load(std::memory_order_relaxed) &
                           RunMask(0, rest));
  }
  return total;
}

bool ChunkMap::IsFree(uint32_t chunk) const {
  if (chunk >= count_) return false;
  return (words_[chunk / 64].load(std::memory_order_relaxed) >> (chunk % 64)) &
         1;
}

}  // namespace shmport
