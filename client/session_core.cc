#include "client/session_core.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/port_grant.h"
#include "client/port_stats_proto.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/paths/reachability.h"
#include "common/paths/runtime_paths.h"
#include "common/pid_namespace.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace shmport {
namespace {

absl::Status FromGrpc(const grpc::Status& s, absl::string_view call) {
  if (s.ok()) return absl::OkStatus();
  // grpc::StatusCode and absl::StatusCode share their numbering.
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(call, ": ", s.error_message()));
}

bool IsDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

v1::PortEndStats ToProto(const PortStats& c) {
  v1::PortEndStats s = internal::PortEndStatsProto(c);
  s.set_updated_at_unix_ms(absl::ToUnixMillis(absl::Now()));
  return s;
}

}  // namespace

namespace internal {

// --- EventWatch ---

EventWatch::~EventWatch() {
  if (!ended_ && reader_ != nullptr) {
    context_.TryCancel();
    // Drain so Finish can complete; the stream is cancelled, so this ends.
    v1::Event ignored;
    while (reader_->Read(&ignored)) {
    }
    (void)reader_->Finish();
  }
}

absl::StatusOr<std::optional<v1::Event>> EventWatch::Next() {
  if (ended_) return absl::FailedPreconditionError("the event stream ended");
  v1::Event event;
  if (reader_->Read(&event)) return event;
  ended_ = true;
  const grpc::Status status = reader_->Finish();
  if (status.ok()) return std::nullopt;
  return FromGrpc(status, "WatchEvents");
}

void EventWatch::Cancel() { context_.TryCancel(); }

// --- SessionCore ---

SessionCore::SessionCore(SessionOptions options, std::string address)
    : options_(std::move(options)), address_(std::move(address)) {}

absl::StatusOr<std::unique_ptr<SessionCore>> SessionCore::Connect(
    const SessionOptions& options) {
  std::string address =
      options.address.empty() ? DefaultControlAddress() : options.address;
  if (absl::Status s = ValidateControlAddress(address); !s.ok()) return s;
  std::unique_ptr<SessionCore> session(
      new SessionCore(options, std::move(address)));
  if (absl::Status s = session->Establish(); !s.ok()) return s;
  return session;
}

SessionCore::~SessionCore() { StopLinkThread(); }

std::unique_ptr<grpc::ClientContext> SessionCore::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  return context;
}

absl::Status SessionCore::Establish() {
  if (absl::Status s = CheckDaemonAt(address_, options_.expected_daemon_uid);
      !s.ok()) {
    return s;
  }
  // A channel of its own: gRPC otherwise shares connections between
  // channels to one address, and after a daemon restart a new channel
  // could pick up the dead connection to the old daemon.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      address_, grpc::InsecureChannelCredentials(), args);
  auto stub = std::shared_ptr<v1::ControlPlane::Stub>(
      v1::ControlPlane::NewStub(channel));

  v1::RegisterRequest request;
  request.set_name(options_.name);
  for (const auto& [key, value] : options_.labels) {
    (*request.mutable_labels())[key] = value;
  }
  request.set_pid(::getpid());
  // In a container getpid() numbers this process in its own namespace:
  // say which, so the daemon checks it there (0 if /proc does not say).
  request.set_pid_namespace(PidNamespaceOf(0).value_or(0));
  request.set_version(kClientVersion);
  v1::RegisterResponse response;
  auto context = NewContext();
  const grpc::Status registered =
      stub->Register(context.get(), request, &response);
  if (registered.error_code() == grpc::StatusCode::UNAVAILABLE &&
      !IsDaemonMessage(registered.error_message())) {
    return ExplainUnreachable(address_, registered.error_message());
  }
  if (absl::Status s =
          FromGrpc(registered, absl::StrCat("Register at ", address_));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<BrokerLink> link =
      BrokerLink::Attach(response.broker_address(), response.process_id(),
                         response.session_token(), options_.attach_timeout,
                         options_.expected_daemon_uid);
  if (!link.ok()) {
    return absl::Status(
        link.status().code(),
        absl::StrCat("attaching the broker link at ", response.broker_address(),
                     ": ", link.status().message()));
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return ErrnoToStatus(errno, "eventfd for the session");

  std::lock_guard<std::mutex> lock(mu_);
  stub_ = std::move(stub);
  process_id_ = response.process_id();
  token_ = response.session_token();
  limits_ = response.limits();
  link_ = std::move(*link);
  wake_fd_ = std::move(wake);
  health_ = absl::OkStatus();
  unregistered_ = false;
  link_thread_ = std::thread([this] { LinkLoop(); });
  Log(LogLevel::kDebug, "session_registered",
      {{"process", process_id_}, {"name", options_.name}});
  return absl::OkStatus();
}

void SessionCore::StopLinkThread() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!link_thread_.joinable()) return;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
    thread = std::move(link_thread_);
  }
  thread.join();
  std::lock_guard<std::mutex> lock(mu_);
  link_.Close();
  wake_fd_.Reset();
  // Ports never claimed die with the link: their fds close here, and their
  // peers see EOF.
  opened_.clear();
  incoming_.clear();
}

