#include "client/session_core.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/port_core.h"
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

// A ResumePorts frame stays far below the 64 KiB frame limit (about 30
// bytes a port); the daemon bounds what it keeps by its own limits.
constexpr int kMaxResumedPorts = 1024;

// How long a port the daemon closed keeps its socket open after this end
// closed it (SessionCore::OnPortClosed).
constexpr absl::Duration kLinger = absl::Seconds(1);

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

// --- SessionCore: connecting ---

SessionCore::SessionCore(SessionOptions options, std::string address)
    : options_(std::move(options)), address_(std::move(address)) {}

absl::StatusOr<std::unique_ptr<SessionCore>> SessionCore::Connect(
    const SessionOptions& options) {
  std::string address =
      options.address.empty() ? DefaultControlAddress() : options.address;
  if (absl::Status s = ValidateControlAddress(address); !s.ok()) return s;
  std::unique_ptr<SessionCore> session(
      new SessionCore(options, std::move(address)));
  absl::StatusOr<Registration> registration = session->Register();
  if (!registration.ok()) return registration.status();
  if (absl::Status s =
          session->Establish(*std::move(registration), /*resumed=*/false);
      !s.ok()) {
    return s;
  }
  return session;
}

SessionCore::~SessionCore() { StopLinkThread(); }

std::unique_ptr<grpc::ClientContext> SessionCore::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  return context;
}

absl::StatusOr<SessionCore::Registration> SessionCore::Register() const {
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
  Registration r;
  r.stub = std::shared_ptr<v1::ControlPlane::Stub>(
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
  auto context = NewContext();
  const grpc::Status registered =
      r.stub->Register(context.get(), request, &r.response);
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
      BrokerLink::Attach(r.response.broker_address(), r.response.process_id(),
                         r.response.session_token(), options_.attach_timeout,
                         options_.expected_daemon_uid);
  if (!link.ok()) {
    return absl::Status(link.status().code(),
                        absl::StrCat("attaching the broker link at ",
                                     r.response.broker_address(), ": ",
                                     link.status().message()));
  }
  r.link = *std::move(link);
  return r;
}

absl::Status SessionCore::Establish(Registration r, bool resumed) {
  MutexLock lock(&mu_);
  TakeRegistration(r);
  health_ = absl::OkStatus();
  unregistered_ = false;
  Log(LogLevel::kDebug, "session_registered",
      {{"process", process_id_}, {"name", options_.name}});
  return StartLinkThread(resumed);
}

absl::Status SessionCore::StartLinkThread(bool resumed) {
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return ErrnoToStatus(errno, "eventfd for the session");
  wake_fd_ = std::move(wake);
  wake_fd_for_link_ = wake_fd_.get();
  if (!topic_wake_fd_) {
    topic_wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!topic_wake_fd_) return ErrnoToStatus(errno, "eventfd for topics");
    topic_wake_fd_for_link_ = topic_wake_fd_.get();
  }
  link_thread_ = std::thread([this, resumed] {
    if (resumed) Resumed();
    LinkLoop();
  });
  return absl::OkStatus();
}

void SessionCore::Resumed() {
  DeclareSurvivingPorts(link_);
  RestoreTopics();
  if (options_.on_reconnected) options_.on_reconnected(process_id());
}

void SessionCore::StopLinkThread(bool keep_link) {
  std::thread thread;
  {
    MutexLock lock(&mu_);
    if (!link_thread_.joinable()) return;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
    thread = std::move(link_thread_);
  }
  thread.join();
  MutexLock lock(&mu_);
  wake_fd_.Reset();
  wake_fd_for_link_ = -1;
  if (keep_link) return;
  lingering_.clear();
  early_topic_notices_.clear();
  link_.Close();
  // Ports never claimed die with the link: their fds close here, and their
  // peers see EOF. Live ports stay (they are the application's).
  for (auto it = ports_.begin(); it != ports_.end();) {
    const PortState state = it->second.state;
    if (state == PortState::kOffered || state == PortState::kIncoming) {
      ports_.erase(it++);
    } else {
      ++it;
    }
  }
  incoming_.clear();
}

