#include "server/broker.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/log.h"

namespace shmport::server {
namespace {

// A frame is at most 64 KiB (broker.proto); one more byte detects larger.
constexpr size_t kMaxFrame = 64 * 1024;
// Connections that have not sent Attach yet. Beyond this, new connections
// are closed at once: a local client cannot exhaust the daemon's fds.
constexpr size_t kMaxPending = 1024;
// Frames read from one link per wake-up, so one chatty client cannot starve
// the others.
constexpr int kMaxFramesPerWake = 64;

absl::StatusOr<UniqueFd> PidfdOpen(pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0)
    return ErrnoToStatus(errno, absl::StrCat("pidfd_open(", pid, ")"));
  return UniqueFd(fd);
}

absl::StatusOr<sockaddr_un> MakeAddress(absl::string_view address,
                                        socklen_t* length) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (address.empty() || address.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker address \"", address, "\" must be 1..",
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

std::string FrameBytes(const v1::BrokerFrame& frame) {
  std::string bytes;
  frame.SerializeToString(&bytes);
  return bytes;
}

}  // namespace

struct Broker::Report {
  enum class Type {
    kAttach,
    kRefused,
    kLinkClosed,
    kExited,
    kExpired,
    kStats,
    kPortNotTaken
  };
  Type type;
  uint64_t process_id = 0;
  uint64_t handle = 0;         // kAttach: the link's handle
  std::string token;           // kAttach
  Credentials peer;            // kAttach
  std::string reason;          // kRefused, kLinkClosed
  v1::StatsReport stats;       // kStats
  v1::PortNotTaken not_taken;  // kPortNotTaken
};

absl::StatusOr<std::unique_ptr<Broker>> Broker::Listen(
    absl::string_view address, BrokerListener* listener, UniqueFd inherited) {
  absl::StatusOr<UniqueFd> fd =
      inherited ? AdoptListening(std::move(inherited)) : BindListening(address);
  if (!fd.ok()) return fd.status();
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return ErrnoToStatus(errno, "epoll_create1");
  UniqueFd wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd) return ErrnoToStatus(errno, "eventfd");
  return std::unique_ptr<Broker>(new Broker(std::string(address),
                                            std::move(*fd), std::move(epoll_fd),
                                            std::move(wake_fd), listener));
}

absl::StatusOr<UniqueFd> Broker::BindListening(absl::string_view address) {
  socklen_t length = 0;
  absl::StatusOr<sockaddr_un> addr = MakeAddress(address, &length);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(
      ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoToStatus(errno, "socket(AF_UNIX, SOCK_SEQPACKET)");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), length) !=
      0) {
    return ErrnoToStatus(errno,
                         absl::StrCat("bind broker socket \"", address, "\""));
  }
  // A burst of clients attaching at once (the 1,000-process load) must not
  // see ECONNREFUSED; the kernel caps this at somaxconn.
  if (::listen(fd.get(), 4096) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("listen on \"", address, "\""));
  }
  return fd;
}

absl::StatusOr<UniqueFd> Broker::AdoptListening(UniqueFd fd) {
  // The loop never blocks on accept: an inherited socket may come blocking.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0 ||
      ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0) {
    return ErrnoToStatus(errno,
                         "make the inherited broker socket non-blocking");
  }
  return fd;
}

v1::BrokerFrame AttachResultFrame(const absl::Status& status) {
  v1::BrokerFrame frame;
  frame.mutable_attach_result()->set_code(static_cast<int>(status.code()));
  frame.mutable_attach_result()->set_message(std::string(status.message()));
  return frame;
}

Broker::Broker(std::string address, UniqueFd listen_fd, UniqueFd epoll_fd,
               UniqueFd wake_fd, BrokerListener* listener)
    : address_(std::move(address)),
      listener_(listener),
      epoll_fd_(std::move(epoll_fd)) {
  std::lock_guard<std::mutex> lock(mu_);
  listen_handle_ = AddEntry(Kind::kListen, std::move(listen_fd), 0);
  wake_handle_ = AddEntry(Kind::kWake, std::move(wake_fd), 0);
}

Broker::~Broker() {
  Stop("");
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
  processes_.clear();
}

