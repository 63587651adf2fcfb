// RawPeer: the hostile end of a port, speaking crafted protocol messages
// over a raw socket instead of through a Port.
#ifndef SHMPORT_TESTS_PORTS_RAW_PEER_H_
#define SHMPORT_TESTS_PORTS_RAW_PEER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/ring.h"
#include "common/segment.h"
#include "common/unix_channel.h"
#include "common/wire.h"
#include "shmport/port.h"

namespace shmport::testing {

// The geometry RawPeer declares unless told otherwise: 16 chunks of 4 KiB.
inline constexpr SegmentGeometry kRawPeerGeometry{4096, 16};

class RawPeer {
 public:
  explicit RawPeer(UniqueFd fd) : channel_(std::move(fd)) {}

  // A valid HELLO (with credentials): kRawPeerGeometry and 4 segments, or
  // what `o` declares. Offering a ring does not oblige the peer to send one.
  void SendHello();
  void SendHello(const PortOptions& o);
  // A valid ring announced with NEW_RING; the caller may never write it.
  std::unique_ptr<RingWriter> AnnounceRing(uint32_t capacity = 64 * 1024);
  void Send(wire::Encoder& e, absl::Span<const int> fds = {});
  void SendBytes(const std::vector<uint8_t>& bytes);
  // Blocking sends that report failure instead of failing the test: for
  // floods that go on until the victim closes.
  absl::Status TrySend(absl::Span<const uint8_t> bytes,
                       absl::Span<const int> fds = {});
  // A valid, sealed segment of `g` announced with NEW_SEGMENT.
  std::shared_ptr<Segment> Announce(
      uint32_t id, const SegmentGeometry& g = kRawPeerGeometry);
  // Announce, reporting failure (see TrySend); the segment is not kept.
  absl::Status TryAnnounce(uint32_t id,
                           const SegmentGeometry& g = kRawPeerGeometry);
  void Descriptor(wire::Descriptor d);

  int fd() const { return channel_.fd(); }

 private:
  UnixChannel channel_;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_PORTS_RAW_PEER_H_