// --- SessionCore: the link thread ---

void SessionCore::LinkLoop() {
  while (!ServeLink()) {
    if (!options_.reconnect || !ReconnectInBackground()) return;
  }
}

bool SessionCore::ServeLink() {
  const bool report_stats = options_.stats_interval > absl::ZeroDuration() &&
                            options_.stats_interval != absl::InfiniteDuration();
  absl::Time next_stats = absl::Now() + options_.stats_interval;
  while (true) {
    absl::Time wake_at = report_stats ? next_stats : absl::InfiniteFuture();
    if (!lingering_.empty()) {
      wake_at = std::min(wake_at, lingering_.front().first);
    }
    int timeout_ms = -1;
    if (wake_at != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(
                 absl::Ceil(wake_at - absl::Now(), absl::Milliseconds(1)))));
    }
    pollfd fds[3] = {{link_.fd(), POLLIN, 0},
                     {wake_fd_for_link_, POLLIN, 0},
                     {topic_wake_fd_for_link_, POLLIN, 0}};
    const int r = ::poll(fds, 3, timeout_ms);
    if (r < 0 && errno != EINTR) {
      LoseDaemon(ErrnoToStatus(errno, "poll on the broker link").message());
      return false;
    }
    if (fds[1].revents != 0) return true;  // StopLinkThread
    // Drain everything waiting, so a burst of ports is taken in at once.
    while (fds[0].revents != 0) {
      absl::StatusOr<std::optional<BrokerNotice>> notice = link_.Receive();
      if (!notice.ok()) {
        if (notice.status().code() == absl::StatusCode::kInvalidArgument) {
          Log(LogLevel::kWarning, "broker_frame_dropped",
              {{"error", notice.status().message()}});
          continue;
        }
        LoseDaemon(notice.status().message());
        return false;
      }
      if (!notice->has_value()) break;
      OnNotice(std::move(**notice));
    }
    if (fds[2].revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = ::read(fds[2].fd, &count, sizeof(count));
    }
    DeliverTopicNotices();
    if (report_stats && absl::Now() >= next_stats) {
      PushStats();
      next_stats = absl::Now() + options_.stats_interval;
    }
    while (!lingering_.empty() && lingering_.front().first <= absl::Now()) {
      lingering_.pop_front();
    }
  }
}

void SessionCore::LoseDaemon(absl::string_view why) {
  uint64_t process_id = 0;
  {
    MutexLock lock(&mu_);
    process_id = process_id_;
    // A Goodbye set health_ already: its reason is the better one.
    if (health_.ok()) {
      health_ = absl::UnavailableError(absl::StrCat(
          "lost the daemon at ", address_, ": ", why,
          options_.reconnect
              ? " (daemon stopped or restarted; reconnecting)"
              : " (daemon stopped or restarted; call Reconnect())"));
    }
    changed_.SignalAll();
  }
  Log(LogLevel::kWarning, "session_daemon_lost",
      {{"process", process_id}, {"error", why}});
  if (options_.on_daemon_lost) options_.on_daemon_lost(why);
}

bool SessionCore::ReconnectInBackground() {
  link_.Close();
  std::mt19937_64 rng(absl::ToUnixNanos(absl::Now()) ^ ::getpid());
  absl::Duration wait = options_.reconnect_backoff_min;
  for (int attempt = 1;; ++attempt) {
    // Jitter: somewhere in [wait/2, wait].
    const absl::Duration jittered =
        wait / 2 + wait / 2 * std::uniform_real_distribution<double>(0, 1)(rng);
    pollfd stop{wake_fd_for_link_, POLLIN, 0};
    const int ms = static_cast<int>(
        absl::ToInt64Milliseconds(absl::Ceil(jittered, absl::Milliseconds(1))));
    if (::poll(&stop, 1, ms) > 0) return false;  // StopLinkThread
    absl::StatusOr<Registration> r = Register();
    if (r.ok()) {
      Reinstall(*std::move(r));
      Log(LogLevel::kInfo, "session_reconnected",
          {{"process", process_id()}, {"attempts", attempt}});
      Resumed();
      return true;
    }
    Log(LogLevel::kDebug, "session_reconnect_failed",
        {{"attempt", attempt}, {"error", r.status().message()}});
    wait = std::min(wait * 2, options_.reconnect_backoff_max);
  }
}

