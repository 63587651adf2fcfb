#include "server/acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/log.h"

namespace shmport::server {
namespace {

constexpr absl::Duration kFirstPause = absl::Milliseconds(10);
constexpr absl::Duration kLongestPause = absl::Seconds(1);

// A burst of clients connecting at once (the 1,000-process load) must not
// see ECONNREFUSED; the kernel caps this at somaxconn.
constexpr int kBacklog = 4096;

// Errors that last as long as the process (or system) is short of
// descriptors or memory: retrying at once fails the same way.
bool IsResourceShortage(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS ||
         error == ENOMEM;
}

}  // namespace

absl::StatusOr<sockaddr_un> UnixSocketAddress(absl::string_view address,
                                              socklen_t* length) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (address.empty() || address.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket address \"", address, "\" must be 1..",
                     sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, address.data(), address.size());
  // "@name" is the abstract namespace: a leading NUL, no terminator.
  if (address[0] == '@') addr.sun_path[0] = '\0';
  *length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() +
                             (address[0] == '@' ? 0 : 1));
  return addr;
}

absl::StatusOr<Acceptor> Acceptor::Listen(absl::string_view address, int type,
                                          std::string what) {
  socklen_t length = 0;
  absl::StatusOr<sockaddr_un> addr = UnixSocketAddress(address, &length);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoToStatus(errno, absl::StrCat("socket() for ", what));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), length) !=
      0) {
    return ErrnoToStatus(errno,
                         absl::StrCat("bind ", what, " \"", address, "\""));
  }
  if (::listen(fd.get(), kBacklog) != 0) {
    return ErrnoToStatus(
        errno, absl::StrCat("listen on ", what, " \"", address, "\""));
  }
  return Acceptor(std::move(fd), std::move(what));
}

absl::StatusOr<Acceptor> Acceptor::Adopt(UniqueFd listening, std::string what) {
  // The loop never blocks in accept: an inherited socket may come blocking.
  const int flags = ::fcntl(listening.get(), F_GETFL);
  if (flags < 0 || ::fcntl(listening.get(), F_SETFL, flags | O_NONBLOCK) != 0 ||
      ::fcntl(listening.get(), F_SETFD, FD_CLOEXEC) != 0) {
    return ErrnoToStatus(errno,
                         absl::StrCat("make the inherited ", what,
                                      " non-blocking and close-on-exec"));
  }
  return Acceptor(std::move(listening), std::move(what));
}

absl::StatusOr<Acceptor> Acceptor::ListenOrAdopt(absl::string_view address,
                                                 int type, std::string what,
                                                 UniqueFd inherited) {
  if (inherited) return Adopt(std::move(inherited), std::move(what));
  return Listen(address, type, std::move(what));
}

absl::Status Acceptor::Watch(int epoll_fd, uint64_t data) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = data;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd_.get(), &ev) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("epoll_ctl(ADD) for ", what_));
  }
  epoll_fd_ = epoll_fd;
  data_ = data;
  return absl::OkStatus();
}

std::optional<AcceptedConnection> Acceptor::Accept() {
  while (true) {
    UniqueFd conn(
        ::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn) {
      const int error = errno;
      if (error == EINTR || error == ECONNABORTED) continue;
      if (error == EAGAIN) return std::nullopt;
      if (IsResourceShortage(error)) {
        Pause(error);
      } else if (uint64_t suppressed = 0; log_.Allow(&suppressed)) {
        Log(LogLevel::kWarning, "accept_failed",
            {{"socket", what_}, {"errno", error}, {"suppressed", suppressed}});
      }
      return std::nullopt;
    }
    pause_ = absl::ZeroDuration();
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      continue;  // the peer is gone already; closes conn
    }
    return AcceptedConnection{std::move(conn),
                              Credentials{cred.pid, cred.uid, cred.gid}};
  }
}

void Acceptor::Pause(int error) {
  pause_ = std::clamp(pause_ * 2, kFirstPause, kLongestPause);
  paused_until_ = absl::Now() + pause_;
  SetWatched(false);
  if (uint64_t suppressed = 0; log_.Allow(&suppressed)) {
    Log(LogLevel::kWarning, "accept_paused",
        {{"socket", what_},
         {"errno", error},
         {"error", std::strerror(error)},
         {"pause_ms", absl::ToInt64Milliseconds(pause_)},
         {"suppressed", suppressed}});
  }
}

void Acceptor::ResumeIfDue(absl::Time now) {
  if (now < paused_until_) return;
  paused_until_ = absl::InfiniteFuture();
  SetWatched(true);
}

void Acceptor::SetWatched(bool watched) {
  if (epoll_fd_ < 0) return;
  epoll_event ev{};
  ev.events = watched ? uint32_t{EPOLLIN} : 0u;
  ev.data.u64 = data_;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_.get(), &ev) != 0) {
    Log(LogLevel::kError, "epoll_mod_failed",
        {{"socket", what_}, {"errno", errno}});
  }
}

}  // namespace shmport::server
