#include "tests/ports/raw_peer.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace shmport::testing {

void RawPeer::SendHello() {
  PortOptions o;
  o.geometry = kRawPeerGeometry;
  o.max_segments = 4;
  SendHello(o);
}

void RawPeer::SendHello(const PortOptions& o) {
  ASSERT_TRUE(Port::SendHello(channel_.fd(), o).ok());
}

std::unique_ptr<RingWriter> RawPeer::AnnounceRing(uint32_t capacity) {
  auto ring = RingWriter::Create(capacity);
  EXPECT_TRUE(ring.ok()) << ring.status();
  if (!ring.ok()) return nullptr;
  wire::Encoder e(wire::MessageType::kNewRing, 0);
  e.SetNewRing({(*ring)->file_size(), (*ring)->token()});
  const int fd = (*ring)->fd();
  Send(e, absl::MakeConstSpan(&fd, 1));
  (*ring)->CloseFd();
  return *std::move(ring);
}

void RawPeer::Send(wire::Encoder& e, absl::Span<const int> fds) {
  ASSERT_TRUE(channel_.Send(e.bytes(), fds).ok());
}

void RawPeer::SendBytes(const std::vector<uint8_t>& bytes) {
  ASSERT_TRUE(channel_.Send(bytes).ok());
}

absl::Status RawPeer::TrySend(absl::Span<const uint8_t> bytes,
                              absl::Span<const int> fds) {
  return channel_.Send(bytes, fds);
}

std::shared_ptr<Segment> RawPeer::Announce(uint32_t id,
                                           const SegmentGeometry& g) {
  auto seg = Segment::Create(id, g, ::getpid());
  EXPECT_TRUE(seg.ok()) << seg.status();
  if (!seg.ok()) return nullptr;
  wire::Encoder e(wire::MessageType::kNewSegment, 0);
  e.SetNewSegment({id, 0, (*seg)->file_size(), (*seg)->token()});
  const int fd = (*seg)->fd();
  Send(e, absl::MakeConstSpan(&fd, 1));
  return *seg;
}

absl::Status RawPeer::TryAnnounce(uint32_t id, const SegmentGeometry& g) {
  auto seg = Segment::Create(id, g, ::getpid());
  if (!seg.ok()) return seg.status();
  wire::Encoder e(wire::MessageType::kNewSegment, 0);
  e.SetNewSegment({id, 0, (*seg)->file_size(), (*seg)->token()});
  const int fd = (*seg)->fd();
  return TrySend(e.bytes(), absl::MakeConstSpan(&fd, 1));
}

void RawPeer::Descriptor(wire::Descriptor d) {
  wire::Encoder e(wire::MessageType::kMmapData, 1);
  e.AddDescriptor(d);
  Send(e);
}

}  // namespace shmport::testing
