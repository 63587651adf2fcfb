#include "common/wire.h"

#include "absl/strings/str_format.h"

namespace shmport::wire {
namespace {

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(what);
}

// Fixed body size of each type, or -1 where it varies.
int FixedBodySize(MessageType type) {
  switch (type) {
    case MessageType::kHello:
      return sizeof(Hello);
    case MessageType::kNewSegment:
      return sizeof(NewSegment);
    case MessageType::kReleaseSegment:
      return sizeof(ReleaseSegment);
    case MessageType::kNewRing:
      return sizeof(NewRing);
    case MessageType::kOosm:
    case MessageType::kShmAck:
    case MessageType::kBye:
    case MessageType::kRingWake:
    case MessageType::kRingResume:
      return 0;
    case MessageType::kData:
    case MessageType::kMmapData:
      return -1;
  }
  return -1;
}

bool KnownType(uint8_t t) {
  return t >= static_cast<uint8_t>(MessageType::kHello) &&
         t <= static_cast<uint8_t>(MessageType::kRingResume);
}

}  // namespace

absl::string_view MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kHello:
      return "HELLO";
    case MessageType::kData:
      return "DATA";
    case MessageType::kMmapData:
      return "MMAP_DATA";
    case MessageType::kNewSegment:
      return "NEW_SEGMENT";
    case MessageType::kOosm:
      return "OOSM";
    case MessageType::kShmAck:
      return "SHM_ACK";
    case MessageType::kBye:
      return "BYE";
    case MessageType::kReleaseSegment:
      return "RELEASE_SEGMENT";
    case MessageType::kNewRing:
      return "NEW_RING";
    case MessageType::kRingWake:
      return "RING_WAKE";
    case MessageType::kRingResume:
      return "RING_RESUME";
  }
  return "UNKNOWN";
}

bool IsUnordered(MessageType type) {
  return type == MessageType::kOosm || type == MessageType::kShmAck ||
         type == MessageType::kRingWake;
}

absl::StatusOr<Decoded> Decode(absl::Span<const uint8_t> bytes, int num_fds) {
  if (bytes.size() < kHeaderBytes) {
    return Bad(absl::StrFormat(
        "message of %u bytes is shorter than the %u-byte header", bytes.size(),
        kHeaderBytes));
  }
  Decoded d;
  std::memcpy(&d.header, bytes.data(), kHeaderBytes);
  const MessageHeader& h = d.header;
  const size_t body_size = bytes.size() - kHeaderBytes;
  if (h.length != body_size) {
    return Bad(absl::StrFormat(
        "header length %u does not match the %u body bytes received", h.length,
        body_size));
  }
  if (!KnownType(h.type)) {
    return Bad(absl::StrFormat("unknown message type %u", h.type));
  }
  const MessageType type = d.type();
  const absl::string_view name = MessageTypeName(type);
  if ((h.flags & ~kKnownFlags) != 0) {
    return Bad(absl::StrFormat("%s: unknown flags 0x%02x", name, h.flags));
  }
  const int want_fds =
      type == MessageType::kNewSegment || type == MessageType::kNewRing ? 1 : 0;
  if (num_fds != want_fds) {
    return Bad(absl::StrFormat("%s carries %d fds, expected %d", name, num_fds,
                               want_fds));
  }
  const bool tracked = (h.flags & kFlagTracked) != 0;
  const bool data =
      type == MessageType::kData || type == MessageType::kMmapData;
  if (tracked && !data) {
    return Bad(absl::StrFormat("%s may not carry the TRACKED flag", name));
  }
  if (type != MessageType::kMmapData && h.count != 0) {
    return Bad(absl::StrFormat("%s: count %u, expected 0", name, h.count));
  }
  absl::Span<const uint8_t> body = bytes.subspan(kHeaderBytes);
  if (tracked) {
    if (body.size() < sizeof(TrackingRef)) {
      return Bad(absl::StrFormat("%s: TRACKED but the body has only %u bytes",
                                 name, body.size()));
    }
    TrackingRef ref;
    std::memcpy(&ref, body.data(), sizeof(ref));
    d.tracking = ref;
    body = body.subspan(sizeof(TrackingRef));
  }
  switch (type) {
    case MessageType::kData:
      if (body.size() > kMaxInlinePayload) {
        return Bad(absl::StrFormat("DATA: inline payload %u exceeds %u",
                                   body.size(), kMaxInlinePayload));
      }
      break;
    case MessageType::kMmapData:
      if (h.count == 0 || h.count > kMaxDescriptors) {
        return Bad(absl::StrFormat("MMAP_DATA: count %u out of range [1, %u]",
                                   h.count, kMaxDescriptors));
      }
      if (body.size() != size_t{h.count} * sizeof(Descriptor)) {
        return Bad(absl::StrFormat(
            "MMAP_DATA: count %u needs %u descriptor bytes, got %u", h.count,
            size_t{h.count} * sizeof(Descriptor), body.size()));
      }
      break;
    default: {
      const int want = FixedBodySize(type);
      if (body.size() != static_cast<size_t>(want)) {
        return Bad(absl::StrFormat("%s: body is %u bytes, expected %d", name,
                                   body.size(), want));
      }
    }
  }
  d.body = body;
  return d;
}

Encoder::Encoder(MessageType type, uint32_t stream, uint8_t flags)
    : header_{stream, static_cast<uint8_t>(type), flags, 0, 0} {}

void Encoder::SetTracking(const TrackingRef& ref) {
  header_.flags |= kFlagTracked;
  std::memcpy(buffer_.data() + kHeaderBytes, &ref, sizeof(ref));
  used_ = kHeaderBytes + sizeof(ref);
}

bool Encoder::AddDescriptor(const Descriptor& d) {
  if (full()) return false;
  std::memcpy(buffer_.data() + used_, &d, sizeof(d));
  used_ += sizeof(d);
  ++header_.count;
  return true;
}

absl::Span<const uint8_t> Encoder::bytes() {
  header_.length = static_cast<uint32_t>(used_ - kHeaderBytes) + inline_length_;
  std::memcpy(buffer_.data(), &header_, kHeaderBytes);
  return absl::MakeConstSpan(buffer_.data(), used_);
}

}  // namespace shmport::wire
