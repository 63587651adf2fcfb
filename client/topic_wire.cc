#include "client/topic_wire.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shmport::topic_wire {
namespace {

// The fixed body size of `type`, and whether more may follow (inline
// payload, releases, reason). kRelease: a whole number of u64, >= 1;
// kWaiting: a whole number, >= 0.
struct BodyRule {
  size_t fixed;
  size_t max_extra;
  int fds;
};

BodyRule RuleFor(Type type) {
  switch (type) {
    case Type::kHello:
      return {sizeof(TopicHello), 0, 0};
    case Type::kNewSegment:
      return {sizeof(TopicNewSegment), 0, 1};
    case Type::kSample:
      return {sizeof(SampleRef), 0, 0};
    case Type::kSampleInline:
      return {sizeof(uint64_t), kMaxInlinePayload, 0};
    case Type::kMissed:
      return {sizeof(uint64_t), 0, 0};
    case Type::kCutOff:
      return {sizeof(CutOff), kMaxReasonBytes, 0};
    case Type::kRelease:
      return {sizeof(uint64_t), (kMaxReleases - 1) * sizeof(uint64_t), 0};
    case Type::kBatch:
      return {kHeaderBytes, kMaxMessageBytes - 2 * kHeaderBytes, 0};
    case Type::kWaiting:
      return {0, kMaxReleases * sizeof(uint64_t), 0};
  }
  return {0, 0, -1};
}

}  // namespace

absl::string_view TypeName(Type type) {
  switch (type) {
    case Type::kHello:
      return "HELLO";
    case Type::kNewSegment:
      return "NEW_SEGMENT";
    case Type::kSample:
      return "SAMPLE";
    case Type::kSampleInline:
      return "SAMPLE_INLINE";
    case Type::kMissed:
      return "MISSED";
    case Type::kCutOff:
      return "CUT_OFF";
    case Type::kRelease:
      return "RELEASE";
    case Type::kBatch:
      return "BATCH";
    case Type::kWaiting:
      return "WAITING";
  }
  return "UNKNOWN";
}

absl::StatusOr<Decoded> Decode(absl::Span<const uint8_t> bytes, int num_fds) {
  if (bytes.size() < kHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topic message of ", bytes.size(), " bytes, shorter than its ",
        kHeaderBytes, "-byte header"));
  }
  Header h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  const Type type = static_cast<Type>(h.type);
  const BodyRule rule = RuleFor(type);
  if (rule.fds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown topic message type ", h.type));
  }
  if (h.flags != 0 || h.reserved != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: flags 0x%x / reserved 0x%x must be 0",
                        TypeName(type), h.flags, h.reserved));
  }
  const size_t body = bytes.size() - kHeaderBytes;
  if (h.length != body) {
    return absl::InvalidArgumentError(
        absl::StrCat(TypeName(type), ": header length ", h.length, " but ",
                     body, " body bytes arrived"));
  }
  if (body < rule.fixed || body > rule.fixed + rule.max_extra) {
    return absl::InvalidArgumentError(
        absl::StrCat(TypeName(type), ": body of ", body, " bytes, expected ",
                     rule.fixed, "..", rule.fixed + rule.max_extra));
  }
  if ((type == Type::kRelease || type == Type::kWaiting) &&
      body % sizeof(uint64_t) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(TypeName(type), ": body of ", body,
                     " bytes is not a whole number of u64"));
  }
  if (num_fds != rule.fds) {
    return absl::InvalidArgumentError(absl::StrCat(
        TypeName(type), " came with ", num_fds, " fds, expected ", rule.fds));
  }
  return Decoded{type, bytes.subspan(kHeaderBytes)};
}

absl::StatusOr<absl::Span<const uint8_t>> NextInBatch(
    absl::Span<const uint8_t> body, size_t* offset) {
  const size_t left = body.size() - std::min(*offset, body.size());
  if (left < kHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BATCH: ", left, " bytes at offset ", *offset, ", short of a header"));
  }
  Header h;
  std::memcpy(&h, body.data() + *offset, sizeof(h));
  const Type type = static_cast<Type>(h.type);
  if (type != Type::kSample && type != Type::kSampleInline &&
      type != Type::kMissed) {
    return absl::InvalidArgumentError(
        absl::StrCat("BATCH: message type ", h.type, " at offset ", *offset,
                     " (only SAMPLE, SAMPLE_INLINE and MISSED batch)"));
  }
  if (h.length > left - kHeaderBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("BATCH: ", TypeName(type), " at offset ", *offset,
                     " of length ", h.length, " runs past the batch"));
  }
  const size_t size = kHeaderBytes + h.length;
  const absl::Span<const uint8_t> message = body.subspan(*offset, size);
  *offset += std::min(BatchedSize(size), left);
  return message;
}

absl::Span<const uint8_t> Message::bytes(size_t trailing) {
  Header h{};
  h.type = static_cast<uint8_t>(type_);
  h.length = static_cast<uint32_t>(used_ + trailing);
  std::memcpy(wire_, &h, sizeof(h));
  return {wire_, kHeaderBytes + used_};
}

}  // namespace shmport::topic_wire