void SessionCore::LinkLoop() {
  const bool report_stats = options_.stats_interval > absl::ZeroDuration() &&
                            options_.stats_interval != absl::InfiniteDuration();
  absl::Time next_stats = absl::Now() + options_.stats_interval;
  const int link_fd = link_.fd();
  const int wake_fd = wake_fd_.get();
  while (true) {
    int timeout_ms = -1;
    if (report_stats) {
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(
                 absl::Ceil(next_stats - absl::Now(), absl::Milliseconds(1)))));
    }
    pollfd fds[2] = {{link_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const int r = ::poll(fds, 2, timeout_ms);
    if (r < 0 && errno != EINTR) {
      std::lock_guard<std::mutex> lock(mu_);
      health_ = ErrnoToStatus(errno, "poll on the broker link");
      changed_.notify_all();
      return;
    }
    if (fds[1].revents != 0) return;  // StopLinkThread
    if (fds[0].revents != 0) {
      // Drain everything waiting, so a burst of ports is taken in at once.
      while (true) {
        absl::StatusOr<std::optional<BrokerNotice>> notice = link_.Receive();
        if (!notice.ok()) {
          if (notice.status().code() == absl::StatusCode::kInvalidArgument) {
            Log(LogLevel::kWarning, "broker_frame_dropped",
                {{"error", notice.status().message()}});
            continue;
          }
          std::lock_guard<std::mutex> lock(mu_);
          if (health_.ok()) {
            health_ = absl::UnavailableError(absl::StrCat(
                "lost the daemon at ", address_, ": ",
                notice.status().message(),
                " (daemon stopped or restarted; call Reconnect())"));
          }
          changed_.notify_all();
          Log(LogLevel::kWarning, "session_daemon_lost",
              {{"process", process_id_}, {"error", notice.status().message()}});
          return;
        }
        if (!notice->has_value()) break;
        OnNotice(std::move(**notice));
      }
    }
    if (report_stats && absl::Now() >= next_stats) {
      PushStats();
      next_stats = absl::Now() + options_.stats_interval;
    }
  }
}

