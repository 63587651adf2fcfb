// UnixChannel: one end of a SOCK_SEQPACKET Unix socket that carries whole
// messages, file descriptors and kernel-checked credentials.
#ifndef SHMPORT_COMMON_UNIX_CHANNEL_H_
#define SHMPORT_COMMON_UNIX_CHANNEL_H_

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "shmport/unique_fd.h"

namespace shmport {

// Who sent a message, as the kernel reports it (SCM_CREDENTIALS), or who
// connected (SO_PEERCRED). Never what a peer claims about itself.
struct Credentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct ReceivedMessage {
  size_t size = 0;            // bytes placed in the caller's buffer
  std::vector<UniqueFd> fds;  // SCM_RIGHTS, close-on-exec, owned
  std::optional<Credentials> credentials;  // when SO_PASSCRED is on
  // ReceiveKeepingDatagram only: why fds the sender attached did not
  // arrive (RESOURCE_EXHAUSTED); OK when they all did.
  absl::Status fds_dropped;
};

// Sends and receives one datagram at a time. EINTR is retried; EAGAIN is
// reported as WouldBlockError (send) or nullopt (receive). A datagram or fd
// list that did not fit (MSG_TRUNC / MSG_CTRUNC), or an fd the kernel could
// not install, is an error, and every fd that did arrive is closed. Descriptors
// arrive with close-on-exec set.
//
// Thread-safety: Send and Receive may run concurrently with each other (the
// kernel orders datagrams); the setters must not race with either.
class UnixChannel {
 public:
  // Most fds accepted in one received message; more is MSG_CTRUNC.
  static constexpr int kMaxFds = 8;

  UnixChannel() = default;
  explicit UnixChannel(UniqueFd fd) : fd_(std::move(fd)) {}

  // A connected AF_UNIX SOCK_SEQPACKET pair, both ends close-on-exec.
  static absl::StatusOr<std::pair<UnixChannel, UnixChannel>> Pair();

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  UniqueFd TakeFd() { return std::move(fd_); }
  void Close() { fd_.Reset(); }

  // SO_PASSCRED: received messages carry the sender's credentials.
  absl::Status SetPassCredentials(bool on);
  absl::Status SetNonBlocking(bool on);
  // The credentials of the process that created the other end (SO_PEERCRED).
  absl::StatusOr<Credentials> PeerCredentials() const;

  // Sends `parts` as one datagram with `fds` attached; with
  // `with_credentials`, attaches this process's pid/euid/egid explicitly.
  // `dont_wait` makes a full socket buffer a WouldBlockError.
  absl::Status Send(absl::Span<const iovec> parts,
                    absl::Span<const int> fds = {},
                    bool with_credentials = false, bool dont_wait = false);
  absl::Status Send(absl::Span<const uint8_t> bytes,
                    absl::Span<const int> fds = {},
                    bool with_credentials = false, bool dont_wait = false);

  // Receives one datagram into `buffer`. Returns nullopt when nothing is
  // ready and `dont_wait` is set (or the socket is non-blocking);
  // UNAVAILABLE when the peer closed its end; INVALID_ARGUMENT for a
  // truncated datagram or fd list (the sender's doing); RESOURCE_EXHAUSTED
  // when this process had no fd slot (RLIMIT_NOFILE) for an fd that was
  // sent, so the kernel dropped it (this process's doing).
  absl::StatusOr<std::optional<ReceivedMessage>> Receive(
      absl::Span<uint8_t> buffer, bool dont_wait = false);

  // As Receive, except that fds dropped for want of a slot in this process
  // do not discard the datagram: it is returned, with the fds that did
  // arrive and `fds_dropped` saying why the others did not. For a caller
  // that must tell the sender which message it could not take.
  absl::StatusOr<std::optional<ReceivedMessage>> ReceiveKeepingDatagram(
      absl::Span<uint8_t> buffer, bool dont_wait = false);

 private:
  absl::StatusOr<std::optional<ReceivedMessage>> ReceiveImpl(
      absl::Span<uint8_t> buffer, bool dont_wait, bool keep_datagram);

  UniqueFd fd_;
};

}  // namespace shmport

#endif  // SHMPORT_COMMON_UNIX_CHANNEL_H_