absl::Status Broker::Start() {
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void Broker::Stop(absl::string_view reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    if (!reason.empty()) {
      v1::BrokerFrame bye;
      bye.mutable_goodbye()->set_reason(std::string(reason));
      for (const auto& [id, fds] : processes_) {
        if (fds.link != 0) (void)SendLocked(id, bye, -1);
      }
    }
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n =
        ::write(entries_.at(wake_handle_).fd.get(), &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  // Close every link now, so clients see EOF as the daemon exits.
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->first == wake_handle_) {
      ++it;
    } else {
      it = entries_.erase(it);
    }
  }
  processes_.clear();
}

uint64_t Broker::AddEntry(Kind kind, UniqueFd fd, uint64_t process_id) {
  const uint64_t handle = next_handle_++;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = handle;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) {
    Log(LogLevel::kError, "epoll_add_failed",
        {{"errno", errno}, {"process", process_id}});
    return 0;  // fd closes as it goes out of scope
  }
  if (kind == Kind::kPending) ++pending_count_;
  entries_.emplace(handle, Entry{kind, std::move(fd), process_id});
  return handle;
}

void Broker::RemoveEntry(uint64_t handle) {
  auto it = entries_.find(handle);
  if (it == entries_.end()) return;
  if (it->second.kind == Kind::kPending) --pending_count_;
  // Closing the fd also takes it out of the epoll set (we hold the only
  // reference to each file description).
  entries_.erase(it);
}

absl::Status Broker::StartAttachTimer(uint64_t process_id,
                                      absl::Duration timeout) {
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer) return ErrnoToStatus(errno, "timerfd_create");
  itimerspec spec{};
  spec.it_value = absl::ToTimespec(std::max(timeout, absl::Milliseconds(1)));
  if (::timerfd_settime(timer.get(), 0, &spec, nullptr) != 0) {
    return ErrnoToStatus(errno, "timerfd_settime");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return absl::UnavailableError("the daemon is shutting down");
  ProcessFds& fds = processes_[process_id];
  RemoveEntry(fds.timer);
  fds.timer = AddEntry(Kind::kTimer, std::move(timer), process_id);
  if (fds.timer == 0) return absl::InternalError("cannot watch attach timer");
  return absl::OkStatus();
}

absl::Status Broker::Send(uint64_t process_id, const v1::BrokerFrame& frame,
                          int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  return SendLocked(process_id, frame, fd);
}

absl::Status Broker::SendLocked(uint64_t process_id,
                                const v1::BrokerFrame& frame, int fd) {
  auto p = processes_.find(process_id);
  auto e =
      p == processes_.end() ? entries_.end() : entries_.find(p->second.link);
  if (e == entries_.end()) {
    return absl::UnavailableError(
        absl::StrCat("process ", process_id, " has no broker link"));
  }
  const std::string bytes = FrameBytes(frame);
  UnixChannel channel(std::move(e->second.fd));
  absl::Status status = channel.Send(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()),
                          bytes.size()),
      fd >= 0 ? absl::Span<const int>(&fd, 1) : absl::Span<const int>(),
      /*with_credentials=*/false, /*dont_wait=*/true);
  e->second.fd = channel.TakeFd();
  if (IsWouldBlock(status)) {
    return absl::UnavailableError(
        absl::StrCat("broker link of process ", process_id,
                     " is full: the process is not reading its notices"));
  }
  return status;
}

void Broker::Release(uint64_t process_id, absl::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseLocked(process_id, reason);
}

void Broker::ReleaseLocked(uint64_t process_id, absl::string_view reason) {
  auto p = processes_.find(process_id);
  if (p == processes_.end()) return;
  if (!reason.empty() && p->second.link != 0) {
    v1::BrokerFrame bye;
    bye.mutable_goodbye()->set_reason(std::string(reason));
    (void)SendLocked(process_id, bye, -1);
  }
  RemoveEntry(p->second.link);
  RemoveEntry(p->second.pidfd);
  RemoveEntry(p->second.timer);
  processes_.erase(p);
}

