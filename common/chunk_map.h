// ChunkMap: a lock-free allocator of contiguous chunk runs over a bitmap that
// lives in shared memory.
#ifndef SHMPORT_COMMON_CHUNK_MAP_H_
#define SHMPORT_COMMON_CHUNK_MAP_H_

#include <atomic>
#include <cstdint>
#include <optional>

namespace shmport {

// A view over `count` bits of shared atomic words (bit set = chunk free),
// followed by an always-busy sentinel bit. The owner of the memory allocates;
// either side frees. Allocation claims bits with CAS (one per word a run
// touches) and rolls back a partial run when it meets a busy bit, so there is
// no lock and no window in which a chunk can be handed out twice.
//
// Bounds come from the `count` given here (the local copy of the geometry),
// never from shared memory, so a peer that scribbles on the bitmap can make
// allocations fail or overlap its own reads, but cannot make a scan run past
// the end.
//
// Thread-safety: every method may be called concurrently from any number of
// threads and processes. ChunkMap itself is a small value type (two words).
class ChunkMap {
 public:
  // `words` must hold at least WordsFor(count) atomics.
  ChunkMap(std::atomic<uint64_t>* words, uint32_t count)
      : words_(words), count_(count) {}

  static constexpr uint32_t WordsFor(uint32_t count) { return count / 64 + 1; }

  // Marks every chunk free, the sentinel busy. Only before the map is shared.
  void InitAllFree();

  // Claims `n` (>= 1) contiguous free chunks. The search starts at `hint`
  // (first fit from there) and wraps around once. Returns the first chunk of
  // the run, or nullopt when no run of `n` free chunks exists right now.
  std::optional<uint32_t> Allocate(uint32_t n, uint32_t hint = 0);

  // Claims exactly [first, first + n) if every chunk in it is free; all or
  // nothing. Grows a buffer in place (first = its end). False if out of
  // range or any chunk is busy.
  bool TryClaim(uint32_t first, uint32_t n);

  // Marks [first, first + n) free. Returns false, changing nothing, when the
  // range is out of bounds; returns false after freeing when some chunk in
  // it was already free (a double free: a bug or a misbehaving peer).
  bool Free(uint32_t first, uint32_t n);

  // A maximal run of free chunks: [first, first + length).
  struct Run {
    uint32_t first = 0;
    uint32_t length = 0;
  };
  // The first run of free chunks at or after `from`; nullopt when none.
  // A snapshot: the bits may change as soon as it returns.
  std::optional<Run> NextFreeRun(uint32_t from) const;

  uint32_t CountFree() const;
  bool IsFree(uint32_t chunk) const;
  uint32_t count() const { return count_; }

 private:
  // First free chunk in [pos, limit), or count_ when there is none.
  uint32_t FindFree(uint32_t pos, uint32_t limit) const;
  // Claims [first, first + n). On failure rolls back and stores the first
  // busy chunk it met in *busy.
  bool ClaimRun(uint32_t first, uint32_t n, uint32_t* busy);
  // Releases the bits of [first, first + n) without checks.
  void Release(uint32_t first, uint32_t n);
  std::optional<uint32_t> Search(uint32_t lo, uint32_t hi, uint32_t n);

  std::atomic<uint64_t>* words_;  // shared; not owned
  uint32_t count_;                // local copy of the geometry
};

}  // namespace shmport

#endif  // SHMPORT_COMMON_CHUNK_MAP_H_
