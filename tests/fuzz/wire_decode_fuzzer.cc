// Fuzz target: wire::Decode, the first code that sees a port peer's bytes.
//
// Hostile input must be rejected with INVALID_ARGUMENT, never crash. Input
// that is accepted must satisfy every promise the Decoded view makes to the
// Port (which trusts the framing and checks only ids and ranges), so each
// accepted message is read in full here, field by field, and must re-encode
// to exactly the bytes that came in: the decoder accepts nothing the encoder
// could not have produced.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/wire.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/wire_decode_input.h"

namespace shmport::fuzz {
namespace {

using wire::Decoded;
using wire::MessageType;

// Reading into a volatile sink keeps the loads that ASan checks from being
// optimised away.
volatile uint8_t sink;

void Touch(absl::Span<const uint8_t> bytes) {
  uint8_t x = 0;
  for (uint8_t b : bytes) x ^= b;
  sink = x;
}

template <typename T>
T Load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

// The fds each type this target knows must arrive with; nullopt for types
// added to the protocol after it was written (their count is only bounded).
std::optional<int> FdsCarriedBy(MessageType type) {
  switch (type) {
    case MessageType::kNewSegment:
    case MessageType::kNewRing:
      return 1;
    case MessageType::kHello:
    case MessageType::kData:
    case MessageType::kMmapData:
    case MessageType::kOosm:
    case MessageType::kShmAck:
    case MessageType::kBye:
    case MessageType::kReleaseSegment:
    case MessageType::kRingWake:
    case MessageType::kRingResume:
      return 0;
    default:
      return std::nullopt;
  }
}

// Re-encodes `d` with the production Encoder; the result, followed by the
// inline payload for DATA, must be the datagram that was decoded.
void CheckReencodes(const Decoded& d, absl::Span<const uint8_t> datagram) {
  const MessageType type = d.type();
  wire::Encoder e(type, d.header.stream, d.header.flags & ~wire::kFlagTracked);
  if (d.tracking.has_value()) e.SetTracking(*d.tracking);
  size_t inline_bytes = 0;
  switch (type) {
    case MessageType::kHello:
      e.SetHello(d.hello());
      break;
    case MessageType::kNewSegment:
      e.SetNewSegment(d.new_segment());
      break;
    case MessageType::kReleaseSegment:
      e.SetReleaseSegment(d.release_segment());
      break;
    case MessageType::kNewRing:
      e.SetNewRing(d.new_ring());
      break;
    case MessageType::kMmapData:
      for (size_t i = 0; i < d.descriptor_count(); ++i) {
        SHMPORT_FUZZ_CHECK(e.AddDescriptor(d.descriptor(i)))
            << "encoder full after " << i << " of " << d.descriptor_count()
            << " descriptors";
      }
      break;
    case MessageType::kData:
      inline_bytes = d.body.size();
      e.SetInlineLength(static_cast<uint32_t>(inline_bytes));
      break;
    case MessageType::kOosm:
    case MessageType::kShmAck:
    case MessageType::kBye:
    case MessageType::kRingWake:
    case MessageType::kRingResume:
      break;
    default:
      // A type added after this target was written: its body has no setter
      // here, so re-encode the header and compare the body as raw bytes.
      inline_bytes = d.body.size();
      e.SetInlineLength(static_cast<uint32_t>(inline_bytes));
      break;
  }
  const absl::Span<const uint8_t> head = e.bytes();
  SHMPORT_FUZZ_CHECK(head.size() + inline_bytes == datagram.size())
      << wire::MessageTypeName(type) << " re-encodes to " << head.size()
      << " + " << inline_bytes << " bytes, received " << datagram.size();
  SHMPORT_FUZZ_CHECK(std::memcmp(head.data(), datagram.data(), head.size()) ==
                     0)
      << wire::MessageTypeName(type)
      << " re-encodes to different bytes: the decoder accepted a "
         "non-canonical message";
}

void CheckDecoded(const Decoded& d, const WireDecodeInput& in) {
  const absl::Span<const uint8_t> datagram = in.datagram;
  const wire::MessageHeader& h = d.header;

  // The header is the first 12 bytes, verbatim. Every valid message fits
  // the receive buffer: a larger one must arrive as MSG_TRUNC instead.
  SHMPORT_FUZZ_CHECK(datagram.size() >= wire::kHeaderBytes);
  SHMPORT_FUZZ_CHECK(datagram.size() <= wire::kMaxMessageBytes)
      << datagram.size() << " bytes accepted, receive buffer "
      << wire::kMaxMessageBytes;
  SHMPORT_FUZZ_CHECK(std::memcmp(&h, datagram.data(), wire::kHeaderBytes) == 0);
  SHMPORT_FUZZ_CHECK(h.length == datagram.size() - wire::kHeaderBytes)
      << "length " << h.length << ", datagram " << datagram.size();
  const MessageType type = d.type();
  SHMPORT_FUZZ_CHECK(wire::MessageTypeName(type) != "UNKNOWN")
      << "accepted unknown type " << int{h.type};
  SHMPORT_FUZZ_CHECK((h.flags & ~wire::kKnownFlags) == 0)
      << "flags " << int{h.flags};

  // fds: exactly as many as the type carries.
  SHMPORT_FUZZ_CHECK(in.num_fds >= 0 && in.num_fds <= wire::kMaxFdsPerMessage)
      << wire::MessageTypeName(type) << " accepted with " << in.num_fds
      << " fds";
  if (const std::optional<int> want = FdsCarriedBy(type)) {
    SHMPORT_FUZZ_CHECK(in.num_fds == *want)
        << wire::MessageTypeName(type) << " accepted with " << in.num_fds
        << " fds, carries " << *want;
  }

  // Tracking: present exactly when flagged, only on data messages, and it
  // is the 12 bytes after the header.
  const bool tracked = (h.flags & wire::kFlagTracked) != 0;
  SHMPORT_FUZZ_CHECK(d.tracking.has_value() == tracked);
  size_t body_offset = wire::kHeaderBytes;
  if (tracked) {
    SHMPORT_FUZZ_CHECK(type == MessageType::kData ||
                       type == MessageType::kMmapData)
        << wire::MessageTypeName(type) << " accepted with TRACKED";
    const auto ref = Load<wire::TrackingRef>(datagram.data() + body_offset);
    SHMPORT_FUZZ_CHECK(*d.tracking == ref);
    body_offset += sizeof(wire::TrackingRef);
  }

  // The body is the rest of the datagram: inside the input, nothing left
  // over, nothing overlapping the header or the tracking ref.
  SHMPORT_FUZZ_CHECK(body_offset <= datagram.size());
  SHMPORT_FUZZ_CHECK(d.body.data() == datagram.data() + body_offset)
      << "body starts at offset " << (d.body.data() - datagram.data())
      << ", expected " << body_offset;
  SHMPORT_FUZZ_CHECK(d.body.size() == datagram.size() - body_offset)
      << "body " << d.body.size() << " bytes, expected "
      << datagram.size() - body_offset;
  Touch(d.body);

  if (type != MessageType::kMmapData) {
    SHMPORT_FUZZ_CHECK(h.count == 0) << "count " << h.count;
  }
  switch (type) {
    case MessageType::kData:
      SHMPORT_FUZZ_CHECK(d.body.size() <= wire::kMaxInlinePayload);
      break;
    case MessageType::kMmapData: {
      const size_t n = d.descriptor_count();
      SHMPORT_FUZZ_CHECK(n == h.count);
      SHMPORT_FUZZ_CHECK(n >= 1 && n <= wire::kMaxDescriptors) << "count " << n;
      SHMPORT_FUZZ_CHECK(n * sizeof(wire::Descriptor) == d.body.size())
          << "count " << n << " x 12 != " << d.body.size() << " body bytes";
      for (size_t i = 0; i < n; ++i) {
        const wire::Descriptor got = d.descriptor(i);
        const auto want = Load<wire::Descriptor>(d.body.data() +
                                                 i * sizeof(wire::Descriptor));
        SHMPORT_FUZZ_CHECK(got == want) << "descriptor " << i;
        sink = static_cast<uint8_t>(got.segment_id ^ got.chunk_id ^ got.size);
      }
      break;
    }
    case MessageType::kHello: {
      SHMPORT_FUZZ_CHECK(d.body.size() == sizeof(wire::Hello));
      const wire::Hello hello = d.hello();
      SHMPORT_FUZZ_CHECK(std::memcmp(&hello, d.body.data(), sizeof(hello)) ==
                         0);
      break;
    }
    case MessageType::kNewSegment: {
      SHMPORT_FUZZ_CHECK(d.body.size() == sizeof(wire::NewSegment));
      const wire::NewSegment s = d.new_segment();
      SHMPORT_FUZZ_CHECK(std::memcmp(&s, d.body.data(), sizeof(s)) == 0);
      break;
    }
    case MessageType::kReleaseSegment: {
      SHMPORT_FUZZ_CHECK(d.body.size() == sizeof(wire::ReleaseSegment));
      const wire::ReleaseSegment r = d.release_segment();
      SHMPORT_FUZZ_CHECK(std::memcmp(&r, d.body.data(), sizeof(r)) == 0);
      break;
    }
    case MessageType::kNewRing: {
      SHMPORT_FUZZ_CHECK(d.body.size() == sizeof(wire::NewRing));
      const wire::NewRing r = d.new_ring();
      SHMPORT_FUZZ_CHECK(std::memcmp(&r, d.body.data(), sizeof(r)) == 0);
      break;
    }
    case MessageType::kOosm:
    case MessageType::kShmAck:
    case MessageType::kBye:
    case MessageType::kRingWake:
    case MessageType::kRingResume:
      SHMPORT_FUZZ_CHECK(d.body.empty())
          << wire::MessageTypeName(type) << " with " << d.body.size()
          << " body bytes";
      break;
    default:  // a type added after this target: the checks above only
      break;
  }
  CheckReencodes(d, datagram);
}

}  // namespace
}  // namespace shmport::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using shmport::fuzz::WireDecodeInput;
  const WireDecodeInput in = WireDecodeInput::Parse({data, size});
  absl::StatusOr<shmport::wire::Decoded> decoded =
      shmport::wire::Decode(in.datagram, in.num_fds);
  if (!decoded.ok()) {
    // A rejection is a framing error: the Port closes with this message.
    SHMPORT_FUZZ_CHECK(decoded.status().code() ==
                       absl::StatusCode::kInvalidArgument)
        << decoded.status();
    SHMPORT_FUZZ_CHECK(!decoded.status().message().empty());
    return 0;
  }
  shmport::fuzz::CheckDecoded(*decoded, in);
  return 0;
}
