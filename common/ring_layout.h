// The shared-memory layout of a port direction's message ring: a
// single-producer/single-consumer byte ring that carries whole wire
// messages, so that small messages need no system call at all.
//
//   offset 0                RingHeader (kRingHeaderSize bytes, one page)
//   offset kRingHeaderSize  data area, `capacity` bytes (a power of two)
//
// Entries are 8-byte aligned and never wrap: an entry that would cross the
// end is preceded by a PAD entry that fills the rest of the area.
//
//   entry    length u32 | kind u32 | `length` bytes | zero padding to 8
//
// Positions (head, tail) count bytes since creation and only grow; the
// offset of a position is position % capacity.
#ifndef SHMPORT_COMMON_RING_LAYOUT_H_
#define SHMPORT_COMMON_RING_LAYOUT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace shmport::ring_layout {

// "SHMRING" plus a format byte, read as a little-endian u64.
inline constexpr uint64_t kMagic = 0x01'47'4E'49'52'4D'48'53ULL;
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kRingHeaderSize = 4096;
inline constexpr uint32_t kMinCapacity = 4096;
inline constexpr uint32_t kMaxCapacity = 16u << 20;
inline constexpr uint32_t kEntryHeaderBytes = 8;
inline constexpr uint32_t kEntryAlign = 8;

// Entry kinds.
inline constexpr uint32_t kKindMessage = 1;  // one wire message
// "My next ordered messages come through the socket" (until RING_RESUME).
inline constexpr uint32_t kKindSocketMarker = 2;
inline constexpr uint32_t kKindPad = 3;  // skip to the end of the area

// Room the producer always keeps free for one marker entry.
inline constexpr uint32_t kMarkerReserve = kEntryHeaderBytes;

struct RingInfo {
  uint64_t magic;
  uint32_t version;
  uint32_t header_size;  // kRingHeaderSize
  uint32_t capacity;     // data bytes, a power of two
  uint32_t reserved0;
  uint64_t token;  // random; repeated in NEW_RING
  uint8_t reserved1[32];
};
static_assert(sizeof(RingInfo) == 64);
static_assert(std::is_trivially_copyable_v<RingInfo>);

struct RingHeader {
  RingInfo info;
  // Written by the producer only: bytes published.
  alignas(64) std::atomic<uint64_t> tail;
  // Written by the consumer only: bytes consumed.
  alignas(64) std::atomic<uint64_t> head;
  // 1 while the consumer sleeps on the socket; the producer that publishes
  // and wins CAS(1 -> 0) sends RING_WAKE.
  alignas(64) std::atomic<uint32_t> consumer_sleeping;
  // Written by the consumer only: 1 once its port closed (it sent or is
  // sending BYE). The producer's next Allocate or Send fails at once
  // instead of filling memory nobody will read. Zero in older layouts.
  alignas(64) std::atomic<uint32_t> consumer_closed;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<RingHeader>);
static_assert(offsetof(RingHeader, info) == 0);
static_assert(offsetof(RingInfo, capacity) == 16);
static_assert(offsetof(RingInfo, token) == 24);
static_assert(offsetof(RingHeader, tail) == 64);
static_assert(offsetof(RingHeader, head) == 128);
static_assert(offsetof(RingHeader, consumer_sleeping) == 192);
static_assert(offsetof(RingHeader, consumer_closed) == 256);
static_assert(sizeof(RingHeader) <= kRingHeaderSize);

}  // namespace shmport::ring_layout

#endif  // SHMPORT_COMMON_RING_LAYOUT_H_
