#include "server/inherited_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "common/errors.h"
#include "common/log.h"
#include "grpcpp/server_posix.h"

namespace shmport::server {

absl::StatusOr<std::unique_ptr<InheritedListener>> InheritedListener::Start(
    UniqueFd listening, grpc::Server* server) {
  const int flags = ::fcntl(listening.get(), F_GETFL);
  if (flags < 0 || ::fcntl(listening.get(), F_SETFL, flags | O_NONBLOCK) != 0 ||
      ::fcntl(listening.get(), F_SETFD, FD_CLOEXEC) != 0) {
    return ErrnoToStatus(errno,
                         "make the inherited control socket non-blocking");
  }
  UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake) return ErrnoToStatus(errno, "eventfd");
  std::unique_ptr<InheritedListener> listener(
      new InheritedListener(std::move(listening), std::move(wake), server));
  listener->thread_ = std::thread([l = listener.get()] { l->Run(); });
  return listener;
}

InheritedListener::InheritedListener(UniqueFd listening, UniqueFd wake,
                                     grpc::Server* server)
    : listening_(std::move(listening)),
      wake_(std::move(wake)),
      server_(server) {}

InheritedListener::~InheritedListener() { Stop(); }

void InheritedListener::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  thread_.join();
}

void InheritedListener::Run() {
  pollfd fds[2] = {{listening_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, "control_accept_failed", {{"errno", errno}});
      return;
    }
    if (fds[1].revents != 0) return;
    const int fd = ::accept4(listening_.get(), nullptr, nullptr,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // EAGAIN: another wake-up took it; EMFILE and the like: the client
      // sees its connection closed, the daemon goes on.
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        Log(LogLevel::kWarning, "control_accept_failed", {{"errno", errno}});
        // Back off briefly so a persistent EMFILE does not spin the loop.
        ::poll(&fds[1], 1, 100);
      }
      continue;
    }
    // gRPC owns the fd from here on.
    grpc::AddInsecureChannelFromFd(server_, fd);
  }
}

}  // namespace shmport::server
