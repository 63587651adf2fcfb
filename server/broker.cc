#include "server/broker.h"

#include <errno.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "server/broker_frames.h"

namespace shmport::server {
namespace {

// Frames read from one link per wake-up, so one chatty client cannot starve
// the others.
constexpr int kMaxFramesPerWake = 64;
// Connections accepted per wake-up, so a connect flood cannot starve the
// links (the listening socket stays readable and is served again).
constexpr int kMaxAcceptsPerWake = 64;

absl::StatusOr<UniqueFd> PidfdOpen(pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0)
    return ErrnoToStatus(errno, absl::StrCat("pidfd_open(", pid, ")"));
  return UniqueFd(fd);
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
    kPortNotTaken,
    kResumePorts
  };
  Type type;
  uint64_t process_id = 0;
  uint64_t handle = 0;         // kAttach: the link's handle
  std::string token;           // kAttach
  Credentials peer;            // kAttach
  std::string reason;          // kRefused, kLinkClosed
  v1::StatsReport stats;       // kStats
  v1::PortNotTaken not_taken;  // kPortNotTaken
  v1::ResumePorts resume;      // kResumePorts
};

absl::StatusOr<std::unique_ptr<Broker>> Broker::Listen(
    absl::string_view address, BrokerListener* listener,
    const BrokerLimits& limits, UniqueFd inherited) {
  absl::StatusOr<Acceptor> acceptor = Acceptor::ListenOrAdopt(
      address, SOCK_SEQPACKET, "broker socket", std::move(inherited));
  if (!acceptor.ok()) return acceptor.status();
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return ErrnoToStatus(errno, "epoll_create1");
  UniqueFd wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd) return ErrnoToStatus(errno, "eventfd");
  std::unique_ptr<Broker> broker(
      new Broker(std::string(address), std::move(*acceptor),
                 std::move(epoll_fd), std::move(wake_fd), listener, limits));
  {
    MutexLock lock(&broker->mu_);
    if (absl::Status s = broker->acceptor_.Watch(broker->epoll_fd_.get(),
                                                 broker->listen_handle_);
        !s.ok()) {
      return s;
    }
  }
  return broker;
}

v1::BrokerFrame AttachResultFrame(const absl::Status& status) {
  v1::BrokerFrame frame;
  frame.mutable_attach_result()->set_code(static_cast<int>(status.code()));
  frame.mutable_attach_result()->set_message(std::string(status.message()));
  return frame;
}

Broker::Broker(std::string address, Acceptor acceptor, UniqueFd epoll_fd,
               UniqueFd wake_fd, BrokerListener* listener,
               const BrokerLimits& limits)
    : address_(std::move(address)),
      listener_(listener),
      limits_(limits),
      epoll_fd_(std::move(epoll_fd)),
      acceptor_(std::move(acceptor)) {
  MutexLock lock(&mu_);
  listen_handle_ = next_handle_++;
  wake_handle_ = AddEntry(Kind::kWake, std::move(wake_fd), 0);
}

Broker::~Broker() {
  Stop("");
  MutexLock lock(&mu_);
  entries_.clear();
  processes_.clear();
}

