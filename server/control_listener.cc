#include "server/control_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "grpcpp/server_posix.h"

namespace shmport::server {
namespace {

constexpr uint64_t kListenHandle = 0;
constexpr uint64_t kWakeHandle = 1;
constexpr int kMaxAcceptsPerWake = 64;

int TimeoutMs(absl::Time until) {
  if (until == absl::InfiniteFuture()) return -1;
  const absl::Duration left = until - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlListener>> ControlListener::Listen(
    absl::string_view address, const ControlConnectionLimits& limits,
    UniqueFd inherited) {
  absl::StatusOr<Acceptor> acceptor = Acceptor::ListenOrAdopt(
      address, SOCK_STREAM, "control socket", std::move(inherited));
  if (!acceptor.ok()) return acceptor.status();
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return ErrnoToStatus(errno, "epoll_create1");
  UniqueFd wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd) return ErrnoToStatus(errno, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeHandle;
  if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), &ev) != 0) {
    return ErrnoToStatus(errno, "epoll_ctl(ADD) for the wake fd");
  }
  if (absl::Status s = acceptor->Watch(epoll_fd.get(), kListenHandle);
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<ControlListener>(new ControlListener(
      std::move(*acceptor), std::move(epoll_fd), std::move(wake_fd), limits));
}

ControlListener::ControlListener(Acceptor acceptor, UniqueFd epoll_fd,
                                 UniqueFd wake_fd,
                                 const ControlConnectionLimits& limits)
    : limits_(limits),
      acceptor_(std::move(acceptor)),
      epoll_fd_(std::move(epoll_fd)),
      wake_fd_(std::move(wake_fd)) {}

ControlListener::~ControlListener() { Stop(); }

absl::Status ControlListener::Start(grpc::Server* server) {
  server_ = server;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void ControlListener::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
    thread_.join();
  }
  connections_.clear();
  open_connections_.store(0, std::memory_order_relaxed);
  per_uid_.clear();
  acceptor_.Close();
}

void ControlListener::Loop() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  while (true) {
    const int n = ::epoll_wait(epoll_fd_.get(), events, kMaxEvents,
                               TimeoutMs(acceptor_.paused_until()));
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, "control_epoll_failed", {{"errno", errno}});
      return;
    }
    for (int i = 0; i < n; ++i) {
      const uint64_t handle = events[i].data.u64;
      if (handle == kWakeHandle) return;
      if (handle == kListenHandle) {
        OnListenReadable();
      } else {
        Forget(handle);  // EPOLLRDHUP / EPOLLHUP: the connection ended
      }
    }
    acceptor_.ResumeIfDue(absl::Now());
  }
}

void ControlListener::OnListenReadable() {
  // A bounded batch per wake-up, so ended connections are forgotten too.
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    std::optional<AcceptedConnection> conn = acceptor_.Accept();
    if (!conn) return;
    if (absl::Status refusal = Admit(conn->peer.uid); !refusal.ok()) {
      if (limit_refusals_ != nullptr) limit_refusals_->Count(refusal);
      if (uint64_t suppressed = 0; refusal_log_.Allow(&suppressed)) {
        Log(LogLevel::kWarning, "control_connection_refused",
            {{"peer_pid", conn->peer.pid},
             {"peer_uid", conn->peer.uid},
             {"error", refusal.message()},
             {"suppressed", suppressed}});
      }
      continue;  // closes the connection
    }
    UniqueFd duplicate(::fcntl(conn->fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!duplicate) continue;  // out of fds: refuse rather than lose track
    const uint64_t handle = next_handle_++;
    epoll_event ev{};
    ev.events = EPOLLRDHUP;  // EPOLLHUP and EPOLLERR are always reported
    ev.data.u64 = handle;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, duplicate.get(), &ev) !=
        0) {
      continue;
    }
    connections_.emplace(handle, Watched{std::move(duplicate), conn->peer.uid});
    open_connections_.store(connections_.size(), std::memory_order_relaxed);
    ++per_uid_[conn->peer.uid];
    // gRPC owns the fd from here on (and closes it).
    grpc::AddInsecureChannelFromFd(server_, conn->fd.Release());
  }
}

absl::Status ControlListener::Admit(uid_t uid) const {
  if (connections_.size() >= limits_.max_connections) {
    return absl::ResourceExhaustedError(
        absl::StrCat(connections_.size(),
                     " control connections are open "
                     "(connections.max_control_connections = ",
                     limits_.max_connections, ")"));
  }
  auto it = per_uid_.find(uid);
  if (it != per_uid_.end() && it->second >= limits_.max_per_uid) {
    return absl::ResourceExhaustedError(
        absl::StrCat("uid ", uid, " has ", it->second,
                     " control connections open "
                     "(connections.max_control_connections_per_uid = ",
                     limits_.max_per_uid, ")"));
  }
  return absl::OkStatus();
}

void ControlListener::Forget(uint64_t handle) {
  auto it = connections_.find(handle);
  if (it == connections_.end()) return;
  auto uid = per_uid_.find(it->second.uid);
  if (uid != per_uid_.end() && --uid->second == 0) per_uid_.erase(uid);
  connections_.erase(it);  // closing the duplicate unwatches it
  open_connections_.store(connections_.size(), std::memory_order_relaxed);
}

}  // namespace shmport::server
