// The port wire format: every message that crosses a port's SOCK_SEQPACKET
// socket. One datagram = one message = a fixed 12-byte header and a body.
// All integers are in host byte order (both ends share one host).
//
//   header   stream u32 | type u8 | flags u8 | count u16 | length u32
//   HELLO          Hello (40 bytes)                         + SCM_CREDENTIALS
//   DATA           [TrackingRef] payload bytes (inline)
//   MMAP_DATA      [TrackingRef] count x Descriptor
//   NEW_SEGMENT    NewSegment (24 bytes)                    + 1 fd
//   OOSM, SHM_ACK, BYE          empty
//   RELEASE_SEGMENT             segment_id u32
//   NEW_RING       NewRing (16 bytes)                       + 1 fd
//   RING_WAKE, RING_RESUME      empty
//
// With a ring (ring.h), the ordered messages (everything but OOSM, SHM_ACK
// and RING_WAKE) travel through shared memory; the socket carries fds,
// wake-ups and the stretches between a ring marker and RING_RESUME.
//
// Decode() checks the framing (sizes, counts, flags, fds) of anything a peer
// sends; the Port checks the meaning (ids against its tables, chunk ranges).
#ifndef SHMPORT_COMMON_WIRE_H_
#define SHMPORT_COMMON_WIRE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace shmport::wire {

inline constexpr uint16_t kProtocolVersion = 1;

enum class MessageType : uint8_t {
  kHello = 1,
  kData = 2,
  kMmapData = 3,
  kNewSegment = 4,
  kOosm = 5,
  kShmAck = 6,
  kBye = 7,
  kReleaseSegment = 8,
  kNewRing = 9,      // "my ordered messages now come through this ring"
  kRingWake = 10,    // the ring went non-empty while you slept
  kRingResume = 11,  // "back to the ring" after a socket marker
};
absl::string_view MessageTypeName(MessageType type);

// Flag bits of MessageHeader::flags.
inline constexpr uint8_t kFlagLast = 0x01;     // last message of a stream
inline constexpr uint8_t kFlagTracked = 0x02;  // body starts with TrackingRef
inline constexpr uint8_t kKnownFlags = kFlagLast | kFlagTracked;

struct MessageHeader {
  uint32_t stream;
  uint8_t type;
  uint8_t flags;
  uint16_t count;   // descriptors in MMAP_DATA, else 0
  uint32_t length;  // body bytes after the header
};
static_assert(sizeof(MessageHeader) == 12);
static_assert(offsetof(MessageHeader, type) == 4);
static_assert(offsetof(MessageHeader, count) == 6);
static_assert(offsetof(MessageHeader, length) == 8);

// One buffer in shared memory: `size` bytes starting at chunk `chunk_id` of
// the sender's segment `segment_id`.
struct Descriptor {
  uint32_t segment_id;
  uint32_t chunk_id;
  uint32_t size;
  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};
static_assert(sizeof(Descriptor) == 12);

// Names the tracking slot of a cancellable message. The generation makes the
// slot word unique per use, so a late claim can never hit a reused slot.
struct TrackingRef {
  uint32_t segment_id;
  uint32_t slot;
  uint32_t generation;
  friend bool operator==(const TrackingRef&, const TrackingRef&) = default;
};
static_assert(sizeof(TrackingRef) == 12);

// Feature bits of Hello::features.
inline constexpr uint16_t kFeatureRing = 0x0001;

// First message each way. Declares the sender's identity (checked against the
// kernel's SCM_CREDENTIALS) and the geometry of the segments it will send.
struct Hello {
  uint16_t protocol_version;
  uint16_t features;
  int32_t pid;
  uint32_t uid;
  uint32_t chunk_size;
  uint32_t chunk_count;
  uint32_t max_segments;
  uint32_t inline_threshold;
  uint32_t reserved;
  uint64_t port_id;
};
static_assert(sizeof(Hello) == 40);
static_assert(std::is_trivially_copyable_v<Hello>);

struct NewSegment {
  uint32_t segment_id;
  uint32_t reserved;
  uint64_t size;   // file size of the memfd
  uint64_t token;  // must equal the header's token
};
static_assert(sizeof(NewSegment) == 24);

struct ReleaseSegment {
  uint32_t segment_id;
};
static_assert(sizeof(ReleaseSegment) == 4);

