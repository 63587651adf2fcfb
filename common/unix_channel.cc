#include "common/unix_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"

namespace shmport {
namespace {

constexpr size_t kControlSpace =
    CMSG_SPACE(sizeof(int) * UnixChannel::kMaxFds) +
    CMSG_SPACE(sizeof(struct ucred));

// Why the kernel set MSG_CTRUNC after `arrived` fds were installed. It does
// so when the control buffer held fewer fds than were sent, and also when
// it could not install one in this process (no free slot under
// RLIMIT_NOFILE; the fd is dropped and the rest with it). Fewer than
// kMaxFds arrived, so the buffer had room: if `socket_fd` cannot be
// duplicated for EMFILE either, this process is at its limit.
absl::Status TruncatedControlError(int socket_fd, size_t arrived) {
  if (arrived < static_cast<size_t>(UnixChannel::kMaxFds)) {
    const int probe = ::fcntl(socket_fd, F_DUPFD_CLOEXEC, 0);
    if (probe >= 0) {
      ::close(probe);
    } else if (errno == EMFILE) {
      rlimit limit{};
      ::getrlimit(RLIMIT_NOFILE, &limit);
      return absl::ResourceExhaustedError(absl::StrFormat(
          "receive: this process is out of file descriptors (RLIMIT_NOFILE "
          "%d): a descriptor the peer sent was dropped; closed the %u that "
          "arrived",
          static_cast<int64_t>(limit.rlim_cur), arrived));
    }
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "receive: control data truncated (more than %d fds attached); "
      "closed the %u that arrived",
      UnixChannel::kMaxFds, arrived));
}

}  // namespace

absl::StatusOr<std::pair<UnixChannel, UnixChannel>> UnixChannel::Pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return ErrnoToStatus(errno, "socketpair(AF_UNIX, SOCK_SEQPACKET)");
  }
  return std::make_pair(UnixChannel(UniqueFd(fds[0])),
                        UnixChannel(UniqueFd(fds[1])));
}

absl::Status UnixChannel::SetPassCredentials(bool on) {
  const int value = on ? 1 : 0;
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &value, sizeof(value)) !=
      0) {
    return ErrnoToStatus(errno, "setsockopt(SO_PASSCRED)");
  }
  return absl::OkStatus();
}

absl::Status UnixChannel::SetNonBlocking(bool on) {
  const int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags < 0) return ErrnoToStatus(errno, "fcntl(F_GETFL)");
  const int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && ::fcntl(fd_.get(), F_SETFL, want) != 0) {
    return ErrnoToStatus(errno, "fcntl(F_SETFL, O_NONBLOCK)");
  }
  return absl::OkStatus();
}

absl::StatusOr<Credentials> UnixChannel::PeerCredentials() const {
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return ErrnoToStatus(errno, "getsockopt(SO_PEERCRED)");
  }
  return Credentials{cred.pid, cred.uid, cred.gid};
}

absl::Status UnixChannel::Send(absl::Span<const uint8_t> bytes,
                               absl::Span<const int> fds, bool with_credentials,
                               bool dont_wait) {
  const iovec part{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  return Send(absl::MakeConstSpan(&part, 1), fds, with_credentials, dont_wait);
}

absl::Status UnixChannel::Send(absl::Span<const iovec> parts,
                               absl::Span<const int> fds, bool with_credentials,
                               bool dont_wait) {
  if (fds.size() > static_cast<size_t>(kMaxFds)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot send %u fds in one message (limit %d)", fds.size(), kMaxFds));
  }
  alignas(struct cmsghdr) char control[kControlSpace];
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(parts.data());
  msg.msg_iovlen = parts.size();
  size_t control_len = 0;
  if (!fds.empty()) control_len += CMSG_SPACE(sizeof(int) * fds.size());
  if (with_credentials) control_len += CMSG_SPACE(sizeof(struct ucred));
  if (control_len > 0) {
    std::memset(control, 0, control_len);
    msg.msg_control = control;
    msg.msg_controllen = control_len;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!fds.empty()) {
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
      c = CMSG_NXTHDR(&msg, c);
    }
    if (with_credentials) {
      struct ucred cred {
        ::getpid(), ::geteuid(), ::getegid()
      };
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_CREDENTIALS;
      c->cmsg_len = CMSG_LEN(sizeof(cred));
      std::memcpy(CMSG_DATA(c), &cred, sizeof(cred));
    }
  }
  const int flags = MSG_NOSIGNAL | (dont_wait ? MSG_DONTWAIT : 0);
  while (true) {
    const ssize_t n = ::sendmsg(fd_.get(), &msg, flags);
    if (n >= 0) return absl::OkStatus();
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return WouldBlockError("send");
    if (errno == EPIPE || errno == ECONNRESET) {
      return absl::UnavailableError("send: the peer closed its end");
    }
    return ErrnoToStatus(errno, "sendmsg");
  }
}

absl::StatusOr<std::optional<ReceivedMessage>> UnixChannel::Receive(
    absl::Span<uint8_t> buffer, bool dont_wait) {
  return ReceiveImpl(buffer, dont_wait, /*keep_datagram=*/false);
}

absl::StatusOr<std::optional<ReceivedMessage>>
UnixChannel::ReceiveKeepingDatagram(absl::Span<uint8_t> buffer,
                                    bool dont_wait) {
  return ReceiveImpl(buffer, dont_wait, /*keep_datagram=*/true);
}

absl::StatusOr<std::optional<ReceivedMessage>> UnixChannel::ReceiveImpl(
    absl::Span<uint8_t> buffer, bool dont_wait, bool keep_datagram) {
  alignas(struct cmsghdr) char control[kControlSpace];
  iovec part{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &part;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const int flags = MSG_CMSG_CLOEXEC | (dont_wait ? MSG_DONTWAIT : 0);
  ssize_t n;
  int resets = 0;
  while (true) {
    n = ::recvmsg(fd_.get(), &msg, flags);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return std::nullopt;
    // A peer that closes with unread data in its own queue makes the kernel
    // report ECONNRESET once (sk_err), ahead of the messages it had already
    // sent us. Those messages are still queued: read on, and the EOF comes
    // after them.
    if (errno == ECONNRESET && ++resets <= 2) continue;
    if (errno == ECONNRESET) {
      return absl::UnavailableError("receive: the peer closed its end");
    }
    return ErrnoToStatus(errno, "recvmsg");
  }
  ReceivedMessage out;
  out.size = static_cast<size_t>(n);
  // Take ownership of every fd first, so that any error below closes them.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        out.fds.emplace_back(fd);
      }
    } else if (c->cmsg_type == SCM_CREDENTIALS &&
               c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
      struct ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      out.credentials = Credentials{cred.pid, cred.uid, cred.gid};
    }
  }
  if (msg.msg_flags & MSG_TRUNC) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "receive: datagram larger than the %u-byte buffer was truncated",
        buffer.size()));
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    absl::Status error = TruncatedControlError(fd_.get(), out.fds.size());
    if (!keep_datagram || !absl::IsResourceExhausted(error)) return error;
    out.fds_dropped = std::move(error);
  }
  if (n == 0 && out.fds.empty() && !out.credentials.has_value()) {
    // SEQPACKET reports an orderly close as a zero-length read. (Our
    // protocols never send empty datagrams.)
    return absl::UnavailableError("the peer closed its end");
  }
  return std::optional<ReceivedMessage>(std::move(out));
}

}  // namespace shmport
