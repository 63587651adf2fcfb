#include "client/port_grant.h"

#include <algorithm>

namespace shmport::internal {

PortOptions PortOptionsFromGrant(const v1::PortOpened& opened,
                                 const PortOptions& base) {
  PortOptions o = base;
  const v1::Geometry& g = opened.geometry();
  o.geometry.chunk_size = g.chunk_size();
  o.geometry.chunk_count = g.chunk_count();
  o.max_segments = g.max_segments();
  o.inline_threshold = g.inline_threshold();
  o.port_id = opened.port_id();
  // Both directions get the same grant.
  const uint64_t granted_bytes =
      opened.max_bytes_per_direction() != 0
          ? opened.max_bytes_per_direction()
          : o.geometry.file_size() * g.max_segments();
  o.max_peer_segments = std::min(base.max_peer_segments, g.max_segments());
  o.max_peer_bytes = std::min(base.max_peer_bytes, granted_bytes);
  return o;
}

}  // namespace shmport::internal
