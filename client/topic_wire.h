// The topic wire format: every message on a subscription's SOCK_SEQPACKET
// socket (docs/protocol.md "Topic protocol"). One datagram = one message =
// an 8-byte header and a body. Integers in host byte order.
//
//   header           type u8 | flags u8 | reserved u16 | length u32
//   HELLO            TopicHello (40 bytes)               both ways, first
//   NEW_SEGMENT      TopicNewSegment (16 bytes) + 1 fd   publisher -> sub
//   SAMPLE           SampleRef (24 bytes)                publisher -> sub
//   SAMPLE_INLINE    sequence u64, payload bytes         publisher -> sub
//   MISSED           count u64                           publisher -> sub
//   CUT_OFF          code u32 | reserved u32, reason     publisher -> sub
//   RELEASE          1..kMaxReleases x sequence u64      sub -> publisher
//   BATCH            SAMPLE/SAMPLE_INLINE/MISSED messages, publisher -> sub
//                    each 8-aligned, back to back        (kFeatureBatch)
//   WAITING          0..kMaxReleases x sequence u64      sub -> publisher
//                    (releases, then: I read all, send)  (kFeatureWaiting)
//
// Decode() checks the framing of anything the other end sends (type,
// sizes, fds); the cores check the meaning (sequences against what was
// delivered, segments and chunk ranges against the granted geometry).
#ifndef SHMPORT_CLIENT_TOPIC_WIRE_H_
#define SHMPORT_CLIENT_TOPIC_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace shmport::topic_wire {

inline constexpr uint16_t kProtocolVersion = 1;

enum class Type : uint8_t {
  kHello = 1,
  kNewSegment = 2,
  kSample = 3,
  kSampleInline = 4,
  kMissed = 5,
  kCutOff = 6,
  kRelease = 7,
  kBatch = 8,
  kWaiting = 9,
};
absl::string_view TypeName(Type type);

struct Header {
  uint8_t type;
  uint8_t flags;  // 0; reserved
  uint16_t reserved;
  uint32_t length;  // body bytes after the header
};
static_assert(sizeof(Header) == 8);
static_assert(offsetof(Header, length) == 4);

enum class Role : uint16_t { kPublisher = 1, kSubscriber = 2 };

// First message each way. The publisher's states the geometry of the
// segments it will send and the window of this subscription; the
// subscriber's only its version and role (the other fields 0).
struct TopicHello {
  uint16_t protocol_version;
  uint16_t role;
  uint32_t chunk_size;
  uint32_t chunk_count;
  uint32_t max_segments;
  uint32_t inline_threshold;
  uint32_t window;  // most samples delivered and not given back
  uint64_t subscription_id;
  uint32_t history;   // history samples that come first
  uint32_t features;  // kFeature* bits: what this end accepts
};
static_assert(sizeof(TopicHello) == 40);
static_assert(offsetof(TopicHello, subscription_id) == 24);
static_assert(offsetof(TopicHello, features) == 36);

// TopicHello::features. A bit an end does not know is ignored; version-1
// ends sent 0 here, so each feature is used only towards an end that set
// its bit (decision D31).
// The subscriber takes BATCH messages.
inline constexpr uint32_t kFeatureBatch = 1u << 0;
// Publisher: it takes WAITING. Subscriber: it sends WAITING each time it
// has read everything (to a publisher that takes it), so the publisher may
// hold samples back while it reads and send them together when it asks.
inline constexpr uint32_t kFeatureWaiting = 1u << 1;

struct TopicNewSegment {
  uint32_t segment_id;  // < max_segments, each once
  uint32_t reserved;
  uint64_t size;  // file size == chunk_size * chunk_count
};
static_assert(sizeof(TopicNewSegment) == 16);

// A sample in shared memory: `size` bytes at chunk `first_chunk` of segment
// `segment_id`.
struct SampleRef {
  uint64_t sequence;
  uint32_t segment_id;
  uint32_t first_chunk;
  uint64_t size;
};
static_assert(sizeof(SampleRef) == 24);

struct CutOff {
  uint32_t code;  // absl::StatusCode
  uint32_t reserved;
};
static_assert(sizeof(CutOff) == 8);

inline constexpr size_t kHeaderBytes = sizeof(Header);
inline constexpr uint32_t kMaxInlinePayload = 64 * 1024;
inline constexpr uint32_t kMaxReleases = 64;
inline constexpr uint32_t kMaxReasonBytes = 256;
inline constexpr size_t kMaxMessageBytes =
    kHeaderBytes + sizeof(uint64_t) + kMaxInlinePayload;

// A validated view of one message; `body` points into the receive buffer.
struct Decoded {
  Type type;
  absl::Span<const uint8_t> body;

  template <typename T>
  T As() const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, body.data(), sizeof(T));
    return value;
  }
  uint64_t U64(size_t i) const {
    uint64_t v;
    std::memcpy(&v, body.data() + i * sizeof(v), sizeof(v));
    return v;
  }
  // SAMPLE_INLINE: the payload after the sequence.
  absl::Span<const uint8_t> inline_payload() const {
    return body.subspan(sizeof(uint64_t));
  }
  // CUT_OFF: the reason text.
  absl::string_view reason() const {
    return {reinterpret_cast<const char*>(body.data()) + sizeof(CutOff),
            body.size() - sizeof(CutOff)};
  }
};

// Checks the framing of one datagram that came with `num_fds` fds. Never
// reads outside `bytes`; the error names the field and value.
absl::StatusOr<Decoded> Decode(absl::Span<const uint8_t> bytes, int num_fds);

// A message inside a BATCH takes its header and body rounded up to 8.
inline constexpr size_t BatchedSize(size_t message_bytes) {
  return (message_bytes + 7) & ~size_t{7};
}
// BATCH: the message at `*offset` of the batch's `body` (its header and
// body, for Decode), which must be a SAMPLE, SAMPLE_INLINE or MISSED that
// fits; advances `*offset` past it and its padding.
absl::StatusOr<absl::Span<const uint8_t>> NextInBatch(
    absl::Span<const uint8_t> body, size_t* offset);

// One message: header + fixed body, built on the stack (no allocation).
class Message {
 public:
  static constexpr size_t kBodyCapacity = kMaxReleases * sizeof(uint64_t);

  explicit Message(Type type) : type_(type) {}
  template <typename T>
  Message& Put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    static_assert(sizeof(T) <= kBodyCapacity);
    std::memcpy(wire_ + kHeaderBytes + used_, &value, sizeof(T));
    used_ += sizeof(T);
    return *this;
  }
  bool full() const { return used_ + sizeof(uint64_t) > kBodyCapacity; }
  size_t body_size() const { return used_; }
  // Header and body; the header's length also covers `trailing` bytes the
  // caller sends right after (an inline payload, a reason).
  absl::Span<const uint8_t> bytes(size_t trailing = 0);

 private:
  Type type_;
  size_t used_ = 0;
  alignas(8) uint8_t wire_[kHeaderBytes + kBodyCapacity];
};

}  // namespace shmport::topic_wire

#endif  // SHMPORT_CLIENT_TOPIC_WIRE_H_