void SessionCore::TakeRegistration(Registration& r) {
  stub_ = std::move(r.stub);
  process_id_ = r.response.process_id();
  token_ = r.response.session_token();
  limits_ = r.response.limits();
  link_ = std::move(r.link);
}

void SessionCore::Reinstall(Registration r) {
  MutexLock lock(&mu_);
  TakeRegistration(r);
  if (!unregistered_) health_ = absl::OkStatus();
  changed_.SignalAll();
}

void SessionCore::DeclareSurvivingPorts(BrokerLink& link) {
  v1::BrokerFrame frame;
  v1::ResumePorts* resume = frame.mutable_resume_ports();
  {
    MutexLock lock(&mu_);
    for (const auto& [port_id, entry] : ports_) {
      if (entry.state != PortState::kLive) continue;
      std::shared_ptr<const PortStatsSource> source = entry.stats.lock();
      if (source == nullptr || source->Snapshot().closed) continue;
      if (resume->ports_size() >= kMaxResumedPorts) break;
      v1::ResumedPort* port = resume->add_ports();
      port->set_port_id(port_id);
      port->set_peer_pid(entry.peer.pid);
      port->set_initiator(entry.initiator);
      *port->mutable_geometry() = entry.geometry;
    }
  }
  if (resume->ports_size() == 0) return;
  if (absl::Status s = link.Send(frame); !s.ok()) {
    Log(LogLevel::kWarning, "ports_not_declared", {{"error", s.message()}});
  }
}

// --- SessionCore: notices ---

void SessionCore::OnNotice(BrokerNotice notice) {
  const v1::BrokerFrame& frame = notice.frame;
  if (frame.has_port_opened()) {
    OnPortOpened(std::move(notice));
  } else if (frame.has_port_closed()) {
    OnPortClosed(frame.port_closed());
  } else if (frame.has_subscription_opened() ||
             frame.has_subscription_closed()) {
    OnTopicNotice(std::move(notice));
  } else if (frame.has_goodbye()) {
    MutexLock lock(&mu_);
    health_ = absl::UnavailableError(
        absl::StrCat("the daemon said goodbye: ", frame.goodbye().reason()));
    changed_.SignalAll();
  }
  // AttachResult after attach, or a frame kind from a newer daemon: ignore.
}

void SessionCore::OnPortOpened(BrokerNotice notice) {
  const v1::PortOpened& opened = notice.frame.port_opened();
  PortEntry entry;
  entry.initiator = opened.initiator();
  entry.geometry = opened.geometry();
  PendingPort& pending = entry.pending;
  pending.port_id = opened.port_id();
  pending.fd = std::move(notice.fd);
  pending.peer.pid = opened.peer().pid();
  pending.peer.uid = opened.peer().uid();
  pending.peer.process_id = opened.peer().process_id();
  pending.peer.name = opened.peer().name();
  entry.peer = pending.peer;
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
      MutexLock lock(&mu_);
      PortEntry& failed = ports_[opened.port_id()];
      failed.state = PortState::kFailed;
      failed.failure = std::move(s);
      changed_.SignalAll();
    } else if (absl::Status told = link_.ReportNotTaken(pending.port_id, s);
               !told.ok()) {
      Log(LogLevel::kWarning, "port_not_taken_unreported",
          {{"port", pending.port_id}, {"error", told.message()}});
    }
    return;
  }
  pending.options.hello_already_sent = true;
  const uint64_t port_id = pending.port_id;
  MutexLock lock(&mu_);
  entry.state = opened.initiator() ? PortState::kOffered : PortState::kIncoming;
  if (!opened.initiator()) incoming_.push_back(port_id);
  ports_[port_id] = std::move(entry);
  changed_.SignalAll();
}