absl::Status Broker::Start() {
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void Broker::Stop(absl::string_view reason) {
  {
    MutexLock lock(&mu_);
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
  MutexLock lock(&mu_);
  acceptor_.Close();  // new connections are refused from here on
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
  entries_.emplace(handle, Entry{kind, std::move(fd), process_id, {}, {}});
  return handle;
}

void Broker::RemoveEntry(uint64_t handle) {
  auto it = entries_.find(handle);
  if (it == entries_.end()) return;
  if (it->second.kind == Kind::kPending) ForgetPending(handle, it->second);
  // Closing the fd also takes it out of the epoll set (we hold the only
  // reference to each file description).
  entries_.erase(it);
}

void Broker::ForgetPending(uint64_t handle, const Entry& entry) {
  pending_deadlines_.erase({entry.deadline, handle});
  auto uid = pending_per_uid_.find(entry.peer.uid);
  if (uid != pending_per_uid_.end() && --uid->second == 0) {
    pending_per_uid_.erase(uid);
  }
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
  MutexLock lock(&mu_);
  if (stopped_) return absl::UnavailableError("the daemon is shutting down");
  ProcessFds& fds = processes_[process_id];
  RemoveEntry(fds.timer);
  fds.timer = AddEntry(Kind::kTimer, std::move(timer), process_id);
  if (fds.timer == 0) return absl::InternalError("cannot watch attach timer");
  return absl::OkStatus();
}

absl::Status Broker::Send(uint64_t process_id, const v1::BrokerFrame& frame,
                          int fd) {
  MutexLock lock(&mu_);
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
    // Still marked (IsWouldBlock): a full link is its process's doing.
    return WouldBlockError(
        absl::StrCat("broker link of process ", process_id,
                     " is full (the process is not reading its notices)"));
  }
  return status;
}

void Broker::Release(uint64_t process_id, absl::string_view reason) {
  MutexLock lock(&mu_);
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

size_t Broker::pending_count() const {
  MutexLock lock(&mu_);
  return pending_deadlines_.size();
}

int Broker::WaitTimeoutMs() const {
  absl::Time next = acceptor_.paused_until();
  if (!pending_deadlines_.empty()) {
    next = std::min(next, pending_deadlines_.begin()->first);
  }
  if (next == absl::InfiniteFuture()) return -1;
  const absl::Duration left = next - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
}

void Broker::Loop() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  while (true) {
    int timeout_ms;
    {
      MutexLock lock(&mu_);
      timeout_ms = WaitTimeoutMs();
    }
    const int n = ::epoll_wait(epoll_fd_.get(), events, kMaxEvents, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, "broker_epoll_failed", {{"errno", errno}});
      return;
    }
    std::vector<Report> reports;
    {
      MutexLock lock(&mu_);
      for (int i = 0; i < n; ++i) {
        const uint64_t handle = events[i].data.u64;
        if (handle == listen_handle_) {
          OnListenReadable(&reports);
          continue;
        }
        auto it = entries_.find(handle);
        if (it == entries_.end()) continue;  // closed by an earlier event
        Entry& entry = it->second;
        const uint64_t id = entry.process_id;
        switch (entry.kind) {
          case Kind::kWake:
            return;
          case Kind::kPending:
            OnPendingReadable(handle, &reports);
            break;
          case Kind::kAttaching:
            break;  // settled by Dispatch before the next epoll_wait
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
      const absl::Time now = absl::Now();
      ExpirePending(now);
      acceptor_.ResumeIfDue(now);
    }
    for (Report& report : reports) Dispatch(report);
  }
}

void Broker::OnListenReadable(std::vector<Report>* reports) {
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    std::optional<AcceptedConnection> conn = acceptor_.Accept();
    if (!conn) return;
    const uint64_t handle = AddPending(std::move(*conn));
    if (handle == 0) continue;
    // Clients send Attach right after connecting, so it is usually here
    // already: read it now, and only connections with nothing to say count
    // against the caps (a burst of a thousand attaching processes of one
    // uid is not refused).
    OnPendingReadable(handle, reports);
    auto e = entries_.find(handle);
    if (e == entries_.end() || e->second.kind != Kind::kPending) continue;
    if (absl::Status refusal = CheckPendingCaps(e->second.peer.uid);
        !refusal.ok()) {
      RefuseUnread(e->second.fd.get(), refusal);
      RemoveEntry(handle);
    }
  }
}

uint64_t Broker::AddPending(AcceptedConnection connection) {
  const uint64_t handle = AddEntry(Kind::kPending, std::move(connection.fd), 0);
  if (handle == 0) return 0;
  Entry& entry = entries_.at(handle);
  entry.peer = connection.peer;
  entry.deadline = absl::Now() + limits_.pending_timeout;
  pending_deadlines_.emplace(entry.deadline, handle);
  ++pending_per_uid_[entry.peer.uid];
  return handle;
}

absl::Status Broker::CheckPendingCaps(uid_t uid) const {
  if (pending_deadlines_.size() > limits_.max_pending) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the broker has ", limits_.max_pending,
                     " connections that have not sent Attach "
                     "(connections.max_pending_broker_connections = ",
                     limits_.max_pending, "); try again"));
  }
  auto it = pending_per_uid_.find(uid);
  if (it != pending_per_uid_.end() &&
      it->second > limits_.max_pending_per_uid) {
    return absl::ResourceExhaustedError(
        absl::StrCat("uid ", uid, " has ", limits_.max_pending_per_uid,
                     " broker connections that have not sent Attach "
                     "(connections.max_pending_broker_connections_per_uid = ",
                     limits_.max_pending_per_uid, ")"));
  }
  return absl::OkStatus();
}

