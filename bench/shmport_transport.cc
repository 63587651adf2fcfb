#include "bench/shmport_transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/shmport_c_endpoint.h"
#include "shmport/port.h"
#include "shmport/unique_fd.h"

namespace shmport::bench {
namespace {

// A receive that waits longer than this means the peer is stuck; the cell
// runner's deadline would kill both anyway, this just says so first.
constexpr absl::Duration kReceiveTimeout = absl::Seconds(60);

// shmport-spin: how long Receive busy-polls the ring before it sleeps
// (PortOptions::receive_spin, the product's latency option). Long enough to
// cover any round trip of the benchmark on idle CPUs; bounded so that a
// spinner sharing a CPU with its peer gives way within a millisecond.
constexpr absl::Duration kReceiveSpin = absl::Milliseconds(1);

class ShmportEndpoint : public Endpoint {
 public:
  ShmportEndpoint(std::unique_ptr<Port> port, size_t payload_bytes)
      : port_(std::move(port)), payload_bytes_(payload_bytes) {}

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
    // Blocking or spinning is the Port's option (receive_spin); the call is
    // the same.
    absl::StatusOr<Message> message = port_->Receive(kReceiveTimeout);
    if (!message.ok()) return message.status();
    message_ = std::move(*message);
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
  std::unique_ptr<Port> port_;
  size_t payload_bytes_;
  Buffer buffer_;    // filled between PrepareSend and Send
  Message message_;  // held between Receive and Release
};

class ShmportConnection : public Connection {
 public:
  ShmportConnection(UniqueFd sender, UniqueFd receiver, size_t payload_bytes,
                    bool spin, ShmportTransport::Api api)
      : ends_{std::move(sender), std::move(receiver)},
        payload_bytes_(payload_bytes),
        spin_(spin),
        api_(api) {}

  absl::StatusOr<std::unique_ptr<Endpoint>> Open(Side side,
                                                 pid_t peer_pid) override {
    const int mine = side == Side::kSender ? 0 : 1;
    ends_[1 - mine].Reset();
    if (api_ == ShmportTransport::Api::kC) {
      return OpenCEndpoint(std::move(ends_[mine]), peer_pid, payload_bytes_);
    }
    PeerIdentity peer;
    peer.pid = peer_pid;
    peer.uid = getuid();
    PortOptions options;
    if (spin_) options.receive_spin = kReceiveSpin;
    absl::StatusOr<std::unique_ptr<Port>> port =
        Port::Open(std::move(ends_[mine]), peer, options);
    if (!port.ok()) return port.status();
    return std::make_unique<ShmportEndpoint>(std::move(*port), payload_bytes_);
  }

 private:
  UniqueFd ends_[2];
  size_t payload_bytes_;
  bool spin_;
  ShmportTransport::Api api_;
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
                                             payload_bytes, spin_, api_);
}

}  // namespace shmport::bench