void SessionCore::OnPortClosed(const v1::PortClosed& closed) {
  const uint64_t port_id = closed.port_id();
  const absl::Status why(
      StatusCodeFromWire(closed.code(), absl::StatusCode::kUnavailable),
      closed.reason());
  std::shared_ptr<PortCore> live;
  {
    MutexLock lock(&mu_);
    auto it = ports_.find(port_id);
    if (it == ports_.end()) return;
    PortEntry& entry = it->second;
    switch (entry.state) {
      case PortState::kOffered:
      case PortState::kOpening:
      case PortState::kFailed:
        // OpenPort is waiting for this port: this is why it failed.
        entry.pending = PendingPort();
        entry.state = PortState::kFailed;
        entry.failure = why;
        entry.failure_from_daemon = true;
        changed_.SignalAll();
        return;
      case PortState::kIncoming:
        ports_.erase(it);
        return;
      case PortState::kLive:
        live = entry.core.lock();
        ports_.erase(it);
        break;
    }
  }
  Log(LogLevel::kInfo, "port_closed_by_daemon",
      {{"port", port_id}, {"reason", closed.reason()}});
  // The daemon's word is final: both ends close, each on its own notice
  // (this end tells the peer nothing, so that the peer too reports the
  // daemon's reason rather than our BYE). Blocked calls wake with the
  // reason, which names who closed it.
  if (live != nullptr) {
    // A peer that has exited (its end of the socket is closed) hears
    // nothing more: close at once and keep nothing.
    const bool peer_alive = !live->PeerHungUp();
    live->Close(absl::UnavailableError(closed.reason()), /*send_bye=*/false,
                /*tell_peer=*/false);
    // A live peer's socket stays open a moment even if the application
    // drops the Port at once, so that its EOF does not overtake the peer's
    // own notice; the peer sees the EOF when this lets go.
    if (peer_alive) {
      lingering_.emplace_back(absl::Now() + kLinger, std::move(live));
    }
  }
  if (options_.on_port_closed)
    options_.on_port_closed(port_id, closed.reason());
}

void SessionCore::PushStats() {
  v1::BrokerFrame frame;
  {
    MutexLock lock(&mu_);
    for (auto it = ports_.begin(); it != ports_.end();) {
      if (it->second.state != PortState::kLive) {
        ++it;
        continue;
      }
      std::shared_ptr<const PortStatsSource> source = it->second.stats.lock();
      const PortStats stats =
          source != nullptr ? source->Snapshot() : PortStats();
      if (source == nullptr || stats.closed) {
        // The Port is gone; its last report stands. Once one end said so,
        // the daemon forgets the port.
        frame.mutable_stats_report()->add_closed_port_ids(it->first);
        ports_.erase(it++);
        continue;
      }
      v1::PortStatsEntry* entry = frame.mutable_stats_report()->add_ports();
      entry->set_port_id(it->first);
      *entry->mutable_stats() = ToProto(stats);
      ++it;
    }
  }
  AddTopicStats(frame.mutable_stats_report());
  if (frame.stats_report().ByteSizeLong() == 0) return;
  if (absl::Status s = link_.Send(frame); !s.ok()) {
    Log(LogLevel::kDebug, "stats_report_dropped", {{"error", s.message()}});
  }
}

// --- SessionCore: ports ---

absl::Status SessionCore::CheckUsable() const {
  if (unregistered_) {
    return absl::FailedPreconditionError(
        absl::StrCat("session '", options_.name, "' is unregistered"));
  }
  return health_;
}

absl::StatusOr<std::unique_ptr<Port>> SessionCore::Adopt(PendingPort pending,
                                                         PortEntry shape) {
  const uint64_t port_id = pending.port_id;
  absl::StatusOr<std::unique_ptr<Port>> port =
      Port::Open(std::move(pending.fd), pending.peer, pending.options);
  if (!port.ok()) return port.status();
  MutexLock lock(&mu_);
  if (const PortEntry* word = DaemonWord(port_id)) {
    // The daemon closed it while the handshake ran: its word is final.
    return word->failure;  // the Port closes as it goes out of scope
  }
  shape.state = PortState::kLive;
  shape.core = (*port)->core_;
  shape.stats = (*port)->stats_source();
  ports_[port_id] = std::move(shape);
  return port;
}