void Broker::ExpirePending(absl::Time now) {
  while (!pending_deadlines_.empty() &&
         pending_deadlines_.begin()->first <= now) {
    const uint64_t handle = pending_deadlines_.begin()->second;
    RefuseUnread(
        entries_.at(handle).fd.get(),
        absl::DeadlineExceededError(absl::StrCat(
            "no Attach within ", absl::FormatDuration(limits_.pending_timeout),
            " of connecting (connections.broker_pending_timeout_ms)")));
    RemoveEntry(handle);
  }
}

void Broker::RefuseUnread(int fd, const absl::Status& why) {
  if (limit_refusals_ != nullptr) limit_refusals_->Count(why);
  v1::BrokerFrame frame = AttachResultFrame(why);
  frame.mutable_attach_result()->set_attach_unread(true);
  const std::string bytes = FrameBytes(frame);
  [[maybe_unused]] ssize_t n =
      ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (uint64_t suppressed = 0; refusal_log_.Allow(&suppressed)) {
    Log(LogLevel::kWarning, "broker_connection_refused",
        {{"error", why.message()}, {"suppressed", suppressed}});
  }
}

void Broker::RefuseConnection(int fd, const absl::Status& why, bool log) {
  if (limit_refusals_ != nullptr) limit_refusals_->Count(why);
  const std::string bytes = FrameBytes(AttachResultFrame(why));
  [[maybe_unused]] ssize_t n =
      ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (uint64_t suppressed = 0; log && refusal_log_.Allow(&suppressed)) {
    Log(LogLevel::kWarning, "broker_connection_refused",
        {{"error", why.message()}, {"suppressed", suppressed}});
  }
}

void Broker::OnPendingReadable(uint64_t handle, std::vector<Report>* reports) {
  Entry& entry = entries_.at(handle);
  UnixChannel channel(std::move(entry.fd));
  const absl::Span<uint8_t> buffer = receive_buffer_.span();
  auto received = channel.Receive(buffer, /*dont_wait=*/true);
  entry.fd = channel.TakeFd();
  if (received.ok() && !received->has_value()) return;  // spurious wake-up

  absl::StatusOr<v1::Attach> attach =
      received.ok()
          ? ParseAttach(absl::MakeConstSpan(buffer.data(), (*received)->size))
          : received.status();
  if (!attach.ok()) {
    // EOF, a bad datagram or not an Attach: nothing to report but this.
    if (received.ok()) {
      RefuseConnection(entry.fd.get(), attach.status(), /*log=*/false);
    }
    RemoveEntry(handle);
    reports->push_back({Report::Type::kRefused,
                        0,
                        0,
                        "",
                        {},
                        std::string(attach.status().message()),
                        {}});
    return;
  }
  // No longer idle: the caps and the deadline are for connections that
  // have said nothing. The listener settles it in this same loop turn.
  ForgetPending(handle, entry);
  entry.kind = Kind::kAttaching;
  reports->push_back({Report::Type::kAttach,
                      attach->process_id(),
                      handle,
                      std::move(*attach->mutable_session_token()),
                      entry.peer,
                      "",
                      {}});
}

