#include "bench/unix_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bench/fd_endpoint.h"
#include "shmport/unique_fd.h"

namespace shmport::bench {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

class UnixConnection : public Connection {
 public:
  UnixConnection(UniqueFd sender, UniqueFd receiver, size_t payload_bytes,
                 Framing framing)
      : ends_{std::move(sender), std::move(receiver)},
        payload_bytes_(payload_bytes),
        framing_(framing) {}

  absl::StatusOr<std::unique_ptr<Endpoint>> Open(Side side,
                                                 pid_t peer_pid) override {
    const int mine = side == Side::kSender ? 0 : 1;
    ends_[1 - mine].Reset();
    UniqueFd fd = std::move(ends_[mine]);
    UniqueFd recv_fd(fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!recv_fd.valid()) return Errno("fcntl(F_DUPFD_CLOEXEC)");
    return std::make_unique<FdEndpoint>(std::move(fd), std::move(recv_fd),
                                        payload_bytes_, framing_);
  }

 private:
  UniqueFd ends_[2];
  size_t payload_bytes_;
  Framing framing_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> UnixTransport::Connect(
    size_t payload_bytes) const {
  const Framing framing = payload_bytes <= kMaxSeqpacketPayload
                              ? Framing::kDatagram
                              : Framing::kStream;
  const int type = framing == Framing::kDatagram ? SOCK_SEQPACKET : SOCK_STREAM;
  int fds[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0) {
    return Errno("socketpair");
  }
  UniqueFd a(fds[0]);
  UniqueFd b(fds[1]);
  if (socket_buffer_bytes_ > 0) {
    for (int fd : fds) {
      for (int opt : {SO_SNDBUF, SO_RCVBUF}) {
        if (setsockopt(fd, SOL_SOCKET, opt, &socket_buffer_bytes_,
                       sizeof(socket_buffer_bytes_)) != 0) {
          return Errno("setsockopt(SO_SNDBUF/SO_RCVBUF)");
        }
      }
    }
  }
  return std::make_unique<UnixConnection>(std::move(a), std::move(b),
                                          payload_bytes, framing);
}

}  // namespace shmport::bench