absl::StatusOr<std::unique_ptr<Port>> SessionCore::OpenPort(
    absl::string_view name_or_id, const OpenPortOptions& options) {
  v1::OpenPortRequest request;
  std::shared_ptr<v1::ControlPlane::Stub> stub;
  {
    MutexLock lock(&mu_);
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
  const uint64_t port_id = response.port_id();
  PendingPort pending;
  PortEntry shape;
  {
    MutexLock lock(&mu_);
    if (absl::Status s = AwaitNotice(lock, port_id); !s.ok()) return s;
    PortEntry& entry = ports_[port_id];
    if (entry.state == PortState::kFailed) {
      const absl::Status why = entry.failure;
      lock.Unlock();
      return SettleFailedOpen(port_id, why);
    }
    entry.state = PortState::kOpening;
    pending = std::move(entry.pending);
    shape.initiator = entry.initiator;
    shape.peer = entry.peer;
    shape.geometry = entry.geometry;
  }
  absl::StatusOr<std::unique_ptr<Port>> port =
      Adopt(std::move(pending), std::move(shape));
  if (!port.ok()) return SettleFailedOpen(port_id, port.status());
  return port;
}

absl::Status SessionCore::AwaitNotice(MutexLock& lock, uint64_t port_id) {
  // The daemon wrote our end's notice before answering; the link thread
  // may still be taking it in.
  const absl::Time deadline = absl::Now() + options_.rpc_timeout;
  auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = ports_.find(port_id);
    return it != ports_.end() && (it->second.state == PortState::kOffered ||
                                  it->second.state == PortState::kFailed);
  };
  while (!arrived()) {
    if (!health_.ok()) return health_;
    if (!changed_.WaitUntil(&lock, absl::ToChronoTime(deadline)) &&
        !arrived()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "port ", port_id,
          " was opened but its notice did not arrive on the broker link "
          "within ",
          absl::FormatDuration(options_.rpc_timeout)));
    }
  }
  return absl::OkStatus();
}

const SessionCore::PortEntry* SessionCore::DaemonWord(uint64_t port_id) const {
  auto it = ports_.find(port_id);
  return it != ports_.end() && it->second.state == PortState::kFailed &&
                 it->second.failure_from_daemon
             ? &it->second
             : nullptr;
}

void SessionCore::WaitForDaemonWord(MutexLock& lock, uint64_t port_id,
                                    absl::Duration bound) {
  const absl::Time deadline = absl::Now() + bound;
  while (DaemonWord(port_id) == nullptr && health_.ok() &&
         changed_.WaitUntil(&lock, absl::ToChronoTime(deadline))) {
  }
}

absl::Status SessionCore::SettleFailedOpen(uint64_t port_id,
                                           absl::Status local) {
  MutexLock lock(&mu_);
  // The port is this call's to settle: kOpening until the daemon's word.
  if (PortEntry& entry = ports_[port_id]; entry.state != PortState::kFailed) {
    entry.state = PortState::kOpening;
  }
  // The peer's end closed: the peer usually knows why (it could not take
  // the port) and tells the daemon, which closes the port and tells us.
  // Give that word a moment.
  if (absl::IsUnavailable(local)) {
    WaitForDaemonWord(lock, port_id,
                      std::min(options_.rpc_timeout, absl::Seconds(1)));
  }
  if (DaemonWord(port_id) == nullptr && health_.ok()) {
    lock.Unlock();
    const absl::Status closed = ClosePortAtDaemon(port_id);
    lock.Lock();
    // NOT_FOUND: the daemon had closed it already, so its PortClosed is
    // on our link ahead of this answer.
    if (absl::IsNotFound(closed)) {
      WaitForDaemonWord(lock, port_id, options_.rpc_timeout);
    }
  }
  const PortEntry* word = DaemonWord(port_id);
  const absl::Status why = word != nullptr ? word->failure : local;
  ports_.erase(port_id);
  return absl::Status(
      why.code(), absl::StrCat("OpenPort: port ", port_id,
                               " failed before it was ready: ", why.message()));
}