struct NewRing {
  uint64_t size;   // file size of the memfd
  uint64_t token;  // must equal the ring header's token
};
static_assert(sizeof(NewRing) == 16);

// Messages whose order does not matter relative to the data stream: they
// may overtake ring traffic on the socket.
bool IsUnordered(MessageType type);

inline constexpr size_t kHeaderBytes = sizeof(MessageHeader);
// Descriptors per MMAP_DATA message: keeps one datagram near 3 KiB.
inline constexpr uint16_t kMaxDescriptors = 256;
// Largest inline (DATA) payload a receiver accepts.
inline constexpr uint32_t kMaxInlinePayload = 64 * 1024;
// The most fds any message carries (NEW_SEGMENT and NEW_RING carry one).
inline constexpr int kMaxFdsPerMessage = 1;
// A receive buffer of this size holds any valid message; a larger datagram
// shows up as MSG_TRUNC.
inline constexpr size_t kMaxMessageBytes =
    kHeaderBytes + sizeof(TrackingRef) + kMaxInlinePayload;

// A validated view of one received message. Spans point into the caller's
// receive buffer.
struct Decoded {
  MessageHeader header;
  std::optional<TrackingRef> tracking;
  // DATA: the inline payload. MMAP_DATA: count packed Descriptors.
  // HELLO / NEW_SEGMENT / RELEASE_SEGMENT: the fixed body.
  absl::Span<const uint8_t> body;

  MessageType type() const { return static_cast<MessageType>(header.type); }
  uint16_t descriptor_count() const { return header.count; }
  Descriptor descriptor(size_t i) const {
    Descriptor d;
    std::memcpy(&d, body.data() + i * sizeof(Descriptor), sizeof(d));
    return d;
  }
  Hello hello() const { return As<Hello>(); }
  NewSegment new_segment() const { return As<NewSegment>(); }
  ReleaseSegment release_segment() const { return As<ReleaseSegment>(); }
  NewRing new_ring() const { return As<NewRing>(); }

 private:
  template <typename T>
  T As() const {
    T value;
    std::memcpy(&value, body.data(), sizeof(T));
    return value;
  }
};

// Checks the framing of `bytes` (one datagram) that arrived with `num_fds`
// descriptors attached. Never reads outside `bytes`. The error names the
// field and value that are wrong.
absl::StatusOr<Decoded> Decode(absl::Span<const uint8_t> bytes, int num_fds);

// Builds one message in a fixed buffer (no allocation). For DATA, the payload
// is not copied: send bytes() followed by the payload as a second iovec.
// Not thread-safe; cheap to construct on the stack.
class Encoder {
 public:
  static constexpr size_t kCapacity =
      kHeaderBytes + sizeof(TrackingRef) + kMaxDescriptors * sizeof(Descriptor);

  Encoder(MessageType type, uint32_t stream, uint8_t flags = 0);

  // DATA / MMAP_DATA only; call before adding descriptors.
  void SetTracking(const TrackingRef& ref);
  // MMAP_DATA: false (nothing added) once kMaxDescriptors are in.
  bool AddDescriptor(const Descriptor& d);
  bool full() const { return header_.count == kMaxDescriptors; }
  uint16_t descriptor_count() const { return header_.count; }
  // DATA: the payload length that will follow bytes().
  void SetInlineLength(uint32_t n) { inline_length_ = n; }
  void SetHello(const Hello& h) { SetBody(h); }
  void SetNewSegment(const NewSegment& s) { SetBody(s); }
  void SetReleaseSegment(const ReleaseSegment& r) { SetBody(r); }
  void SetNewRing(const NewRing& r) { SetBody(r); }

  // Header and fixed body; the header's length covers the inline payload.
  absl::Span<const uint8_t> bytes();

 private:
  template <typename T>
  void SetBody(const T& value) {
    static_assert(sizeof(T) <= kCapacity - kHeaderBytes);
    std::memcpy(buffer_.data() + kHeaderBytes, &value, sizeof(T));
    used_ = kHeaderBytes + sizeof(T);
  }

  MessageHeader header_;
  uint32_t inline_length_ = 0;
  size_t used_ = kHeaderBytes;
  alignas(8) std::array<uint8_t, kCapacity> buffer_;
};

}  // namespace shmport::wire

#endif  // SHMPORT_COMMON_WIRE_H_
