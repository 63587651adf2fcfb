// SegmentGeometry: how the shared-memory segments of one port direction are
// cut into chunks. Part of the C++ API of libshmport (C++20).
#ifndef SHMPORT_SEGMENT_GEOMETRY_H_
#define SHMPORT_SEGMENT_GEOMETRY_H_

#include <cstdint>

namespace shmport {

// Bytes of a segment's header, in front of chunk 0 (whole pages; see
// docs/protocol.md). Pinned against the layout in common/segment_layout.h.
inline constexpr uint32_t kSegmentHeaderBytes = 8192;

// How a segment's data area is cut into chunks: chunk_size a power of two
// in [4 KiB, 4 MiB], chunk_count in [1, 4096]. The daemon grants each
// port's geometry; a Port reports what it got.
struct SegmentGeometry {
  uint32_t chunk_size = 16 * 1024;
  uint32_t chunk_count = 1024;

  uint64_t data_size() const {
    return static_cast<uint64_t>(chunk_size) * chunk_count;
  }
  uint64_t file_size() const { return kSegmentHeaderBytes + data_size(); }
  friend bool operator==(const SegmentGeometry&,
                         const SegmentGeometry&) = default;
};

}  // namespace shmport

#endif  // SHMPORT_SEGMENT_GEOMETRY_H_