absl::Status SessionCore::ClosePortAtDaemon(uint64_t port_id) {
  v1::ClosePortRequest request;
  std::shared_ptr<v1::ControlPlane::Stub> stub;
  {
    MutexLock lock(&mu_);
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
  PortEntry shape;
  {
    MutexLock lock(&mu_);
    if (unregistered_) return CheckUsable();
    const absl::Time deadline = absl::Now() + timeout;
    auto next = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> PortEntry* {
      while (!incoming_.empty()) {
        auto it = ports_.find(incoming_.front());
        if (it != ports_.end() && it->second.state == PortState::kIncoming) {
          return &it->second;
        }
        incoming_.pop_front();  // closed by the daemon meanwhile
      }
      return nullptr;
    };
    PortEntry* entry = nullptr;
    while ((entry = next()) == nullptr) {
      if (!health_.ok()) return health_;
      if (timeout == absl::InfiniteDuration()) {
        changed_.Wait(&lock);
      } else if (!changed_.WaitUntil(&lock, absl::ToChronoTime(deadline)) &&
                 next() == nullptr) {
        return absl::DeadlineExceededError(
            absl::StrCat("no port was opened to '", options_.name, "' within ",
                         absl::FormatDuration(timeout)));
      }
    }
    incoming_.pop_front();
    pending = std::move(entry->pending);
    shape.initiator = entry->initiator;
    shape.peer = entry->peer;
    shape.geometry = entry->geometry;
    entry->state = PortState::kOpening;
  }
  const uint64_t port_id = pending.port_id;
  absl::StatusOr<std::unique_ptr<Port>> port =
      Adopt(std::move(pending), std::move(shape));
  if (!port.ok()) {
    {
      MutexLock lock(&mu_);
      ports_.erase(port_id);
    }
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
    MutexLock lock(&mu_);
    request.set_process_id(process_id_);
    request.set_session_token(token_);
  }
  watch->reader_ = stub->WatchEvents(&watch->context_, request);
  return watch;
}

// --- SessionCore: the registration ---

absl::Status SessionCore::Reconnect() {
  StopLinkThread(/*keep_link=*/true);
  {
    MutexLock lock(&mu_);
    if (unregistered_) return CheckUsable();
    // The link thread reconnected already (or the daemon never left):
    // serve the link it has.
    if (health_.ok()) return StartLinkThread(/*resumed=*/false);
  }
  StopLinkThread();
  absl::StatusOr<Registration> r = Register();
  if (!r.ok()) return r.status();
  // Declared before this returns (the link is still this thread's alone),
  // so that the daemon has the old ports' ids before any new OpenPort.
  DeclareSurvivingPorts(r->link);
  if (absl::Status s = Establish(*std::move(r), /*resumed=*/false); !s.ok()) {
    return s;
  }
  RestoreTopics();
  if (options_.on_reconnected) options_.on_reconnected(process_id());
  return absl::OkStatus();
}

absl::Status SessionCore::Unregister() {
  v1::UnregisterRequest request;
  std::shared_ptr<v1::ControlPlane::Stub> stub;
  {
    MutexLock lock(&mu_);
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
  changed_.SignalAll();
  // A daemon that is gone has forgotten us anyway.
  if (status.code() == absl::StatusCode::kUnavailable) return absl::OkStatus();
  return status;
}

uint64_t SessionCore::process_id() const {
  MutexLock lock(&mu_);
  return process_id_;
}

v1::ProcessLimits SessionCore::limits() const {
  MutexLock lock(&mu_);
  return limits_;
}

absl::Status SessionCore::health() const {
  MutexLock lock(&mu_);
  return CheckUsable();
}

std::shared_ptr<v1::ControlPlane::Stub> SessionCore::stub() const {
  MutexLock lock(&mu_);
  return stub_;
}

}  // namespace internal
}  // namespace shmport