size_t Broker::fd_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void Broker::Loop() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  while (true) {
    const int n = ::epoll_wait(epoll_fd_.get(), events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, "broker_epoll_failed", {{"errno", errno}});
      return;
    }
    std::vector<Report> reports;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; ++i) {
        const uint64_t handle = events[i].data.u64;
        auto it = entries_.find(handle);
        if (it == entries_.end()) continue;  // closed by an earlier event
        Entry& entry = it->second;
        const uint64_t id = entry.process_id;
        switch (entry.kind) {
          case Kind::kWake:
            return;
          case Kind::kListen:
            OnListenReadable(&reports);
            break;
          case Kind::kPending:
            OnPendingReadable(handle, &reports);
            break;
          case Kind::kLink:
            OnLinkReadable(handle, &reports);
            break;
          case Kind::kPidfd:
            // Level-triggered: drop it now or the loop would spin.
            RemoveEntry(handle);
            processes_[id].pidfd = 0;
            reports.push_back({Report::Type::kExited, id});
            break;
          case Kind::kTimer:
            RemoveEntry(handle);
            processes_[id].timer = 0;
            reports.push_back({Report::Type::kExpired, id});
            break;
        }
      }
    }
    for (Report& report : reports) Dispatch(report);
  }
}

void Broker::OnListenReadable(std::vector<Report>* reports) {
  const int listen_fd = entries_.at(listen_handle_).fd.get();
  while (true) {
    UniqueFd conn(
        ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN) {
        Log(LogLevel::kWarning, "broker_accept_failed", {{"errno", errno}});
      }
      return;
    }
    if (pending_count_ >= kMaxPending) {
      Log(LogLevel::kWarning, "broker_connection_refused",
          {{"reason", "too many connections without Attach"},
           {"limit", kMaxPending}});
      continue;  // closes conn
    }
    AddEntry(Kind::kPending, std::move(conn), 0);
  }
}