void SessionCore::OnNotice(BrokerNotice notice) {
  const v1::BrokerFrame& frame = notice.frame;
  if (frame.has_port_opened()) {
    const v1::PortOpened& opened = frame.port_opened();
    PendingPort pending;
    pending.port_id = opened.port_id();
    pending.fd = std::move(notice.fd);
    pending.peer.pid = opened.peer().pid();
    pending.peer.uid = opened.peer().uid();
    pending.peer.process_id = opened.peer().process_id();
    pending.peer.name = opened.peer().name();
    // The grant bounds both what this end creates and what its peer maps.
    pending.options =
        internal::PortOptionsFromGrant(opened, options_.port_options);
    // HELLO now, so the opener's handshake completes even if this process
    // calls AcceptPort much later.
    if (absl::Status s = Port::SendHello(pending.fd.get(), pending.options);
        !s.ok()) {
      Log(LogLevel::kWarning, "port_hello_failed",
          {{"port", pending.port_id}, {"error", s.message()}});
      // The fd closes; the peer sees EOF. The daemon must forget the port
      // too: OpenPort settles this process's own ports with it; a port
      // others opened is reported here.
      if (opened.initiator()) {
        std::lock_guard<std::mutex> lock(mu_);
        failed_opens_[pending.port_id] = {std::move(s), false};
        changed_.notify_all();
      } else if (absl::Status told = link_.ReportNotTaken(pending.port_id, s);
                 !told.ok()) {
        Log(LogLevel::kWarning, "port_not_taken_unreported",
            {{"port", pending.port_id}, {"error", told.message()}});
      }
      return;
    }
    pending.options.hello_already_sent = true;
    std::lock_guard<std::mutex> lock(mu_);
    if (opened.initiator()) {
      opened_[pending.port_id] = std::move(pending);
    } else {
      incoming_.push_back(std::move(pending));
    }
    changed_.notify_all();
    return;
  }
  if (frame.has_port_closed()) {
    const uint64_t port_id = frame.port_closed().port_id();
    bool handed_out = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const bool was_pending = opened_.erase(port_id) > 0;
      if (was_pending || opening_.contains(port_id) ||
          failed_opens_.contains(port_id)) {
        // OpenPort is waiting for this port: this is why it failed.
        failed_opens_[port_id] = {
            absl::Status(StatusCodeFromWire(frame.port_closed().code(),
                                            absl::StatusCode::kUnavailable),
                         frame.port_closed().reason()),
            true};
        changed_.notify_all();
      }
      for (auto it = incoming_.begin(); it != incoming_.end(); ++it) {
        if (it->port_id == port_id) {
          incoming_.erase(it);
          break;
        }
      }
      handed_out = live_.erase(port_id) > 0 && !was_pending;
    }
    Log(LogLevel::kDebug, "port_closed_by_daemon",
        {{"port", port_id}, {"reason", frame.port_closed().reason()}});
    if (handed_out && options_.on_port_closed) {
      options_.on_port_closed(port_id, frame.port_closed().reason());
    }
    return;
  }
  if (frame.has_goodbye()) {
    std::lock_guard<std::mutex> lock(mu_);
    health_ = absl::UnavailableError(
        absl::StrCat("the daemon said goodbye: ", frame.goodbye().reason()));
    changed_.notify_all();
    return;
  }
  // AttachResult after attach, or a frame kind from a newer daemon: ignore.
}

void SessionCore::PushStats() {
  v1::BrokerFrame frame;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = live_.begin(); it != live_.end();) {
      std::shared_ptr<const PortStatsSource> source = it->second.lock();
      const PortStats stats =
          source != nullptr ? source->Snapshot() : PortStats();
      if (source == nullptr || stats.closed) {
        // The Port is gone; its last report stands. Once both ends said
        // so, the daemon forgets the port.
        frame.mutable_stats_report()->add_closed_port_ids(it->first);
        it = live_.erase(it);
        continue;
      }
      v1::PortStatsEntry* entry = frame.mutable_stats_report()->add_ports();
      entry->set_port_id(it->first);
      *entry->mutable_stats() = ToProto(stats);
      ++it;
    }
  }
  if (!frame.has_stats_report()) return;
  if (absl::Status s = link_.Send(frame); !s.ok()) {
    Log(LogLevel::kDebug, "stats_report_dropped", {{"error", s.message()}});
  }
}

absl::Status SessionCore::CheckUsable() const {
  if (unregistered_) {
    return absl::FailedPreconditionError(
        absl::StrCat("session '", options_.name, "' is unregistered"));
  }
  return health_;
}

absl::StatusOr<std::unique_ptr<Port>> SessionCore::Adopt(PendingPort pending) {
  const uint64_t port_id = pending.port_id;
  absl::StatusOr<std::unique_ptr<Port>> port =
      Port::Open(std::move(pending.fd), pending.peer, pending.options);
  if (!port.ok()) return port.status();
  std::lock_guard<std::mutex> lock(mu_);
  live_[port_id] = (*port)->stats_source();
  return port;
}

