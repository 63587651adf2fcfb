// The shared-memory layout of a segment: one header at offset 0, then the
// chunk data area. This header is the single source of truth for the layout;
// docs/protocol.md lists the same numbers and a test checks that it does.
//
//   offset 0          SegmentHeader (kHeaderSize bytes, whole pages)
//   offset kHeaderSize  chunk 0, chunk 1, ... chunk (chunk_count - 1)
//
// The immutable part (magic .. token) is written once by the creator before
// the fd leaves the process; the receiver copies it into its own memory at
// validation and never reads it again. The shared atomics follow, each at a
// fixed offset and lock-free, so two processes built by different compilers
// agree on them.
#ifndef SHMPORT_COMMON_SEGMENT_LAYOUT_H_
#define SHMPORT_COMMON_SEGMENT_LAYOUT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmport/segment_geometry.h"

namespace shmport::layout {

// "SHMPORT" plus a format byte, read as a little-endian u64.
inline constexpr uint64_t kMagic = 0x01'54'52'4F'50'4D'48'53ULL;
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kPageSize = 4096;

// Geometry limits every receiver enforces, whatever the sender declares.
inline constexpr uint32_t kMinChunkSize = 4096;              // one page
inline constexpr uint32_t kMaxChunkSize = 4u * 1024 * 1024;  // 4 MiB
inline constexpr uint32_t kMaxChunks = 4096;
inline constexpr uint64_t kMaxSegmentDataBytes = 1ull << 30;  // 1 GiB

// One bit per chunk (set = free) plus the always-busy sentinel bit after the
// last chunk, so a run never extends past the end.
inline constexpr uint32_t kFreeMapWords = kMaxChunks / 64 + 1;
// Tracking slots per segment, for cancellable (tracked) sends.
inline constexpr uint32_t kTrackingSlots = 512;
inline constexpr uint32_t kTrackingMapWords = kTrackingSlots / 64 + 1;

using Atomic32 = std::atomic<uint32_t>;
using Atomic64 = std::atomic<uint64_t>;
static_assert(Atomic32::is_always_lock_free);
static_assert(Atomic64::is_always_lock_free);
static_assert(sizeof(Atomic32) == 4 && sizeof(Atomic64) == 8);

// The immutable part, written once by the creator before the fd leaves it.
struct SegmentInfo {
  uint64_t magic;           // kMagic
  uint32_t version;         // kVersion
  uint32_t header_size;     // kHeaderSize
  uint32_t chunk_size;      // bytes per chunk, power of two
  uint32_t chunk_count;     // chunks in the data area
  uint32_t segment_id;      // unique per direction of a port
  uint32_t tracking_slots;  // kTrackingSlots
  int32_t creator_pid;      // the sender (as the creator saw itself)
  int32_t peer_pid;         // the receiver it was made for
  uint64_t token;           // random; repeated in NEW_SEGMENT
  uint8_t reserved[16];
};

struct SegmentHeader {
  SegmentInfo info;

  // --- Shared, mutated by both sides. ---
  // 1 while the creator waits for memory; the receiver that frees chunks and
  // wins CAS(1 -> 0) owes the creator an SHM_ACK.
  alignas(64) Atomic32 oosm;
  uint8_t reserved1[60];
  // Bit i set = chunk i free. The creator clears bits (allocate), either side
  // sets them (free).
  alignas(64) Atomic64 free_map[kFreeMapWords];
  // Bit i set = tracking slot i free.
  alignas(64) Atomic64 tracking_free_map[kTrackingMapWords];
  // Slot word: (generation << 32) | stream while a tracked message is in
  // flight; 0 once the receiver claimed it or the sender cancelled it.
  alignas(64) Atomic64 tracking[kTrackingSlots];
};

// The header occupies whole pages, so the receiver can map it read-write and
// the data area read-only.
inline constexpr uint32_t kHeaderSize =
    (sizeof(SegmentHeader) + kPageSize - 1) / kPageSize * kPageSize;

static_assert(std::is_trivially_copyable_v<SegmentInfo>);
static_assert(offsetof(SegmentInfo, magic) == 0);
static_assert(offsetof(SegmentInfo, version) == 8);
static_assert(offsetof(SegmentInfo, header_size) == 12);
static_assert(offsetof(SegmentInfo, chunk_size) == 16);
static_assert(offsetof(SegmentInfo, chunk_count) == 20);
static_assert(offsetof(SegmentInfo, segment_id) == 24);
static_assert(offsetof(SegmentInfo, tracking_slots) == 28);
static_assert(offsetof(SegmentInfo, creator_pid) == 32);
static_assert(offsetof(SegmentInfo, peer_pid) == 36);
static_assert(offsetof(SegmentInfo, token) == 40);
static_assert(sizeof(SegmentInfo) == 64);
static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(offsetof(SegmentHeader, info) == 0);
static_assert(offsetof(SegmentHeader, oosm) == 64);
static_assert(offsetof(SegmentHeader, free_map) == 128);
static_assert(offsetof(SegmentHeader, tracking_free_map) == 704);
static_assert(offsetof(SegmentHeader, tracking) == 832);
static_assert(sizeof(SegmentHeader) == 4928);
static_assert(kHeaderSize == 8192);
static_assert(kHeaderSize == kSegmentHeaderBytes);  // the public constant
// Chunk 0 starts exactly at kHeaderSize: the header never overlaps it.
static_assert(sizeof(SegmentHeader) <= kHeaderSize);
static_assert(kHeaderSize % kPageSize == 0);

}  // namespace shmport::layout

#endif  // SHMPORT_COMMON_SEGMENT_LAYOUT_H_