absl::Status Broker::InstallLink(const AttachRequest& request) {
  MutexLock lock(&mu_);
  auto e = entries_.find(request.connection);
  if (e == entries_.end() || e->second.kind != Kind::kAttaching) {
    return absl::UnavailableError("the broker connection closed meanwhile");
  }
  ProcessFds& fds = processes_[request.process_id];
  if (fds.link != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "process ", request.process_id, " already has a broker link"));
  }
  absl::StatusOr<UniqueFd> pidfd = PidfdOpen(request.peer.pid);
  const uint64_t pidfd_handle =
      pidfd.ok() ? AddEntry(Kind::kPidfd, std::move(*pidfd), request.process_id)
                 : 0;
  if (pidfd_handle == 0) {
    if (fds.timer == 0) processes_.erase(request.process_id);
    return absl::UnavailableError(absl::StrCat(
        "cannot watch pid ", request.peer.pid, ": ",
        pidfd.ok() ? "epoll_ctl failed" : pidfd.status().message()));
  }
  e->second.kind = Kind::kLink;
  e->second.process_id = request.process_id;
  fds.link = request.connection;
  fds.pidfd = pidfd_handle;
  if (absl::Status s =
          SendLocked(request.process_id, AttachResultFrame({}), -1);
      !s.ok()) {
    RemoveEntry(fds.link);
    RemoveEntry(fds.pidfd);
    fds.link = fds.pidfd = 0;
    if (fds.timer == 0) processes_.erase(request.process_id);
    return s;
  }
  RemoveEntry(fds.timer);
  fds.timer = 0;
  return absl::OkStatus();
}

void Broker::OnLinkReadable(uint64_t handle, std::vector<Report>* reports) {
  Entry& entry = entries_.at(handle);
  const uint64_t id = entry.process_id;
  const absl::Span<uint8_t> buffer = receive_buffer_.span();
  for (int i = 0; i < kMaxFramesPerWake; ++i) {
    UnixChannel channel(std::move(entry.fd));
    auto received = channel.Receive(buffer, true);
    entry.fd = channel.TakeFd();
    if (received.ok() && !received->has_value()) return;
    std::string closed_reason;
    v1::BrokerFrame frame;
    absl::Status parsed;
    if (!received.ok()) {
      closed_reason = received.status().code() == absl::StatusCode::kUnavailable
                          ? "broker link closed"
                          : absl::StrCat("broker link error: ",
                                         received.status().message());
    } else if ((*received)->size == 0) {
      closed_reason = "broker link closed";  // EOF on SOCK_SEQPACKET
    } else if (parsed = ParseLinkFrame(
                   absl::MakeConstSpan(buffer.data(), (*received)->size),
                   &frame);
               !parsed.ok()) {
      closed_reason = std::string(parsed.message());
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
    } else if (frame.has_resume_ports()) {
      Report report{Report::Type::kResumePorts, id};
      report.resume = std::move(*frame.mutable_resume_ports());
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
    case Report::Type::kResumePorts:
      listener_->OnResumePorts(report.process_id, report.resume);
      break;
  }
}

void Broker::CompleteAttach(const Report& report) {
  const absl::Status status = listener_->OnAttach(
      {report.process_id, report.token, report.peer, report.handle});
  if (status.ok()) return;
  MutexLock lock(&mu_);
  auto e = entries_.find(report.handle);
  if (e == entries_.end() || e->second.kind != Kind::kAttaching) return;
  RefuseConnection(e->second.fd.get(), status, /*log=*/false);
  RemoveEntry(report.handle);
}

}  // namespace shmport::server