absl::StatusOr<std::unique_ptr<Port>> SessionCore::OpenPort(
    absl::string_view name_or_id, const OpenPortOptions& options) {
  v1::OpenPortRequest request;
  std::shared_ptr<v1::ControlPlane::Stub> stub;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Status s = CheckUsable(); !s.ok()) return s;
    request.mutable_from()->set_id(process_id_);
    request.set_session_token(token_);
    stub = stub_;
  }
  uint64_t id = 0;
  if (IsDigits(name_or_id) && absl::SimpleAtoi(name_or_id, &id)) {
    request.mutable_to()->set_id(id);
  } else {
    request.mutable_to()->set_name(std::string(name_or_id));
  }
  request.mutable_geometry()->set_chunk_size(options.chunk_size);
  request.mutable_geometry()->set_chunk_count(options.chunk_count);
  request.mutable_geometry()->set_max_segments(options.max_segments);
  request.mutable_geometry()->set_inline_threshold(options.inline_threshold);
  v1::OpenPortResponse response;
  // A peer that is still starting is worth waiting for, if asked to.
  const absl::Time give_up = absl::Now() + options.wait_for_peer;
  absl::Duration backoff = absl::Milliseconds(5);
  for (;;) {
    auto context = NewContext();
    absl::Status s =
        FromGrpc(stub->OpenPort(context.get(), request, &response), "OpenPort");
    if (s.ok()) break;
    const bool peer_starting =
        s.code() == absl::StatusCode::kNotFound ||
        s.code() == absl::StatusCode::kFailedPrecondition;
    if (!peer_starting || absl::Now() + backoff > give_up) return s;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(100));
  }
  // The daemon wrote our end's notice before answering; the link thread
  // may still be taking it in.
  const uint64_t port_id = response.port_id();
  PendingPort pending;
  {
    std::unique_lock<std::mutex> lock(mu_);
    const absl::Time deadline = absl::Now() + options_.rpc_timeout;
    while (!opened_.contains(port_id) && !failed_opens_.contains(port_id)) {
      if (!health_.ok()) return health_;
      if (changed_.wait_until(lock, absl::ToChronoTime(deadline)) ==
              std::cv_status::timeout &&
          !opened_.contains(port_id) && !failed_opens_.contains(port_id)) {
        return absl::DeadlineExceededError(absl::StrCat(
            "port ", port_id,
            " was opened but its notice did not arrive on the broker link "
            "within ",
            absl::FormatDuration(options_.rpc_timeout)));
      }
    }
    opening_.insert(port_id);
    if (auto failed = failed_opens_.find(port_id);
        failed != failed_opens_.end()) {
      const FailedOpen why = failed->second;
      lock.unlock();
      return SettleFailedOpen(port_id, why.why);
    }
    auto it = opened_.find(port_id);
    pending = std::move(it->second);
    opened_.erase(it);
  }
  absl::StatusOr<std::unique_ptr<Port>> port = Adopt(std::move(pending));
  if (!port.ok()) return SettleFailedOpen(port_id, port.status());
  std::lock_guard<std::mutex> lock(mu_);
  opening_.erase(port_id);
  failed_opens_.erase(port_id);
  return port;
}

absl::Status SessionCore::SettleFailedOpen(uint64_t port_id,
                                           absl::Status local) {
  // The daemon's word on this port: its PortClosed, taken in by the link
  // thread.
  auto daemon_word = [&]() -> const FailedOpen* {
    auto it = failed_opens_.find(port_id);
    return it != failed_opens_.end() && it->second.from_daemon ? &it->second
                                                               : nullptr;
  };
  auto wait_for_word = [&](std::unique_lock<std::mutex>& lock,
                           absl::Duration bound) {
    const absl::Time deadline = absl::Now() + bound;
    while (daemon_word() == nullptr && health_.ok() &&
           changed_.wait_until(lock, absl::ToChronoTime(deadline)) !=
               std::cv_status::timeout) {
    }
  };
  std::unique_lock<std::mutex> lock(mu_);
  // The peer's end closed: the peer usually knows why (it could not take
  // the port) and tells the daemon, which closes the port and tells us.
  // Give that word a moment.
  if (absl::IsUnavailable(local)) {
    wait_for_word(lock, std::min(options_.rpc_timeout, absl::Seconds(1)));
  }
  if (daemon_word() == nullptr && health_.ok()) {
    lock.unlock();
    const absl::Status closed = ClosePortAtDaemon(port_id);
    lock.lock();
    // NOT_FOUND: the daemon had closed it already, so its PortClosed is
    // on our link ahead of this answer.
    if (absl::IsNotFound(closed)) wait_for_word(lock, options_.rpc_timeout);
  }
  const FailedOpen* word = daemon_word();
  const absl::Status why = word != nullptr ? word->why : local;
  opening_.erase(port_id);
  failed_opens_.erase(port_id);
  return absl::Status(
      why.code(), absl::StrCat("OpenPort: port ", port_id,
                               " failed before it was ready: ", why.message()));
}

