#include "client/port_hello.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/pid_namespace.h"
#include "common/ring.h"
#include "common/segment.h"

namespace shmport::internal {
namespace {

// Whether a HELLO's pid (the sender's getpid(), numbered in its own pid
// namespace) is the process the kernel reports as `kernel_pid` (numbered
// in this process's). Across namespaces: a sender in a container below
// this one shows its own pid as the innermost NSpid; a sender this
// namespace cannot see shows as 0, and there is nothing to compare (the
// daemon's identity and the uid still are).
bool HelloPidMatches(pid_t hello_pid, pid_t kernel_pid) {
  if (hello_pid == kernel_pid) return true;
  if (kernel_pid == 0) return true;
  absl::StatusOr<pid_t> inner = InnermostPid(kernel_pid);
  return inner.ok() && *inner == hello_pid;
}

// The kernel's word on who sent the HELLO, against who was expected and
// what the HELLO itself claims.
absl::Status CheckSender(const wire::Hello& hello, const Credentials& cred,
                         const PeerIdentity& expected) {
  if (expected.pid != 0 && cred.pid != expected.pid) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "peer credentials: the kernel reports pid %d, expected pid %d (%s)",
        cred.pid, expected.pid, expected.name));
  }
  if (expected.uid != static_cast<uid_t>(-1) && cred.uid != expected.uid) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "peer credentials: the kernel reports uid %u, expected uid %u",
        cred.uid, expected.uid));
  }
  if (!HelloPidMatches(hello.pid, cred.pid)) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "the peer's HELLO claims pid %d but the kernel reports pid %d",
        hello.pid, cred.pid));
  }
  return absl::OkStatus();
}

// What the HELLO declares, against what this end speaks and accepts.
absl::StatusOr<PeerTerms> CheckTerms(const wire::Hello& hello,
                                     const PortOptions& options) {
  if (hello.protocol_version != wire::kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the peer speaks protocol version %u, this end speaks %u",
        hello.protocol_version, wire::kProtocolVersion));
  }
  const SegmentGeometry g{hello.chunk_size, hello.chunk_count};
  if (absl::Status s = ValidateGeometry(g); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the peer's HELLO declares a bad geometry: ", s.message()));
  }
  if (hello.max_segments < 1 ||
      hello.max_segments > options.max_peer_segments) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the peer's HELLO declares max_segments %u; this end accepts [1, %u]",
        hello.max_segments, options.max_peer_segments));
  }
  const uint64_t peer_bytes = g.file_size() * hello.max_segments;
  if (peer_bytes > options.max_peer_bytes) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the peer's HELLO declares up to %u bytes of segments; this end maps "
        "at most %u",
        peer_bytes, options.max_peer_bytes));
  }
  if (options.port_id != 0 && hello.port_id != 0 &&
      hello.port_id != options.port_id) {
    return absl::FailedPreconditionError(
        absl::StrFormat("the peer's HELLO is for port %u, this end is port %u",
                        hello.port_id, options.port_id));
  }
  return PeerTerms{g, hello.max_segments,
                   (hello.features & wire::kFeatureRing) != 0};
}

}  // namespace

absl::Status ValidatePortOptions(const PortOptions& o) {
  if (absl::Status s = ValidateGeometry(o.geometry); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("PortOptions.geometry: ", s.message()));
  }
  if (o.max_segments < 1 || o.max_segments > 1024) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "PortOptions.max_segments %u out of range [1, 1024]", o.max_segments));
  }
  if (o.ring_capacity != 0) {
    if (absl::Status s = ValidateRingCapacity(o.ring_capacity); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("PortOptions.ring_capacity: ", s.message()));
    }
  }
  if (o.max_stash_messages < 1) {
    return absl::InvalidArgumentError("PortOptions.max_stash_messages is 0");
  }
  if (o.inline_threshold > wire::kMaxInlinePayload) {
    return absl::InvalidArgumentError(
        absl::StrFormat("PortOptions.inline_threshold %u exceeds %u",
                        o.inline_threshold, wire::kMaxInlinePayload));
  }
  return absl::OkStatus();
}

wire::Hello MakeHello(const PortOptions& options, pid_t pid, uid_t uid) {
  wire::Hello hello{};
  hello.protocol_version = wire::kProtocolVersion;
  hello.features = options.ring_capacity > 0 ? wire::kFeatureRing : 0;
  hello.pid = pid;
  hello.uid = uid;
  hello.chunk_size = options.geometry.chunk_size;
  hello.chunk_count = options.geometry.chunk_count;
  hello.max_segments = options.max_segments;
  hello.inline_threshold = options.inline_threshold;
  hello.port_id = options.port_id;
  return hello;
}

absl::StatusOr<PeerTerms> AcceptHello(
    absl::Span<const uint8_t> bytes, size_t fd_count,
    const std::optional<Credentials>& credentials, const PeerIdentity& expected,
    const PortOptions& options) {
  auto decoded = wire::Decode(bytes, static_cast<int>(fd_count));
  if (!decoded.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "bad first message from the peer: ", decoded.status().message()));
  }
  if (decoded->type() != wire::MessageType::kHello) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the peer's first message is ", wire::MessageTypeName(decoded->type()),
        ", expected HELLO"));
  }
  if (!credentials.has_value()) {
    return absl::PermissionDeniedError(
        "the peer's HELLO arrived without kernel credentials");
  }
  const wire::Hello hello = decoded->hello();
  if (absl::Status s = CheckSender(hello, *credentials, expected); !s.ok()) {
    return s;
  }
  return CheckTerms(hello, options);
}

}  // namespace shmport::internal
