// Segment: one memfd-backed shared-memory region of a port direction.
#ifndef SHMPORT_COMMON_SEGMENT_H_
#define SHMPORT_COMMON_SEGMENT_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/chunk_map.h"
#include "common/segment_layout.h"
#include "shmport/segment_geometry.h"
#include "shmport/unique_fd.h"

namespace shmport {

// OK when `g` is within the limits of segment_layout.h: chunk_size a power of
// two in [kMinChunkSize, kMaxChunkSize], chunk_count in [1, kMaxChunks], data
// area at most kMaxSegmentDataBytes. The message names the bad value.
absl::Status ValidateGeometry(const SegmentGeometry& g);

// A mapped segment. The owner (the sending side) creates it and may write the
// data area; the peer (the receiving side) opens it from the fd it received,
// after validating it, and sees the data area read-only while the header,
// which holds the shared free map, is read-write.
//
// The geometry, id and token are copied at creation/validation and never
// re-read from shared memory. Destruction unmaps (and closes the fd if still
// held). Thread-safety: immutable after construction except for the shared
// atomics, which are safe to use concurrently; CloseFd is not thread-safe.
class Segment {
 public:
  enum class Role { kOwner, kPeer };

  // What the receiver was told about a segment before it maps the fd.
  struct Expectation {
    uint32_t id = 0;
    uint64_t size = 0;         // file size declared in NEW_SEGMENT
    uint64_t token = 0;        // token declared in NEW_SEGMENT
    SegmentGeometry geometry;  // negotiated for this port direction
  };

  // Creates a sealed memfd of g.file_size() bytes, maps it read-write and
  // initialises the header (all chunks and tracking slots free).
  static absl::StatusOr<std::shared_ptr<Segment>> Create(
      uint32_t id, const SegmentGeometry& g, pid_t peer_pid);

  // Validates `fd` against `expect` and maps it: seals include SHRINK|GROW,
  // fstat size == expect.size == geometry size, header magic/version/size,
  // geometry, id and token all as expected. On failure `fd` is closed and the
  // status names the first mismatch.
  static absl::StatusOr<std::shared_ptr<Segment>> Open(
      UniqueFd fd, const Expectation& expect);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  uint32_t id() const { return id_; }
  Role role() const { return role_; }
  const SegmentGeometry& geometry() const { return geometry_; }
  uint64_t token() const { return token_; }
  uint64_t file_size() const { return geometry_.file_size(); }

  layout::SegmentHeader* header() const { return header_; }
  std::atomic<uint32_t>& oosm() const { return header_->oosm; }
  ChunkMap chunks() const {
    return ChunkMap(header_->free_map, geometry_.chunk_count);
  }
  ChunkMap tracking_slots() const {
    return ChunkMap(header_->tracking_free_map, layout::kTrackingSlots);
  }
  std::atomic<uint64_t>& tracking_word(uint32_t slot) const {
    return header_->tracking[slot];
  }

  // Start of chunk `chunk` (< chunk_count). Writable only for the owner: the
  // peer's data mapping is read-only.
  uint8_t* chunk_data(uint32_t chunk) const {
    return data_ + static_cast<uint64_t>(chunk) * geometry_.chunk_size;
  }

  // Owner only, until CloseFd(): the memfd to send to the peer.
  int fd() const { return fd_.get(); }
  void CloseFd() { fd_.Reset(); }

  // Owner only: NEW_SEGMENT for it has gone to the peer, so descriptors may
  // name it. Set once, never cleared (a released id comes back as a new
  // Segment). Read on the sender's hot path without the pool's lock.
  void MarkAnnounced() { announced_.store(true, std::memory_order_release); }
  bool announced() const { return announced_.load(std::memory_order_acquire); }

  // Gives the pages of free chunks [first, first + n) back to the kernel
  // (MADV_REMOVE); they read as zeros afterwards. Owner only.
  absl::Status Discard(uint32_t first, uint32_t n);

  // Bytes of the mapping whose pages are in RAM right now (mincore), for
  // statistics; 0 if the kernel will not say.
  uint64_t ResidentBytes() const;

 private:
  Segment(Role role, uint32_t id, const SegmentGeometry& g, uint64_t token,
          UniqueFd fd, uint8_t* base);

  const Role role_;
  const uint32_t id_;
  const SegmentGeometry geometry_;  // local copy; never re-read
  const uint64_t token_;
  UniqueFd fd_;          // owner: held until sent; peer: closed after mapping
  uint8_t* const base_;  // the whole mapping (file_size bytes)
  layout::SegmentHeader* const header_;
  uint8_t* const data_;
  std::atomic<bool> announced_{false};
};

}  // namespace shmport

#endif  // SHMPORT_COMMON_SEGMENT_H_