absl::Status SessionCore::ClosePortAtDaemon(uint64_t port_id) {
  v1::ClosePortRequest request;
  std::shared_ptr<v1::ControlPlane::Stub> stub;
  {
    std::lock_guard<std::mutex> lock(mu_);
    request.set_port_id(port_id);
    request.set_session_token(token_);
    stub = stub_;
  }
  v1::ClosePortResponse response;
  auto context = NewContext();
  return FromGrpc(stub->ClosePort(context.get(), request, &response),
                  "ClosePort");
}

absl::StatusOr<std::unique_ptr<Port>> SessionCore::AcceptPort(
    absl::Duration timeout) {
  PendingPort pending;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (unregistered_) return CheckUsable();
    const absl::Time deadline = absl::Now() + timeout;
    while (incoming_.empty()) {
      if (!health_.ok()) return health_;
      if (timeout == absl::InfiniteDuration()) {
        changed_.wait(lock);
      } else if (changed_.wait_until(lock, absl::ToChronoTime(deadline)) ==
                     std::cv_status::timeout &&
                 incoming_.empty()) {
        return absl::DeadlineExceededError(
            absl::StrCat("no port was opened to '", options_.name, "' within ",
                         absl::FormatDuration(timeout)));
      }
    }
    pending = std::move(incoming_.front());
    incoming_.pop_front();
  }
  const uint64_t port_id = pending.port_id;
  absl::StatusOr<std::unique_ptr<Port>> port = Adopt(std::move(pending));
  if (!port.ok()) {
    // Nobody holds the port now: the daemon should forget it (and tell
    // the opener). Best effort: a port it closed already is NOT_FOUND.
    const absl::Status closed = ClosePortAtDaemon(port_id);
    Log(LogLevel::kWarning, "port_accept_failed",
        {{"port", port_id},
         {"error", port.status().message()},
         {"close", closed.ok() ? "ok" : closed.message()}});
  }
  return port;
}

absl::StatusOr<std::unique_ptr<EventWatch>> SessionCore::Watch(
    bool include_existing) {
  std::shared_ptr<v1::ControlPlane::Stub> stub = this->stub();
  std::unique_ptr<EventWatch> watch(new EventWatch());
  v1::WatchEventsRequest request;
  request.set_include_existing(include_existing);
  {
    // Watch as this process: its uid's watcher budget, not the one all
    // anonymous watchers share.
    std::lock_guard<std::mutex> lock(mu_);
    request.set_process_id(process_id_);
    request.set_session_token(token_);
  }
  watch->reader_ = stub->WatchEvents(&watch->context_, request);
  return watch;
}

absl::Status SessionCore::Reconnect() {
  StopLinkThread();
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The old daemon's port ids mean nothing to the new one.
    live_.clear();
  }
  return Establish();
}

absl::Status SessionCore::Unregister() {
  v1::UnregisterRequest request;
  std::shared_ptr<v1::ControlPlane::Stub> stub;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (unregistered_) return absl::OkStatus();
    unregistered_ = true;
    request.set_process_id(process_id_);
    request.set_session_token(token_);
    stub = stub_;
  }
  auto context = NewContext();
  v1::UnregisterResponse response;
  absl::Status status = FromGrpc(
      stub->Unregister(context.get(), request, &response), "Unregister");
  StopLinkThread();
  changed_.notify_all();
  // A daemon that is gone has forgotten us anyway.
  if (status.code() == absl::StatusCode::kUnavailable) return absl::OkStatus();
  return status;
}

uint64_t SessionCore::process_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return process_id_;
}

v1::ProcessLimits SessionCore::limits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return limits_;
}

absl::Status SessionCore::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckUsable();
}

std::shared_ptr<v1::ControlPlane::Stub> SessionCore::stub() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stub_;
}

}  // namespace internal
}  // namespace shmport
