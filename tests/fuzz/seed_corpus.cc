#include "tests/fuzz/seed_corpus.h"

#include <fcntl.h>

#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/types/span.h"
#include "common/ring_layout.h"
#include "common/segment_layout.h"
#include "common/wire.h"
#include "tests/fuzz/broker_frame_input.h"
#include "tests/fuzz/ring_reader_input.h"
#include "tests/fuzz/segment_open_input.h"
#include "tests/fuzz/wire_decode_input.h"

namespace shmport::fuzz {
namespace {

using wire::Descriptor;
using wire::Encoder;
using wire::MessageHeader;
using wire::MessageType;

// ---- wire_decode_fuzzer ----------------------------------------------------

// A datagram as a sender puts it on the socket: the encoder's bytes, then the
// inline payload.
std::vector<uint8_t> Datagram(Encoder& e,
                              absl::Span<const uint8_t> payload = {}) {
  const absl::Span<const uint8_t> head = e.bytes();
  std::vector<uint8_t> out(head.begin(), head.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> Payload(size_t n) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>('a' + i % 26);
  return p;
}

wire::Hello SampleHello() {
  return {wire::kProtocolVersion,
          wire::kFeatureRing,
          4242,
          1000,
          16 * 1024,
          1024,
          8,
          1024,
          0,
          77};
}

std::vector<uint8_t> Hello() {
  Encoder e(MessageType::kHello, 0);
  e.SetHello(SampleHello());
  return Datagram(e);
}

std::vector<uint8_t> Data(size_t payload_bytes, bool tracked) {
  Encoder e(MessageType::kData, 7, wire::kFlagLast);
  if (tracked) e.SetTracking({2, 17, 3});
  e.SetInlineLength(static_cast<uint32_t>(payload_bytes));
  return Datagram(e, Payload(payload_bytes));
}

std::vector<uint8_t> MmapData(int descriptors, bool tracked) {
  Encoder e(MessageType::kMmapData, 9);
  if (tracked) e.SetTracking({1, 4, 1});
  for (int i = 0; i < descriptors; ++i) {
    e.AddDescriptor({static_cast<uint32_t>(i % 8), static_cast<uint32_t>(i),
                     static_cast<uint32_t>(1000 + i)});
  }
  return Datagram(e);
}

std::vector<uint8_t> NewSegment() {
  Encoder e(MessageType::kNewSegment, 0);
  e.SetNewSegment(
      {3, 0, layout::kHeaderSize + 16ull * 1024 * 1024, 0x0123456789abcdefULL});
  return Datagram(e);
}

std::vector<uint8_t> NewRing() {
  Encoder e(MessageType::kNewRing, 0);
  e.SetNewRing({4096 + 64 * 1024, 0x0123456789abcdefULL});
  return Datagram(e);
}

std::vector<uint8_t> Empty(MessageType type) {
  Encoder e(type, 0);
  return Datagram(e);
}

std::vector<uint8_t> ReleaseSegment() {
  Encoder e(MessageType::kReleaseSegment, 0);
  e.SetReleaseSegment({3});
  return Datagram(e);
}

// `bytes` with its header rewritten by `edit`.
std::vector<uint8_t> WithHeader(
    std::vector<uint8_t> bytes,
    const std::function<void(MessageHeader&)>& edit) {
  MessageHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  edit(h);
  std::memcpy(bytes.data(), &h, sizeof(h));
  return bytes;
}

// `bytes` with the last `n` body bytes dropped and the length fixed up, so
// only the body-size rule is broken.
std::vector<uint8_t> Shortened(std::vector<uint8_t> bytes, size_t n) {
  bytes.resize(bytes.size() - n);
  return WithHeader(std::move(bytes), [&](MessageHeader& h) { h.length -= n; });
}

// `bytes` with `n` zero bytes appended and the length fixed up.
std::vector<uint8_t> Lengthened(std::vector<uint8_t> bytes, size_t n) {
  bytes.resize(bytes.size() + n);
  return WithHeader(std::move(bytes), [&](MessageHeader& h) { h.length += n; });
}

// The first `n` bytes of `bytes`, header fields untouched.
std::vector<uint8_t> Truncated(std::vector<uint8_t> bytes, size_t n) {
  bytes.resize(n);
  return bytes;
}

Seed WireSeed(std::string name, const std::vector<uint8_t>& datagram,
              int8_t num_fds = 0) {
  return {std::move(name), WireDecodeInput::Serialize(num_fds, datagram)};
}

// ---- segment_open_fuzzer ---------------------------------------------------

constexpr SegmentGeometry kSmall{4096, 16};
constexpr uint32_t kSegmentId = 5;
constexpr uint64_t kToken = 0x5eed'f00d'cafe'0001ULL;

struct SegmentCase {
  SegmentOpenControl control{};
  layout::SegmentInfo info{};
  size_t header_bytes = sizeof(layout::SegmentInfo);
};

// What a correct sender sends for geometry `g`: the header Segment::Create
// writes, the NEW_SEGMENT values, the seals it applies.
SegmentCase ValidSegment(const SegmentGeometry& g = kSmall) {
  SegmentCase c;
  c.control.token = kToken;
  c.control.segment_id = kSegmentId;
  c.control.chunk_size = g.chunk_size;
  c.control.chunk_count = g.chunk_count;
  c.info.magic = layout::kMagic;
  c.info.version = layout::kVersion;
  c.info.header_size = layout::kHeaderSize;
  c.info.chunk_size = g.chunk_size;
  c.info.chunk_count = g.chunk_count;
  c.info.segment_id = kSegmentId;
  c.info.tracking_slots = layout::kTrackingSlots;
  c.info.creator_pid = 1000;
  c.info.peer_pid = 1001;
  c.info.token = kToken;
  return c;
}

Seed SegmentSeed(std::string name, const SegmentCase& c) {
  std::vector<uint8_t> header(sizeof(c.info));
  std::memcpy(header.data(), &c.info, sizeof(c.info));
  header.resize(c.header_bytes);
  return {std::move(name), SegmentOpenInput::Serialize(c.control, header)};
}

// A valid segment changed by `edit`.
Seed SegmentSeed(std::string name,
                 const std::function<void(SegmentCase&)>& edit) {
  SegmentCase c = ValidSegment();
  edit(c);
  return SegmentSeed(std::move(name), c);
}

uint8_t Adjust(SizeAdjust a) { return static_cast<uint8_t>(a); }
uint8_t Kind(FdKind k) { return static_cast<uint8_t>(k); }

// The lowest type number the decoder does not know (past the last one).
uint8_t FirstUnknownType() {
  uint8_t t = 1;
  while (wire::MessageTypeName(static_cast<MessageType>(t)) != "UNKNOWN") ++t;
  return t;
}

// The name of a wire type as a seed name: "NEW_SEGMENT" -> "new-segment".
std::string SeedName(MessageType type) {
  std::string name(wire::MessageTypeName(type));
  for (char& c : name) c = c == '_' ? '-' : static_cast<char>(c | 0x20);
  return name;
}

// The smallest valid datagram of `type` with a zero-filled body, and the
// fds it must carry, found by asking the decoder; nullopt if no body up to
// the encoder's capacity is accepted.
struct Framing {
  std::vector<uint8_t> datagram;
  int8_t fds;
};
std::optional<Framing> MinimalFraming(MessageType type) {
  for (size_t n = 0; n <= Encoder::kCapacity - wire::kHeaderBytes; ++n) {
    Encoder e(type, 0);
    e.SetInlineLength(static_cast<uint32_t>(n));
    std::vector<uint8_t> datagram = Datagram(e, std::vector<uint8_t>(n));
    for (int8_t fds = 0; fds <= wire::kMaxFdsPerMessage; ++fds) {
      if (wire::Decode(datagram, fds).ok()) return Framing{datagram, fds};
    }
  }
  return std::nullopt;
}

// Adds a minimal valid seed, and a near miss with the wrong fd count, for
// every type the decoder knows that `seeds` has no valid seed of: the
// protocol may have grown after the explicit seeds were written.
void AddSeedsForUncoveredTypes(std::vector<Seed>& seeds) {
  std::set<int> covered;
  for (const Seed& seed : seeds) {
    if (!seed.valid()) continue;
    const WireDecodeInput in = WireDecodeInput::Parse(seed.bytes);
    if (auto d = wire::Decode(in.datagram, in.num_fds); d.ok()) {
      covered.insert(d->header.type);
    }
  }
  for (int t = 0; t < 256; ++t) {
    const auto type = static_cast<MessageType>(t);
    if (wire::MessageTypeName(type) == "UNKNOWN" || covered.count(t) > 0) {
      continue;
    }
    const std::optional<Framing> f = MinimalFraming(type);
    if (!f.has_value()) continue;  // CoverEveryMessageType will say so
    const std::string name = SeedName(type);
    seeds.push_back(
        WireSeed("valid-" + name + "-minimal", f->datagram, f->fds));
    seeds.push_back(WireSeed("bad-" + name + "-wrong-fd-count", f->datagram,
                             static_cast<int8_t>(1 - f->fds)));
  }
}

}  // namespace

SeedCorpus WireDecodeSeeds() {
  SeedCorpus c{"wire_decode_fuzzer", {}};
  std::vector<Seed>& s = c.seeds;
  // One of each type, as the Encoder frames it.
  s.push_back(WireSeed("valid-hello", Hello()));
  s.push_back(WireSeed("valid-data-empty", Data(0, false)));
  s.push_back(WireSeed("valid-data-small", Data(100, false)));
  s.push_back(WireSeed("valid-data-tracked", Data(100, true)));
  s.push_back(WireSeed("valid-data-largest-inline",
                       Data(wire::kMaxInlinePayload, false)));
  s.push_back(WireSeed("valid-mmap-data-1", MmapData(1, false)));
  s.push_back(WireSeed("valid-mmap-data-3", MmapData(3, false)));
  s.push_back(WireSeed("valid-mmap-data-tracked-2", MmapData(2, true)));
  s.push_back(WireSeed("valid-mmap-data-most-descriptors",
                       MmapData(wire::kMaxDescriptors, false)));
  s.push_back(WireSeed("valid-new-segment", NewSegment(), 1));
  s.push_back(WireSeed("valid-oosm", Empty(MessageType::kOosm)));
  s.push_back(WireSeed("valid-shm-ack", Empty(MessageType::kShmAck)));
  s.push_back(WireSeed("valid-bye", Empty(MessageType::kBye)));
  s.push_back(WireSeed("valid-release-segment", ReleaseSegment()));
  s.push_back(WireSeed("valid-new-ring", NewRing(), 1));
  s.push_back(WireSeed("valid-ring-wake", Empty(MessageType::kRingWake)));
  s.push_back(WireSeed("valid-ring-resume", Empty(MessageType::kRingResume)));

  // Near misses: each breaks one rule.
  s.push_back(WireSeed("bad-empty-datagram", {}));
  s.push_back(WireSeed("bad-header-cut-short",
                       Truncated(Hello(), wire::kHeaderBytes - 1)));
  s.push_back(
      WireSeed("bad-length-one-too-many",
               WithHeader(Hello(), [](MessageHeader& h) { ++h.length; })));
  s.push_back(
      WireSeed("bad-length-one-too-few",
               WithHeader(Hello(), [](MessageHeader& h) { --h.length; })));
  s.push_back(WireSeed("bad-type-zero",
                       WithHeader(Empty(MessageType::kBye),
                                  [](MessageHeader& h) { h.type = 0; })));
  s.push_back(WireSeed(
      "bad-type-after-last",
      WithHeader(Empty(MessageType::kBye),
                 [](MessageHeader& h) { h.type = FirstUnknownType(); })));
  s.push_back(WireSeed(
      "bad-unknown-flag",
      WithHeader(Data(4, false), [](MessageHeader& h) { h.flags |= 0x04; })));
  s.push_back(WireSeed("bad-hello-tracked",
                       Lengthened(WithHeader(Hello(),
                                             [](MessageHeader& h) {
                                               h.flags |= wire::kFlagTracked;
                                             }),
                                  sizeof(wire::TrackingRef))));
  s.push_back(WireSeed("bad-hello-body-short", Shortened(Hello(), 1)));
  s.push_back(WireSeed("bad-hello-body-long", Lengthened(Hello(), 1)));
  s.push_back(WireSeed("bad-hello-with-fd", Hello(), 1));
  s.push_back(WireSeed(
      "bad-data-with-count",
      WithHeader(Data(12, false), [](MessageHeader& h) { h.count = 1; })));
  s.push_back(
      WireSeed("bad-data-tracked-ref-cut-short", Shortened(Data(0, true), 1)));
  s.push_back(WireSeed("bad-data-inline-too-large",
                       Data(wire::kMaxInlinePayload + 1, false)));
  s.push_back(WireSeed("bad-data-with-fd", Data(8, false), 1));
  s.push_back(WireSeed(
      "bad-mmap-data-count-zero",
      WithHeader(MmapData(1, false), [](MessageHeader& h) { h.count = 0; })));
  s.push_back(
      WireSeed("bad-mmap-data-count-too-large",
               Lengthened(WithHeader(MmapData(wire::kMaxDescriptors, false),
                                     [](MessageHeader& h) {
                                       h.count = wire::kMaxDescriptors + 1;
                                     }),
                          sizeof(Descriptor))));
  s.push_back(WireSeed(
      "bad-mmap-data-count-exceeds-body",
      WithHeader(MmapData(1, false), [](MessageHeader& h) { h.count = 2; })));
  s.push_back(WireSeed("bad-mmap-data-partial-descriptor",
                       Shortened(MmapData(2, false), 1)));
  s.push_back(WireSeed("bad-mmap-data-tracked-ref-missing",
                       WithHeader(MmapData(1, false), [](MessageHeader& h) {
                         h.flags |= wire::kFlagTracked;
                       })));
  s.push_back(WireSeed("bad-new-segment-without-fd", NewSegment(), 0));
  s.push_back(WireSeed("bad-new-segment-two-fds", NewSegment(), 2));
  s.push_back(WireSeed("bad-new-segment-negative-fds", NewSegment(), -1));
  s.push_back(
      WireSeed("bad-new-segment-body-short", Shortened(NewSegment(), 8), 1));
  s.push_back(WireSeed("bad-new-ring-without-fd", NewRing(), 0));
  s.push_back(WireSeed("bad-new-ring-body-short", Shortened(NewRing(), 1), 1));
  s.push_back(
      WireSeed("bad-ring-wake-with-fd", Empty(MessageType::kRingWake), 1));
  s.push_back(WireSeed("bad-ring-resume-tracked",
                       Lengthened(WithHeader(Empty(MessageType::kRingResume),
                                             [](MessageHeader& h) {
                                               h.flags |= wire::kFlagTracked;
                                             }),
                                  sizeof(wire::TrackingRef))));
  s.push_back(
      WireSeed("bad-oosm-with-body", Lengthened(Empty(MessageType::kOosm), 1)));
  s.push_back(WireSeed("bad-shm-ack-with-count",
                       WithHeader(Empty(MessageType::kShmAck),
                                  [](MessageHeader& h) { h.count = 1; })));
  s.push_back(WireSeed("bad-bye-with-fd", Empty(MessageType::kBye), 1));
  s.push_back(WireSeed("bad-release-segment-tracked",
                       Lengthened(WithHeader(ReleaseSegment(),
                                             [](MessageHeader& h) {
                                               h.flags |= wire::kFlagTracked;
                                             }),
                                  sizeof(wire::TrackingRef))));
  AddSeedsForUncoveredTypes(s);
  return c;
}

SeedCorpus SegmentOpenSeeds() {
  SeedCorpus c{"segment_open_fuzzer", {}};
  std::vector<Seed>& s = c.seeds;
  // Accepted: what Segment::Create makes, at a few geometries.
  s.push_back(SegmentSeed("valid-small", ValidSegment()));
  s.push_back(SegmentSeed("valid-one-chunk", ValidSegment({4096, 1})));
  s.push_back(SegmentSeed("valid-largest-chunks",
                          ValidSegment({layout::kMaxChunkSize, 1})));
  s.push_back(SegmentSeed("valid-many-chunks",
                          ValidSegment({4096, layout::kMaxChunks / 4})));
  s.push_back(SegmentSeed("valid-without-seal-seal", [](SegmentCase& c) {
    c.control.seal_flips = F_SEAL_SEAL;
  }));
  s.push_back(SegmentSeed("valid-whole-header-page", [](SegmentCase& c) {
    c.header_bytes = layout::kPageSize;
  }));

  // The header as written by the peer: one field off each.
  s.push_back(SegmentSeed("bad-header-magic",
                          [](SegmentCase& c) { c.info.magic ^= 1; }));
  s.push_back(SegmentSeed("bad-header-version",
                          [](SegmentCase& c) { c.info.version = 2; }));
  s.push_back(SegmentSeed("bad-header-size", [](SegmentCase& c) {
    c.info.header_size = layout::kPageSize;
  }));
  s.push_back(SegmentSeed("bad-header-chunk-size",
                          [](SegmentCase& c) { c.info.chunk_size = 8192; }));
  s.push_back(SegmentSeed("bad-header-chunk-count",
                          [](SegmentCase& c) { c.info.chunk_count = 8; }));
  s.push_back(SegmentSeed("bad-header-segment-id",
                          [](SegmentCase& c) { c.info.segment_id = 6; }));
  s.push_back(SegmentSeed("bad-header-tracking-slots",
                          [](SegmentCase& c) { c.info.tracking_slots = 0; }));
  s.push_back(SegmentSeed("bad-header-token",
                          [](SegmentCase& c) { c.info.token ^= 1; }));
  s.push_back(SegmentSeed("bad-header-cut-before-token",
                          [](SegmentCase& c) { c.header_bytes = 40; }));
  s.push_back(SegmentSeed("bad-header-all-zero",
                          [](SegmentCase& c) { c.header_bytes = 0; }));

  // Seals.
  s.push_back(SegmentSeed("bad-seals-without-shrink", [](SegmentCase& c) {
    c.control.seal_flips = F_SEAL_SHRINK;
  }));
  s.push_back(SegmentSeed("bad-seals-without-grow", [](SegmentCase& c) {
    c.control.seal_flips = F_SEAL_GROW;
  }));
  s.push_back(SegmentSeed("bad-seals-none", [](SegmentCase& c) {
    c.control.seal_flips = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW;
  }));
  s.push_back(SegmentSeed("bad-seals-write", [](SegmentCase& c) {
    c.control.seal_flips = F_SEAL_WRITE;
  }));
  s.push_back(SegmentSeed("bad-seals-future-write", [](SegmentCase& c) {
    c.control.seal_flips = F_SEAL_FUTURE_WRITE;
  }));

  // The descriptor itself.
  s.push_back(SegmentSeed("bad-fd-unsealable-memfd", [](SegmentCase& c) {
    c.control.fd_kind = Kind(FdKind::kUnsealableMemfd);
  }));
  s.push_back(SegmentSeed("bad-fd-not-a-memfd", [](SegmentCase& c) {
    c.control.fd_kind = Kind(FdKind::kNotAMemfd);
  }));
  s.push_back(SegmentSeed("bad-fd-missing", [](SegmentCase& c) {
    c.control.fd_kind = Kind(FdKind::kNoFd);
  }));

  // Sizes: the file's, and the one NEW_SEGMENT declared.
  const std::pair<const char*, SizeAdjust> adjusts[] = {
      {"plus-one", SizeAdjust::kPlusOne},
      {"minus-one", SizeAdjust::kMinusOne},
      {"plus-page", SizeAdjust::kPlusPage},
      {"minus-page", SizeAdjust::kMinusPage},
      {"zero", SizeAdjust::kZero},
      {"header-only", SizeAdjust::kHeaderOnly},
      {"double", SizeAdjust::kDouble},
  };
  for (const auto& [name, adjust] : adjusts) {
    s.push_back(SegmentSeed(std::string("bad-file-size-") + name,
                            [adjust = adjust](SegmentCase& c) {
                              c.control.file_size_adjust = Adjust(adjust);
                            }));
  }
  s.push_back(SegmentSeed("bad-declared-size-minus-one", [](SegmentCase& c) {
    c.control.declared_size_adjust = Adjust(SizeAdjust::kMinusOne);
  }));
  s.push_back(SegmentSeed("bad-declared-size-plus-page", [](SegmentCase& c) {
    c.control.declared_size_adjust = Adjust(SizeAdjust::kPlusPage);
  }));
  s.push_back(SegmentSeed(
      "bad-file-and-declared-size-agree-but-wrong", [](SegmentCase& c) {
        c.control.file_size_adjust = Adjust(SizeAdjust::kPlusPage);
        c.control.declared_size_adjust = Adjust(SizeAdjust::kPlusPage);
      }));

  // Negotiated geometries outside the limits (header agreeing with them).
  const std::pair<const char*, SegmentGeometry> geometries[] = {
      {"chunk-size-not-power-of-two", {4096 + 512, 16}},
      {"chunk-size-too-small", {2048, 16}},
      {"chunk-size-too-large", {2 * layout::kMaxChunkSize, 1}},
      {"chunk-count-zero", {4096, 0}},
      {"chunk-count-too-large", {4096, layout::kMaxChunks + 1}},
      {"data-area-too-large", {layout::kMaxChunkSize, layout::kMaxChunks}},
  };
  for (const auto& [name, g] : geometries) {
    s.push_back(
        SegmentSeed(std::string("bad-geometry-") + name, ValidSegment(g)));
  }

  s.push_back(SegmentSeed(
      "bad-mmap-fails", [](SegmentCase& c) { c.control.faults = kFaultMmap; }));
  return c;
}

SeedCorpus RingReaderSeeds() {
  using ring_layout::kKindMessage;
  using ring_layout::kKindPad;
  using ring_layout::kKindSocketMarker;
  SeedCorpus c{"ring_reader_fuzzer", {}};
  std::vector<Seed>& s = c.seeds;
  auto add = [&s](std::string name, const RingScript& script) {
    s.push_back({std::move(name), script.bytes()});
  };
  const RingReaderControl small{};  // 4 KiB ring, Port-sized buffer
  RingReaderControl large{};
  large.capacity_shift = 3;  // 32 KiB

  // Rings a reader drains without complaint.
  add("valid-empty", RingScript(small));
  add("valid-one-message",
      RingScript(small).Append(100, kKindMessage).Publish().Pop());
  add("valid-message-then-marker", RingScript(small)
                                       .Append(20, kKindMessage)
                                       .Append(0, kKindSocketMarker)
                                       .Publish());
  add("valid-wraps-after-a-pad", RingScript(small)
                                     .Append(2000, kKindMessage)
                                     .Publish()
                                     .Pop()
                                     .Append(2000, kKindMessage)
                                     .Publish()
                                     .Pop()
                                     .Append(100, kKindMessage)
                                     .Publish());
  {
    RingScript full(small);
    for (int i = 0; i < 64; ++i) full.Append(56, kKindMessage);
    add("valid-exactly-full", full.Publish());
  }
  add("valid-large-message",
      RingScript(large).Append(30000, kKindMessage).Publish());
  add("valid-published-in-two-steps", RingScript(small)
                                          .Append(8, kKindMessage)
                                          .Publish()
                                          .Append(9, kKindMessage)
                                          .Pop()
                                          .Publish());

  // Rings Open must refuse: one fault each.
  const std::pair<const char*, uint8_t> faults[] = {
      {"magic", kRingBadMagic},
      {"version", kRingBadVersion},
      {"header-size", kRingBadHeaderSize},
      {"header-capacity", kRingBadHeaderCapacity},
      {"token", kRingBadToken},
      {"declared-size", kRingDeclaredSizeOff},
      {"no-shrink-seal", kRingNoShrinkSeal},
      {"capacity-not-power-of-two", kRingCapacityNotPowerOfTwo},
  };
  for (const auto& [name, fault] : faults) {
    RingReaderControl control{};
    control.open_faults = fault;
    add(std::string("bad-open-") + name,
        RingScript(control).Append(8, kKindMessage).Publish());
  }

  // Producers that write something impossible: Pop must fail.
  add("bad-tail-behind-head",
      RingScript(small).Append(8, kKindMessage).Publish().Pop().SetTail(0));
  add("bad-tail-beyond-capacity", RingScript(small).SetTail(4096 + 8));
  add("bad-tail-unaligned", RingScript(small).SetTail(4));
  add("bad-entry-past-tail",
      RingScript(small).Append(100, kKindMessage).SetTail(16));
  add("bad-unknown-kind", RingScript(small).Append(10, 7).Publish());
  {
    const uint32_t pad_header[2] = {8, kKindPad};
    add("bad-pad-short-of-the-end",
        RingScript(small)
            .Write(0, {reinterpret_cast<const uint8_t*>(pad_header), 8})
            .SetTail(16));
  }
  {
    RingReaderControl tiny = small;
    tiny.out_size = 64;
    add("bad-entry-larger-than-the-buffer",
        RingScript(tiny).Append(100, kKindMessage).Publish());
  }
  {
    const uint32_t header[2] = {16, kKindMessage};
    add("bad-entry-crosses-the-end",
        RingScript(small)
            .Append(4072, kKindMessage)
            .Publish()
            .Pop()
            .Write(4080, {reinterpret_cast<const uint8_t*>(header), 8})
            .SetTail(4080 + 24));
  }
  return c;
}

// ---- broker_frame_fuzzer ---------------------------------------------------

SeedCorpus BrokerFrameSeeds() {
  SeedCorpus c{"broker_frame_fuzzer", {}};
  auto add = [&c](std::string name, const BrokerFrameInput& in) {
    c.seeds.push_back({std::move(name), in.Encode()});
  };
  auto raw = [](bool from_daemon, bool first, int fds,
                std::vector<uint8_t> datagram) {
    return BrokerFrameInput{from_daemon, first, fds, std::move(datagram)};
  };
  v1::BrokerFrame attach;
  attach.mutable_attach()->set_process_id(7);
  attach.mutable_attach()->set_session_token(std::string(64, 'a'));
  v1::BrokerFrame stats;
  auto* entry = stats.mutable_stats_report()->add_ports();
  entry->set_port_id(3);
  entry->mutable_stats()->set_messages_sent(10);
  stats.mutable_stats_report()->add_closed_port_ids(2);
  v1::BrokerFrame not_taken;
  not_taken.mutable_port_not_taken()->set_port_id(3);
  not_taken.mutable_port_not_taken()->set_code(8);
  not_taken.mutable_port_not_taken()->set_reason("out of fds");
  v1::BrokerFrame goodbye;
  goodbye.mutable_goodbye()->set_reason("daemon shutting down");
  const std::vector<uint8_t> malformed = {0x0a, 0xff, 0xff, 0xff, 0x0f};

  // The daemon, a connection's first frame.
  add("valid-first-attach", BrokerFrameInput::ToDaemon(attach, true));
  {
    v1::BrokerFrame zero = attach;
    zero.mutable_attach()->set_process_id(0);
    add("bad-first-attach-process-id-zero",
        BrokerFrameInput::ToDaemon(zero, true));
    v1::BrokerFrame long_token = attach;
    long_token.mutable_attach()->set_session_token(std::string(257, 'a'));
    add("bad-first-attach-token-too-long",
        BrokerFrameInput::ToDaemon(long_token, true));
  }
  add("bad-first-not-attach", BrokerFrameInput::ToDaemon(stats, true));
  add("bad-first-malformed", raw(false, true, 0, malformed));
  add("bad-first-empty", raw(false, true, 0, {}));
  // The daemon, frames on an attached link (any kind parses).
  add("valid-link-stats-report", BrokerFrameInput::ToDaemon(stats, false));
  add("valid-link-port-not-taken",
      BrokerFrameInput::ToDaemon(not_taken, false));
  add("valid-link-goodbye", BrokerFrameInput::ToDaemon(goodbye, false));
  add("valid-link-attach-again", BrokerFrameInput::ToDaemon(attach, false));
  {
    v1::BrokerFrame topic_stats;
    auto* sub = topic_stats.mutable_stats_report()->add_subscriptions();
    sub->set_subscription_id(12);
    sub->mutable_stats()->set_lag(3);
    sub->mutable_stats()->set_held_chunks(2);
    add("valid-link-stats-report-with-subscriptions",
        BrokerFrameInput::ToDaemon(topic_stats, false));
    for (int i = 0; i < 4096; ++i) {
      topic_stats.mutable_stats_report()->add_subscriptions();
    }
    add("bad-link-stats-report-with-4097-subscriptions",
        BrokerFrameInput::ToDaemon(topic_stats, false));
  }
  add("bad-link-malformed", raw(false, false, 0, malformed));
  add("bad-link-empty", raw(false, false, 0, {}));

  // A client, frames from the daemon.
  v1::BrokerFrame result;
  result.mutable_attach_result()->set_code(0);
  add("valid-notice-attach-result-ok", BrokerFrameInput::ToClient(result, 0));
  result.mutable_attach_result()->set_code(8);
  result.mutable_attach_result()->set_message(
      "uid 1000 has 64 broker connections that have not sent Attach");
  add("valid-notice-attach-result-refused",
      BrokerFrameInput::ToClient(result, 0));
  result.mutable_attach_result()->set_code(99);
  add("valid-notice-attach-result-unknown-code",
      BrokerFrameInput::ToClient(result, 0));
  v1::BrokerFrame opened;
  opened.mutable_port_opened()->set_port_id(4);
  opened.mutable_port_opened()->mutable_peer()->set_name("router");
  opened.mutable_port_opened()->mutable_geometry()->set_chunk_size(16384);
  add("valid-notice-port-opened-with-its-fd",
      BrokerFrameInput::ToClient(opened, 1));
  add("bad-notice-port-opened-without-fd",
      BrokerFrameInput::ToClient(opened, 0));
  add("bad-notice-port-opened-with-two-fds",
      BrokerFrameInput::ToClient(opened, 2));
  v1::BrokerFrame closed;
  closed.mutable_port_closed()->set_port_id(4);
  closed.mutable_port_closed()->set_reason("peer exited");
  add("valid-notice-port-closed", BrokerFrameInput::ToClient(closed, 0));
  add("bad-notice-port-closed-with-an-fd",
      BrokerFrameInput::ToClient(closed, 1));
  v1::BrokerFrame subscription;
  {
    auto* o = subscription.mutable_subscription_opened();
    o->set_subscription_id(12);
    o->set_topic("camera/front");
    o->mutable_peer()->set_name("camera");
    o->mutable_terms()->set_queue_depth(16);
    o->set_publisher_end(true);
    o->set_publication_id(3);
  }
  add("valid-notice-subscription-opened-with-its-fd",
      BrokerFrameInput::ToClient(subscription, 1));
  add("bad-notice-subscription-opened-without-fd",
      BrokerFrameInput::ToClient(subscription, 0));
  add("bad-notice-subscription-opened-with-two-fds",
      BrokerFrameInput::ToClient(subscription, 2));
  v1::BrokerFrame subscription_closed;
  subscription_closed.mutable_subscription_closed()->set_subscription_id(12);
  subscription_closed.mutable_subscription_closed()->set_reason(
      "publisher 'camera' (id 3) unpublished");
  add("valid-notice-subscription-closed",
      BrokerFrameInput::ToClient(subscription_closed, 0));
  add("bad-notice-subscription-closed-with-an-fd",
      BrokerFrameInput::ToClient(subscription_closed, 1));
  add("valid-notice-goodbye", BrokerFrameInput::ToClient(goodbye, 0));
  add("bad-notice-malformed", raw(true, false, 0, malformed));
  add("bad-notice-empty-is-the-daemons-close", raw(true, false, 0, {}));
  return c;
}

std::vector<SeedCorpus> AllSeedCorpora() {
  return {WireDecodeSeeds(), SegmentOpenSeeds(), RingReaderSeeds(),
          BrokerFrameSeeds()};
}

}  // namespace shmport::fuzz