void Broker::OnPendingReadable(uint64_t handle, std::vector<Report>* reports) {
  Entry& entry = entries_.at(handle);
  UnixChannel channel(std::move(entry.fd));
  std::vector<uint8_t> buffer(kMaxFrame + 1);
  auto received = channel.Receive(absl::MakeSpan(buffer), /*dont_wait=*/true);
  absl::StatusOr<Credentials> peer = channel.PeerCredentials();
  entry.fd = channel.TakeFd();
  if (received.ok() && !received->has_value()) return;  // spurious wake-up

  auto refuse = [&](uint64_t id, absl::StatusCode code, std::string why) {
    if (received.ok()) {
      const std::string bytes =
          FrameBytes(AttachResultFrame(absl::Status(code, why)));
      [[maybe_unused]] ssize_t n =
          ::send(entries_.at(handle).fd.get(), bytes.data(), bytes.size(),
                 MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    RemoveEntry(handle);
    reports->push_back(
        {Report::Type::kRefused, id, 0, "", {}, std::move(why), {}});
  };

  if (!received.ok()) {
    // EOF or a bad datagram before Attach: nothing to report but a refusal.
    refuse(0, absl::StatusCode::kInvalidArgument,
           std::string(received.status().message()));
    return;
  }
  v1::BrokerFrame frame;
  if ((*received)->size > kMaxFrame ||
      !frame.ParseFromArray(buffer.data(), (*received)->size) ||
      !frame.has_attach()) {
    refuse(0, absl::StatusCode::kInvalidArgument,
           "the first frame on a broker link must be Attach");
    return;
  }
  if (!peer.ok()) {
    refuse(frame.attach().process_id(), absl::StatusCode::kInternal,
           std::string(peer.status().message()));
    return;
  }
  const uint64_t id = frame.attach().process_id();
  ProcessFds& fds = processes_[id];
  if (fds.link != 0) {
    refuse(id, absl::StatusCode::kFailedPrecondition,
           absl::StrCat("process ", id, " is already attached"));
    return;
  }
  absl::StatusOr<UniqueFd> pidfd = PidfdOpen(peer->pid);
  if (!pidfd.ok()) {
    if (fds.timer == 0) processes_.erase(id);
    refuse(id, absl::StatusCode::kUnavailable,
           absl::StrCat("cannot watch pid ", peer->pid, ": ",
                        pidfd.status().message()));
    return;
  }
  // Install the connection as the process's link before asking the
  // listener, so that it can send the AttachResult in order.
  entry.kind = Kind::kLink;
  entry.process_id = id;
  --pending_count_;
  fds.link = handle;
  fds.pidfd = AddEntry(Kind::kPidfd, std::move(*pidfd), id);
  reports->push_back({Report::Type::kAttach,
                      id,
                      handle,
                      frame.attach().session_token(),
                      *peer,
                      "",
                      {}});
}

void Broker::OnLinkReadable(uint64_t handle, std::vector<Report>* reports) {
  Entry& entry = entries_.at(handle);
  const uint64_t id = entry.process_id;
  std::vector<uint8_t> buffer(kMaxFrame + 1);
  for (int i = 0; i < kMaxFramesPerWake; ++i) {
    UnixChannel channel(std::move(entry.fd));
    auto received = channel.Receive(absl::MakeSpan(buffer), true);
    entry.fd = channel.TakeFd();
    std::string closed_reason;
    v1::BrokerFrame frame;
    if (received.ok() && !received->has_value()) return;
    if (!received.ok()) {
      closed_reason = received.status().code() == absl::StatusCode::kUnavailable
                          ? "broker link closed"
                          : absl::StrCat("broker link error: ",
                                         received.status().message());
    } else if ((*received)->size == 0) {
      closed_reason = "broker link closed";  // EOF on SOCK_SEQPACKET
    } else if (!frame.ParseFromArray(buffer.data(), (*received)->size)) {
      closed_reason = "protocol error: malformed broker frame";
    } else if (frame.has_stats_report()) {
      reports->push_back({Report::Type::kStats,
                          id,
                          0,
                          "",
                          {},
                          "",
                          std::move(*frame.mutable_stats_report())});
      continue;
    } else if (frame.has_port_not_taken()) {
      Report report{Report::Type::kPortNotTaken, id};
      report.not_taken = std::move(*frame.mutable_port_not_taken());
      reports->push_back(std::move(report));
      continue;
    } else if (frame.has_goodbye()) {
      closed_reason = absl::StrCat("goodbye: ", frame.goodbye().reason());
    } else {
      Log(LogLevel::kWarning, "broker_frame_ignored",
          {{"process", id}, {"kind", static_cast<int>(frame.kind_case())}});
      continue;
    }
    // The link is finished: drop it now (an EOF stays readable and would
    // spin the loop) and let the listener end the registration.
    RemoveEntry(handle);
    processes_[id].link = 0;
    reports->push_back({Report::Type::kLinkClosed,
                        id,
                        0,
                        "",
                        {},
                        std::move(closed_reason),
                        {}});
    return;
  }
}

void Broker::Dispatch(Report& report) {
  switch (report.type) {
    case Report::Type::kAttach:
      CompleteAttach(report);
      break;
    case Report::Type::kRefused:
      listener_->OnAttachRefused(report.process_id, report.reason);
      break;
    case Report::Type::kLinkClosed:
      listener_->OnLinkClosed(report.process_id, report.reason);
      break;
    case Report::Type::kExited:
      listener_->OnProcessExited(report.process_id);
      break;
    case Report::Type::kExpired:
      listener_->OnAttachExpired(report.process_id);
      break;
    case Report::Type::kStats:
      listener_->OnStatsReport(report.process_id, report.stats);
      break;
    case Report::Type::kPortNotTaken:
      listener_->OnPortNotTaken(report.process_id, report.not_taken);
      break;
  }
}

void Broker::CompleteAttach(Report& report) {
  const absl::Status status =
      listener_->OnAttach(report.process_id, report.token, report.peer);
  std::lock_guard<std::mutex> lock(mu_);
  auto p = processes_.find(report.process_id);
  if (p == processes_.end() || p->second.link != report.handle) {
    return;  // released meanwhile
  }
  if (status.ok()) {
    RemoveEntry(p->second.timer);
    p->second.timer = 0;
    return;
  }
  (void)SendLocked(report.process_id, AttachResultFrame(status), -1);
  // Drop only this connection: the registration's timer keeps running, so
  // the rightful process may still attach.
  RemoveEntry(p->second.link);
  RemoveEntry(p->second.pidfd);
  p->second.link = p->second.pidfd = 0;
  if (p->second.timer == 0) processes_.erase(p);
}

}  // namespace shmport::server
