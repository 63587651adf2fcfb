#include "bench/shmport_transport.h"

#include <errno.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/port.h"
#include "common/unique_fd.h"

namespace shmport::bench {
namespace {

// A receive that waits longer than this means the peer is stuck; the cell
// runner's deadline would kill both anyway, this just says so first.
constexpr absl::Duration kReceiveTimeout = absl::Seconds(60);

// Empty polls of the spin receive before it starts yielding the CPU
// between polls; overridable for experiments (SHMPORT_BENCH_PURE_SPINS).
const uint64_t kPureSpins = [] {
  const char* env = std::getenv("SHMPORT_BENCH_PURE_SPINS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : uint64_t{4096};
}();

class ShmportEndpoint : public Endpoint {
 public:
  ShmportEndpoint(std::unique_ptr<Port> port, size_t payload_bytes, bool spin)
      : port_(std::move(port)), payload_bytes_(payload_bytes), spin_(spin) {}

  absl::StatusOr<absl::Span<uint8_t>> PrepareSend() override {
    absl::StatusOr<Buffer> buffer = port_->Allocate(payload_bytes_);
    if (!buffer.ok()) return buffer.status();
    buffer_ = std::move(*buffer);
    return absl::Span<uint8_t>(buffer_.data(), buffer_.size());
  }

  absl::Status Send() override {
    return port_->Send(/*stream=*/1, std::move(buffer_));
  }

  absl::StatusOr<absl::Span<const uint8_t>> Receive() override {
    absl::Status status = spin_ ? Spin() : Block();
    if (!status.ok()) return status;
    if (message_.fragment_count() != 1) {
      return absl::DataLossError(
          absl::StrCat("message of ", message_.size(), " bytes arrived in ",
                       message_.fragment_count(), " fragments, not 1"));
    }
    return message_.data();
  }

  // Dropping the Message frees its chunks in the sender's segment.
  void Release() override { message_ = Message(); }

 private:
  absl::Status Block() {
    absl::StatusOr<Message> message = port_->Receive(kReceiveTimeout);
    if (!message.ok()) return message.status();
    message_ = std::move(*message);
    return absl::OkStatus();
  }

  absl::Status Spin() {
    const absl::Time deadline = absl::Now() + kReceiveTimeout;
    for (uint64_t i = 1;; ++i) {
      absl::StatusOr<std::optional<Message>> message = port_->TryReceive();
      if (!message.ok()) return message.status();
      if (message->has_value()) {
        message_ = std::move(**message);
        return absl::OkStatus();
      }
      // Still busy polling (never sleeps), but after kPureSpins empty polls
      // (tens of µs: longer than any reply that is not held up)
      // it lets another runnable task on this CPU go first: when both ends
      // share one CPU (the other one busy, as on a shared 2-core machine),
      // a pure spin holds it for a whole scheduler tick (4 ms) before the
      // peer can answer.
      if (i > kPureSpins) sched_yield();
      if (i % 4096 == 0 && absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "no message within ", absl::FormatDuration(kReceiveTimeout)));
      }
    }
  }

  std::unique_ptr<Port> port_;
  size_t payload_bytes_;
  bool spin_;
  Buffer buffer_;    // filled between PrepareSend and Send
  Message message_;  // held between Receive and Release
};

class ShmportConnection : public Connection {
 public:
  ShmportConnection(UniqueFd sender, UniqueFd receiver, size_t payload_bytes,
                    bool spin)
      : ends_{std::move(sender), std::move(receiver)},
        payload_bytes_(payload_bytes),
        spin_(spin) {}

  absl::StatusOr<std::unique_ptr<Endpoint>> Open(Side side,
                                                 pid_t peer_pid) override {
    const int mine = side == Side::kSender ? 0 : 1;
    ends_[1 - mine].Reset();
    PeerIdentity peer;
    peer.pid = peer_pid;
    peer.uid = getuid();
    absl::StatusOr<std::unique_ptr<Port>> port =
        Port::Open(std::move(ends_[mine]), peer, PortOptions());
    if (!port.ok()) return port.status();
    return std::make_unique<ShmportEndpoint>(std::move(*port), payload_bytes_,
                                             spin_);
  }

 private:
  UniqueFd ends_[2];
  size_t payload_bytes_;
  bool spin_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> ShmportTransport::Connect(
    size_t payload_bytes) const {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::InternalError(
        absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  return std::make_unique<ShmportConnection>(UniqueFd(fds[0]), UniqueFd(fds[1]),
                                             payload_bytes, spin_);
}

}  // namespace shmport::bench
