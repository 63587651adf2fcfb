// Acceptor: a listening AF_UNIX socket in an epoll loop, and an accept(2)
// that survives the fd limit.
//
// At EMFILE/ENFILE (or ENOBUFS/ENOMEM) the connection stays in the backlog
// and the socket stays readable, so a loop that simply retried would spin
// (one connect to a daemon at its limit once made 572,901 log lines in
// 5 s). Instead the acceptor stops watching the socket for a pause that
// grows from 10 ms to 1 s while the failures last (a success resets it),
// and logs at most one line a second, counting the ones it held back. The
// waiting clients are served once descriptors are free again.
#ifndef SHMPORT_SERVER_ACCEPTOR_H_
#define SHMPORT_SERVER_ACCEPTOR_H_

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/unix_channel.h"
#include "server/log_throttle.h"
#include "shmport/unique_fd.h"

namespace shmport::server {

// The sockaddr for `address`: a filesystem path, or "@name" for the
// abstract namespace. INVALID_ARGUMENT when it is empty or too long.
absl::StatusOr<sockaddr_un> UnixSocketAddress(absl::string_view address,
                                              socklen_t* length);

// A connection just accepted: non-blocking, close-on-exec, with the
// credentials of the process that connected (SO_PEERCRED).
struct AcceptedConnection {
  UniqueFd fd;
  Credentials peer;
};

// Thread-safety: none; the loop that owns it calls it.
class Acceptor {
 public:
  // Binds and listens on `address` with socket `type` (SOCK_STREAM,
  // SOCK_SEQPACKET). `what` names the socket in errors and log lines
  // ("broker socket"). Errors: the socket() / bind() / listen() failure,
  // naming the address.
  static absl::StatusOr<Acceptor> Listen(absl::string_view address, int type,
                                         std::string what);
  // Takes over `listening`, a socket already bound and listening (one a
  // service manager passed in; its type checked by the caller), made
  // non-blocking and close-on-exec. Errors: the fcntl() failure.
  static absl::StatusOr<Acceptor> Adopt(UniqueFd listening, std::string what);
  // Adopt(inherited) when `inherited` is valid, else Listen(address).
  static absl::StatusOr<Acceptor> ListenOrAdopt(absl::string_view address,
                                                int type, std::string what,
                                                UniqueFd inherited);

  Acceptor(Acceptor&&) = default;

  // Adds the socket to `epoll_fd` (EPOLLIN) with `data` as its event data.
  absl::Status Watch(int epoll_fd, uint64_t data);

  // The next waiting connection, without blocking. nullopt when none is
  // waiting, when accept failed (logged, throttled), or when the process
  // is out of descriptors: then the socket is unwatched until
  // paused_until().
  std::optional<AcceptedConnection> Accept();

  // When the loop must call Resume (it bounds its epoll_wait by this);
  // InfiniteFuture while not paused.
  absl::Time paused_until() const { return paused_until_; }
  // Watches the socket again if the pause is over at `now`.
  void ResumeIfDue(absl::Time now);

  int fd() const { return fd_.get(); }
  // Closes the listening socket: new connections are refused.
  void Close() {
    fd_.Reset();
    epoll_fd_ = -1;
  }

 private:
  Acceptor(UniqueFd fd, std::string what)
      : fd_(std::move(fd)), what_(std::move(what)) {}
  void Pause(int error);
  void SetWatched(bool watched);

  UniqueFd fd_;
  std::string what_;
  int epoll_fd_ = -1;  // not owned; -1 until Watch
  uint64_t data_ = 0;
  absl::Duration pause_ = absl::ZeroDuration();  // the last pause taken
  absl::Time paused_until_ = absl::InfiniteFuture();
  LogThrottle log_;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_ACCEPTOR_H_
