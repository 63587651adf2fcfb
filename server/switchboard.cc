#include "server/switchboard.h"

#include <sys/socket.h>

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/deferred_logs.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/pid_namespace.h"
#include "common/segment_layout.h"
#include "common/unix_channel.h"
#include "server/peer_identity.h"
#include "server/pid_credentials.h"
#include "server/process_usage.h"
#include "server/secret.h"
#include "server/validation.h"
#include "shmport/unique_fd.h"

namespace shmport::server {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

// What a granted geometry lets one direction of a port map in all.
uint64_t GrantedBytesPerDirection(const v1::Geometry& g) {
  return uint64_t{g.max_segments()} *
         (layout::kHeaderSize + uint64_t{g.chunk_size()} * g.chunk_count());
}

}  // namespace

Switchboard::Switchboard(const DaemonConfig& config, uid_t daemon_uid)
    : policy_(config, daemon_uid),
      pid_namespace_(PidNamespaceOf(0).value_or(0)),
      attach_timeout_(absl::Milliseconds(config.attach_timeout_ms())),
      limits_(config.limits()),
      list_page_bytes_(config.list_page_bytes()) {}

void Switchboard::SetBroker(Broker* broker) { broker_ = broker; }

absl::StatusOr<v1::RegisterResponse> Switchboard::Register(
    const v1::RegisterRequest& r) {
  if (absl::Status s = ValidateName("name", r.name()); !s.ok()) return s;
  if (absl::Status s = ValidateLabels(r.labels()); !s.ok()) return s;
  if (absl::Status s = ValidateVersion(r.version()); !s.ok()) return s;
  if (r.pid() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("pid ", r.pid(), " is not a process id (must be > 0)"));
  }
  // gRPC does not say who calls; the declared pid's owner is the only uid
  // the registration can ever attach as (OnAttach checks the link's pid),
  // so its name rules refuse early what the attach would refuse anyway.
  // A pid numbered in another pid namespace (a container) names nothing
  // here: the attach checks it, and the name rules, against the kernel.
  if (r.pid_namespace() == 0 || r.pid_namespace() == pid_namespace_) {
    absl::StatusOr<Credentials> declared = CredentialsOfPid(r.pid());
    if (!declared.ok()) return declared.status();
    if (absl::Status s = policy_.MayClaim(declared->uid, r.name()); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<std::string> token = NewSecret();
  if (!token.ok()) return token.status();

  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  if (shutting_down_) {
    return absl::UnavailableError("the daemon is shutting down");
  }
  if (registry_.attached_count() >= limits_.max_processes()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the daemon holds ", registry_.attached_count(),
                     " attached processes, its limit (limits.max_processes)"));
  }
  v1::ProcessInfo info;
  info.set_name(r.name());
  *info.mutable_labels() = r.labels();
  info.set_pid(r.pid());
  info.set_pid_namespace(r.pid_namespace());
  info.set_namespace_pid(r.pid());
  info.set_version(r.version());
  info.set_registered_at_unix_ms(NowMs());
  absl::StatusOr<ProcessRecord*> added =
      registry_.AddProcess(std::move(info), *token);
  if (!added.ok()) return added.status();
  const uint64_t id = (*added)->info.id();
  if (absl::Status s = broker_->StartAttachTimer(id, attach_timeout_);
      !s.ok()) {
    registry_.RemoveProcess(id);
    return s;
  }
  EvictUnattachedBeyondLimit();
  ++registrations_total_;
  Log(LogLevel::kInfo, "process_registered",
      {{"process", id}, {"name", r.name()}, {"pid", r.pid()}});

  v1::RegisterResponse response;
  response.set_process_id(id);
  response.set_session_token(*token);
  response.set_broker_address(broker_->address());
  *response.mutable_limits() = policy_.ProcessLimits();
  response.set_attach_timeout_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(attach_timeout_)));
  return response;
}

void Switchboard::EvictUnattachedBeyondLimit() {
  while (registry_.unattached_count() >
         limits_.max_unattached_registrations()) {
    const uint64_t oldest = registry_.oldest_unattached();
    ++registrations_expired_;
    Log(LogLevel::kInfo, "registration_evicted",
        {{"process", oldest},
         {"limit", limits_.max_unattached_registrations()}});
    EndRegistration(oldest,
                    absl::StrCat("evicted: more than ",
                                 limits_.max_unattached_registrations(),
                                 " registrations had not attached "
                                 "(limits.max_unattached_registrations)"));
  }
}

absl::StatusOr<ProcessRecord*> Switchboard::Resolve(const v1::ProcessRef& ref,
                                                    absl::string_view field) {
  switch (ref.ref_case()) {
    case v1::ProcessRef::kId: {
      if (ref.id() == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".id is 0; process ids start at 1"));
      }
      ProcessRecord* p = registry_.FindProcess(ref.id());
      if (p == nullptr) {
        return absl::NotFoundError(
            absl::StrCat(field, ": no live process with id ", ref.id()));
      }
      return p;
    }
    case v1::ProcessRef::kName: {
      if (absl::Status s =
              ValidateName(absl::StrCat(field, ".name"), ref.name());
          !s.ok()) {
        return s;
      }
      ProcessRecord* p = registry_.FindProcessByName(ref.name());
      if (p == nullptr) {
        return absl::NotFoundError(
            absl::StrCat(field, ": no live process named '", ref.name(), "'"));
      }
      return p;
    }
    case v1::ProcessRef::REF_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, " names no process: set its id or its name"));
}

absl::Status Switchboard::Authorize(const ProcessRecord& process,
                                    absl::string_view token,
                                    const Caller& caller,
                                    absl::string_view action) {
  if (caller.admin) return absl::OkStatus();
  if (token.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        action, " needs the session_token of process ", Describe(process),
        " or the admin token (metadata x-shmport-admin-token)"));
  }
  if (!SecretsEqual(token, process.token)) {
    return absl::PermissionDeniedError(
        absl::StrCat("session_token is not that of process ", Describe(process),
                     "; ", action, " refused"));
  }
  return absl::OkStatus();
}

absl::Status Switchboard::Unregister(const v1::UnregisterRequest& r,
                                     const Caller& c) {
  if (r.process_id() == 0) {
    return absl::InvalidArgumentError(
        "process_id is 0; process ids start at 1");
  }
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  ProcessRecord* p = registry_.FindProcess(r.process_id());
  if (p == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no live process with id ", r.process_id()));
  }
  if (absl::Status s = Authorize(*p, r.session_token(), c, "Unregister");
      !s.ok()) {
    return s;
  }
  EndRegistration(r.process_id(), c.admin && r.session_token().empty()
                                      ? "unregistered by admin"
                                      : "unregistered");
  return absl::OkStatus();
}

absl::StatusOr<v1::OpenPortResponse> Switchboard::OpenPort(
    const v1::OpenPortRequest& r, const Caller& c) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  if (shutting_down_) {
    return absl::UnavailableError("the daemon is shutting down");
  }
  absl::StatusOr<ProcessRecord*> from = Resolve(r.from(), "from");
  if (!from.ok()) return from.status();
  if (!r.dry_run()) {
    if (absl::Status s = Authorize(**from, r.session_token(), c, "OpenPort");
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<ProcessRecord*> to = Resolve(r.to(), "to");
  if (!to.ok()) return to.status();
  ProcessRecord& a = **from;
  ProcessRecord& b = **to;
  if (&a == &b) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot open a port from process ", Describe(a), " to itself"));
  }
  for (const ProcessRecord* p : {&a, &b}) {
    if (p->info.state() != v1::PROCESS_STATE_ATTACHED) {
      return absl::FailedPreconditionError(absl::StrCat(
          "process ", Describe(*p), " has not attached its broker link yet"));
    }
  }
  if (absl::Status s = policy_.MayOpen(a.info.name(), b.info.name()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPortLimits(a, b); !s.ok()) return s;
  absl::StatusOr<v1::Geometry> geometry = policy_.Grant(r.geometry());
  if (!geometry.ok()) return geometry.status();

  v1::OpenPortResponse response;
  *response.mutable_geometry() = *geometry;
  *response.mutable_peer() = b.info;
  if (r.dry_run()) return response;

  absl::StatusOr<std::pair<UnixChannel, UnixChannel>> pair =
      UnixChannel::Pair();
  if (!pair.ok()) return pair.status();
  PortRecord* port =
      registry_.AddPort(a.info.id(), b.info.id(), *geometry, NowMs());
  const uint64_t port_id = port->info.id();

  // The opener's end waits in its OpenPort call only if the process asked
  // itself; a port an operator opened (admin token) is one both ends take
  // with AcceptPort.
  const bool asked_by_a =
      !r.session_token().empty() && SecretsEqual(r.session_token(), a.token);
  if (absl::Status s = DeliverPort(port->info, a, b, asked_by_a, *pair);
      !s.ok()) {
    return s;
  }
  ++ports_opened_total_;
  response.set_port_id(port_id);
  Log(LogLevel::kInfo, "port_opened",
      {{"port", port_id},
       {"from", a.info.id()},
       {"to", b.info.id()},
       {"chunk_size", geometry->chunk_size()},
       {"chunk_count", geometry->chunk_count()},
       {"max_segments", geometry->max_segments()}});
  Publish(v1::Event::PORT_OPENED, nullptr, &port->info, "");
  return response;
}

absl::Status Switchboard::DeliverPort(
    const v1::PortInfo& port, const ProcessRecord& a, const ProcessRecord& b,
    bool asked_by_a, const std::pair<UnixChannel, UnixChannel>& pair) {
  const uint64_t port_id = port.id();
  v1::BrokerFrame to_a;
  to_a.mutable_port_opened()->set_port_id(port_id);
  *to_a.mutable_port_opened()->mutable_peer() =
      IdentityOf(b, a, pid_namespace_);
  *to_a.mutable_port_opened()->mutable_geometry() = port.geometry();
  to_a.mutable_port_opened()->set_max_bytes_per_direction(
      GrantedBytesPerDirection(port.geometry()));
  to_a.mutable_port_opened()->set_initiator(asked_by_a);
  v1::BrokerFrame to_b = to_a;
  *to_b.mutable_port_opened()->mutable_peer() =
      IdentityOf(a, b, pid_namespace_);
  to_b.mutable_port_opened()->set_initiator(false);

  // Both ends leave the daemon in these two sends; the socketpair closes
  // here either way (the daemon never keeps a port's fds).
  absl::Status sent_a = broker_->Send(a.info.id(), to_a, pair.first.fd());
  absl::Status sent_b = sent_a.ok()
                            ? broker_->Send(b.info.id(), to_b, pair.second.fd())
                            : absl::OkStatus();
  if (!sent_a.ok() || !sent_b.ok()) {
    const ProcessRecord& failed = sent_a.ok() ? b : a;
    const absl::Status& why = sent_a.ok() ? sent_b : sent_a;
    if (sent_a.ok()) {
      // `a` already holds its end: tell it the port is void.
      v1::BrokerFrame closed;
      closed.mutable_port_closed()->set_port_id(port_id);
      closed.mutable_port_closed()->set_reason(
          absl::StrCat("could not deliver the port to ", Describe(failed)));
      (void)broker_->Send(a.info.id(), closed);
    }
    registry_.RemovePort(port_id);
    Log(LogLevel::kWarning, "port_open_failed",
        {{"port", port_id},
         {"from", a.info.id()},
         {"to", b.info.id()},
         {"error", why.message()}});
    return absl::UnavailableError(
        absl::StrCat("could not hand the port to process ", Describe(failed),
                     ": ", why.message()));
  }
  return absl::OkStatus();
}

absl::Status Switchboard::CheckPortLimits(const ProcessRecord& a,
                                          const ProcessRecord& b) {
  for (const ProcessRecord* p : {&a, &b}) {
    if (p->ports.size() >= limits_.max_ports_per_process()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("process ", Describe(*p), " has ", p->ports.size(),
                       " ports, its limit (limits.max_ports_per_process)"));
    }
  }
  if (b.incoming_ports >= limits_.max_incoming_ports_per_process()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("process ", Describe(b), " has ", b.incoming_ports,
                     " ports opened to it by others, its limit "
                     "(limits.max_incoming_ports_per_process)"));
  }
  if (const uint32_t shared = registry_.PortsBetween(a.info.id(), b.info.id());
      shared >= limits_.max_ports_per_pair()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "processes ", Describe(a), " and ", Describe(b), " share ", shared,
        " ports, the limit for one pair (limits.max_ports_per_pair)"));
  }
  if (registry_.ports().size() >= limits_.max_ports()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the daemon holds ", registry_.ports().size(),
                     " ports, its limit (limits.max_ports)"));
  }
  return absl::OkStatus();
}

absl::Status Switchboard::ClosePort(const v1::ClosePortRequest& r,
                                    const Caller& c) {
  if (r.port_id() == 0) {
    return absl::InvalidArgumentError("port_id is 0; port ids start at 1");
  }
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  PortRecord* port = registry_.FindPort(r.port_id());
  if (port == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no open port with id ", r.port_id()));
  }
  std::string closer =
      c.client.empty()
          ? std::string("operator (admin token)")
          : absl::StrCat("operator (admin token, client ", c.client, ")");
  if (!c.admin || !r.session_token().empty()) {
    const ProcessRecord* a = registry_.FindProcess(port->info.a().process_id());
    const ProcessRecord* b = registry_.FindProcess(port->info.b().process_id());
    const ProcessRecord* owner = nullptr;
    for (const ProcessRecord* p : {a, b}) {
      if (p != nullptr && !r.session_token().empty() &&
          SecretsEqual(r.session_token(), p->token)) {
        owner = p;
      }
    }
    if (owner == nullptr && !c.admin) {
      return absl::PermissionDeniedError(
          absl::StrCat("ClosePort of port ", r.port_id(),
                       " needs the session_token of one of its ends ('",
                       port->info.a().name(), "' or '", port->info.b().name(),
                       "') or the admin token"));
    }
    if (owner != nullptr) closer = Describe(*owner);
  }
  PortRecord closed = std::move(*registry_.RemovePort(r.port_id()));
  NotifyPortClosed(
      closed, absl::StrCat("port ", r.port_id(), " closed by ", closer), 0);
  return absl::OkStatus();
}

template <typename CopyBatch>
void Switchboard::FillPage(CopyBatch copy_batch) {
  for (bool more = true; more;) {
    MutexLock lock(&mu_);
    more = copy_batch();
  }
}

void Switchboard::PageProcesses(
    ListPage& page, google::protobuf::RepeatedPtrField<v1::ProcessInfo>* out) {
  FillPage([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const auto& processes = registry_.processes();
    return page.CopyBatch(
        processes.upper_bound(page.after()), processes.end(),
        [](auto it) { return &it->second.info; }, out);
  });
}

void Switchboard::PagePorts(
    ListPage& page, uint64_t process_id,
    google::protobuf::RepeatedPtrField<v1::PortInfo>* out) {
  FillPage([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::map<uint64_t, PortRecord>* ports = &registry_.ports();
    if (process_id == 0) {
      return page.CopyBatch(
          ports->upper_bound(page.after()), ports->end(),
          [](auto it) { return &it->second.info; }, out);
    }
    const ProcessRecord* p = registry_.FindProcess(process_id);
    if (p == nullptr) return false;  // it ended meanwhile, and its ports
    return page.CopyBatch(
        p->ports.upper_bound(page.after()), p->ports.end(),
        [ports](auto it) -> const v1::PortInfo* {
          auto port = ports->find(*it);
          return port == ports->end() ? nullptr : &port->second.info;
        },
        out);
  });
}

absl::StatusOr<v1::ListProcessesResponse> Switchboard::ListProcesses(
    const v1::ListProcessesRequest& r) {
  absl::StatusOr<ListPage> page =
      ListPage::Start(r.page_size(), r.page_token(), list_page_bytes_);
  if (!page.ok()) return page.status();
  v1::ListProcessesResponse response;
  PageProcesses(*page, response.mutable_processes());
  response.set_next_page_token(page->NextToken());
  return response;
}

absl::StatusOr<v1::ListPortsResponse> Switchboard::ListPorts(
    const v1::ListPortsRequest& r) {
  absl::StatusOr<ListPage> page =
      ListPage::Start(r.page_size(), r.page_token(), list_page_bytes_);
  if (!page.ok()) return page.status();
  if (r.process_id() != 0) {
    MutexLock lock(&mu_);
    if (registry_.FindProcess(r.process_id()) == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no live process with id ", r.process_id()));
    }
  }
  v1::ListPortsResponse response;
  PagePorts(*page, r.process_id(), response.mutable_ports());
  response.set_next_page_token(page->NextToken());
  return response;
}

void Switchboard::FillDaemonStats(v1::DaemonStats* d) {
  // Outside the lock: reading /proc is slow-ish and needs no registry.
  d->set_rss_bytes(ResidentBytes());
  d->set_open_fds(OpenFdCount());
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  d->set_processes(registry_.processes().size());
  d->set_ports(registry_.ports().size());
  d->set_registrations_total(registrations_total_);
  d->set_ports_opened_total(ports_opened_total_);
  d->set_registrations_expired(registrations_expired_);
  d->set_attach_refused(attach_refused_);
  d->set_events_dropped(bus_.watchers_dropped());
  // Streams open, including dropped ones their clients have not ended.
  d->set_watchers(watcher_slots_.size());
  *d->mutable_closed_ports() = registry_.closed_ports();
}

absl::StatusOr<v1::GetStatsResponse> Switchboard::GetStats(
    const v1::GetStatsRequest& r) {
  absl::StatusOr<ListPage> page =
      ListPage::Start(r.page_size(), r.page_token(), list_page_bytes_);
  if (!page.ok()) return page.status();
  v1::GetStatsResponse response;
  FillDaemonStats(response.mutable_daemon());
  PagePorts(*page, 0, response.mutable_ports());
  response.set_next_page_token(page->NextToken());
  return response;
}

v1::ListProcessesResponse Switchboard::AllProcesses() {
  ListPage page = ListPage::Everything();
  v1::ListProcessesResponse response;
  PageProcesses(page, response.mutable_processes());
  return response;
}

v1::GetStatsResponse Switchboard::AllStats() {
  ListPage page = ListPage::Everything();
  v1::GetStatsResponse response;
  FillDaemonStats(response.mutable_daemon());
  PagePorts(page, 0, response.mutable_ports());
  return response;
}

void Switchboard::FillStatus(v1::GetStatusResponse* status) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  status->set_processes(registry_.processes().size());
  status->set_ports(registry_.ports().size());
  status->set_broker_address(broker_->address());
}

absl::Status Switchboard::Watch(EventWatcher* watcher,
                                const v1::WatchEventsRequest& r,
                                const Caller& c) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  if (shutting_down_) {
    return absl::UnavailableError("the daemon is shutting down");
  }
  absl::StatusOr<int64_t> slot = TakeWatcherSlot(r, c);
  if (!slot.ok()) return slot.status();
  if (r.include_existing() && !OfferExisting(watcher)) {
    ReleaseWatcherSlot(*slot);
    return absl::ResourceExhaustedError(
        "the include_existing snapshot does not fit the watcher's queue "
        "(watcher_queue_bytes)");
  }
  if (!bus_.Subscribe(watcher)) {
    ReleaseWatcherSlot(*slot);
    return absl::UnavailableError("the daemon is shutting down");
  }
  watcher_slots_[watcher] = *slot;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Switchboard::TakeWatcherSlot(
    const v1::WatchEventsRequest& r, const Caller& c) {
  if (c.admin) return kUncountedWatcher;
  int64_t slot = kAnonymousWatcher;
  std::string who = "anonymous watchers (no process_id and session_token)";
  if (r.process_id() != 0) {
    const ProcessRecord* p = registry_.FindProcess(r.process_id());
    if (p == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("process_id: no live process with id ", r.process_id()));
    }
    if (absl::Status s = Authorize(*p, r.session_token(), c, "WatchEvents");
        !s.ok()) {
      return s;
    }
    if (p->info.state() != v1::PROCESS_STATE_ATTACHED) {
      return absl::FailedPreconditionError(absl::StrCat(
          "process ", Describe(*p), " has not attached its broker link yet"));
    }
    slot = p->info.uid();
    who = absl::StrCat("uid ", p->info.uid());
  }
  if (counted_watchers_ >= limits_.max_watchers()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the daemon serves ", counted_watchers_,
                     " watchers, its limit (limits.max_watchers)"));
  }
  uint32_t& held = watchers_per_uid_[slot];
  if (held >= limits_.max_watchers_per_uid()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(who, " hold ", held,
                     " watchers, the limit (limits.max_watchers_per_uid)"));
  }
  ++held;
  ++counted_watchers_;
  return slot;
}

void Switchboard::ReleaseWatcherSlot(int64_t slot) {
  if (slot == kUncountedWatcher) return;
  auto it = watchers_per_uid_.find(slot);
  if (it != watchers_per_uid_.end() && --it->second == 0) {
    watchers_per_uid_.erase(it);
  }
  --counted_watchers_;
}

bool Switchboard::OfferExisting(EventWatcher* watcher) {
  // Synthetic events carry sequence 0: they describe the present, not
  // something that happened in the daemon's event order.
  auto existing = [](v1::Event::Kind kind) {
    v1::Event event;
    event.set_time_unix_ms(NowMs());
    event.set_kind(kind);
    event.set_reason("existing");
    return event;
  };
  for (const auto& [id, p] : registry_.processes()) {
    if (p.info.state() != v1::PROCESS_STATE_ATTACHED) continue;
    if (p.existing_event == nullptr) {
      v1::Event event = existing(v1::Event::PROCESS_REGISTERED);
      *event.mutable_process() = p.info;
      p.existing_event = std::make_shared<const SharedEvent>(std::move(event));
    }
    if (!watcher->Offer(p.existing_event)) return false;
  }
  for (const auto& [id, port] : registry_.ports()) {
    if (port.existing_event == nullptr) {
      v1::Event event = existing(v1::Event::PORT_OPENED);
      *event.mutable_port() = port.info;
      port.existing_event =
          std::make_shared<const SharedEvent>(std::move(event));
    }
    if (!watcher->Offer(port.existing_event)) return false;
  }
  return true;
}

void Switchboard::Unwatch(EventWatcher* watcher) {
  bus_.Unsubscribe(watcher);
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  auto it = watcher_slots_.find(watcher);
  if (it == watcher_slots_.end()) return;
  ReleaseWatcherSlot(it->second);
  watcher_slots_.erase(it);
}

void Switchboard::Shutdown() {
  {
    MutexLock lock(&mu_);
    shutting_down_ = true;
  }
  bus_.Close();
}

absl::Status Switchboard::OnAttach(const AttachRequest& request) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  const uint64_t process_id = request.process_id;
  // Every check comes before the broker installs anything, and the token
  // first: a stranger's Attach is refused without touching the rightful
  // process's registration, timer or (future) link.
  absl::StatusOr<ProcessRecord*> found = FindAttaching(request);
  if (!found.ok()) {
    CountRefusedAttach(request, found.status());
    return found.status();
  }
  ProcessRecord* p = *found;
  if (absl::Status s = Admit(*p, request.peer); !s.ok()) {
    // The registering process itself (right token, right pid) is refused:
    // it can never attach, so its registration ends now rather than at the
    // attach timeout. A refusal by FindAttaching (wrong token, wrong pid)
    // may come from a stranger and leaves the registration to its rightful
    // process. The broker sends the refusal on the connection.
    CountRefusedAttach(request, s);
    EndRegistration(process_id, absl::StrCat("attach refused: ", s.message()));
    return s;
  }
  // Installing sends the OK result, under this lock: ahead of any PortOpened.
  if (absl::Status s = broker_->InstallLink(request); !s.ok()) {
    // Admit bound the name: the registration cannot stay half attached.
    CountRefusedAttach(request, s);
    EndRegistration(process_id, absl::StrCat("attach failed: ", s.message()));
    return s;
  }
  Log(LogLevel::kInfo, "process_attached",
      {{"process", process_id},
       {"name", p->info.name()},
       {"pid", request.peer.pid},
       {"uid", request.peer.uid}});
  Publish(v1::Event::PROCESS_REGISTERED, &p->info, nullptr, "attached");
  return absl::OkStatus();
}

absl::StatusOr<ProcessRecord*> Switchboard::FindAttaching(
    const AttachRequest& request) {
  const uint64_t process_id = request.process_id;
  ProcessRecord* p = registry_.FindProcess(process_id);
  if (p == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no registration with process_id ", process_id,
                     " (it expired, ended, or never existed; register again)"));
  }
  if (!SecretsEqual(request.token, p->token)) {
    return absl::PermissionDeniedError(
        absl::StrCat("session_token does not match process ", Describe(*p)));
  }
  if (p->info.state() == v1::PROCESS_STATE_ATTACHED) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", Describe(*p), " is already attached"));
  }
  absl::StatusOr<KernelPid> kernel = MatchDeclaredPid(
      request.peer.pid, p->info.pid(), p->info.pid_namespace(), pid_namespace_);
  if (!kernel.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "process ", Describe(*p), ": ", kernel.status().message()));
  }
  // From here on the kernel's numbering: the daemon's for `pid` (what ps,
  // ports and pidfds use), the container's for namespace_pid.
  p->info.set_pid(kernel->pid);
  p->info.set_pid_namespace(kernel->pid_namespace);
  p->info.set_namespace_pid(kernel->namespace_pid);
  return p;
}

void Switchboard::CountRefusedAttach(const AttachRequest& request,
                                     const absl::Status& why) {
  ++attach_refused_;
  if (uint64_t suppressed = 0; attach_refused_log_.Allow(&suppressed)) {
    Log(LogLevel::kWarning, "attach_refused",
        {{"process", request.process_id},
         {"peer_pid", request.peer.pid},
         {"peer_uid", request.peer.uid},
         {"error", why.message()},
         {"suppressed", suppressed}});
  }
}

absl::Status Switchboard::Admit(ProcessRecord& p, const Credentials& peer) {
  if (absl::Status s = policy_.MayAttach(peer, p.info.name()); !s.ok()) {
    return s;
  }
  auto bucket = attach_rate_.find(peer.uid);
  if (bucket == attach_rate_.end()) {
    bucket =
        attach_rate_
            .emplace(peer.uid,
                     RateLimiter(limits_.registrations_per_second(),
                                 limits_.registration_burst(), absl::Now()))
            .first;
  }
  absl::Duration retry_after;
  if (!bucket->second.TryAcquire(absl::Now(), &retry_after)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "uid ", peer.uid, " reached its registration rate limit of ",
        limits_.registrations_per_second(),
        "/s (limits.registrations_per_second); retry in ",
        absl::FormatDuration(retry_after)));
  }
  if (const uint32_t held = registry_.attached_count_of_uid(peer.uid);
      held >= limits_.max_processes_per_uid()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("uid ", peer.uid, " has ", held,
                     " attached processes, its limit "
                     "(limits.max_processes_per_uid)"));
  }
  if (registry_.attached_count() >= limits_.max_processes()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the daemon holds ", registry_.attached_count(),
                     " attached processes, its limit (limits.max_processes)"));
  }
  return registry_.Attach(p.info.id(), peer.uid, peer.gid);
}

void Switchboard::OnAttachRefused(uint64_t process_id,
                                  absl::string_view reason) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  ++attach_refused_;
  if (uint64_t suppressed = 0; attach_refused_log_.Allow(&suppressed)) {
    Log(LogLevel::kWarning, "attach_refused",
        {{"process", process_id},
         {"error", reason},
         {"suppressed", suppressed}});
  }
}

void Switchboard::OnLinkClosed(uint64_t process_id, absl::string_view reason) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  EndRegistration(process_id, reason);
}

void Switchboard::OnProcessExited(uint64_t process_id) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  EndRegistration(process_id, "process exited");
}

void Switchboard::OnAttachExpired(uint64_t process_id) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  const ProcessRecord* p = registry_.FindProcess(process_id);
  if (p == nullptr || p->info.state() != v1::PROCESS_STATE_REGISTERED) return;
  ++registrations_expired_;
  EndRegistration(process_id, "attach timeout");
}

void Switchboard::OnStatsReport(uint64_t process_id,
                                const v1::StatsReport& report) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  const int64_t now = NowMs();
  for (const v1::PortStatsEntry& entry : report.ports()) {
    PortRecord* port = registry_.FindPort(entry.port_id());
    if (port == nullptr) continue;  // closed meanwhile, or a stale id
    v1::PortEnd* end = nullptr;
    if (port->info.a().process_id() == process_id) {
      end = port->info.mutable_a();
    } else if (port->info.b().process_id() == process_id) {
      end = port->info.mutable_b();
    } else {
      continue;  // a process may only report its own ends
    }
    *end->mutable_stats() = entry.stats();
    end->mutable_stats()->set_updated_at_unix_ms(now);
    port->existing_event.reset();
  }
  for (uint64_t port_id : report.closed_port_ids()) {
    PortRecord* port = registry_.FindPort(port_id);
    if (port == nullptr) continue;
    const uint64_t a = port->info.a().process_id();
    const uint64_t b = port->info.b().process_id();
    if (process_id != a && process_id != b) continue;
    // One end closed is enough: the port is dead (its socket pair says EOF
    // to the other end), and keeping it would let a process that opens and
    // closes ports fill its peer's quotas while holding no fd itself.
    const ProcessRecord* closer = registry_.FindProcess(process_id);
    const std::string reason =
        closer != nullptr ? absl::StrCat("closed by ", Describe(*closer))
                          : std::string("closed by the other end");
    PortRecord closed = std::move(*registry_.RemovePort(port_id));
    NotifyPortClosed(closed, reason, process_id);
  }
  TakeSubscriptionStats(process_id, report);
}

void Switchboard::OnPortNotTaken(uint64_t process_id,
                                 const v1::PortNotTaken& not_taken) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  PortRecord* port = registry_.FindPort(not_taken.port_id());
  const ProcessRecord* p = registry_.FindProcess(process_id);
  if (port == nullptr || p == nullptr ||
      (port->info.a().process_id() != process_id &&
       port->info.b().process_id() != process_id)) {
    return;  // closed meanwhile, or not this process's port to give up
  }
  const absl::StatusCode status_code =
      StatusCodeFromWire(not_taken.code(), absl::StatusCode::kUnavailable);
  // The reason is the client's word, passed on to another process:
  // bounded and made printable first.
  const std::string reason =
      absl::StrCat("the peer ", Describe(*p), " could not take the port: ",
                   Quote(not_taken.reason(), kMaxForwardedReason));
  PortRecord closed = std::move(*registry_.RemovePort(not_taken.port_id()));
  NotifyPortClosed(closed, reason, process_id, status_code);
}

void Switchboard::OnResumePorts(uint64_t process_id,
                                const v1::ResumePorts& resume) {
  DeferredLogs logs;  // written after mu_ is released
  MutexLock lock(&mu_);
  const ProcessRecord* p = registry_.FindProcess(process_id);
  if (p == nullptr || p->info.state() != v1::PROCESS_STATE_ATTACHED) return;
  const PortResumption::Outcome outcome = resumption_.Declare(
      process_id, p->info.pid(), resume, limits_.max_ports_per_process());
  for (const PortResumption::Match& m : outcome.matched) Resume(m);
  Log(LogLevel::kInfo, "ports_declared",
      {{"process", process_id},
       {"declared", resume.ports_size()},
       {"matched", outcome.matched.size()},
       {"waiting", outcome.waiting},
       {"refused", outcome.refused}});
}

void Switchboard::Resume(const PortResumption::Match& m) {
  const ProcessRecord* a = registry_.FindProcess(m.a);
  const ProcessRecord* b = registry_.FindProcess(m.b);
  absl::Status refused;
  if (a == nullptr || b == nullptr) return;
  // The geometry is the initiator's word: the policy grants it or not, as
  // for OpenPort.
  absl::StatusOr<v1::Geometry> geometry = policy_.Grant(m.geometry);
  if (!geometry.ok()) {
    refused = geometry.status();
  } else if (absl::Status s = CheckPortLimits(*a, *b); !s.ok()) {
    refused = s;
  } else if (registry_.FindPort(m.port_id) != nullptr) {
    refused = absl::AlreadyExistsError(
        absl::StrCat("port id ", m.port_id, " is in use by a newer port"));
  }
  PortRecord* port =
      refused.ok() ? registry_.AddPort(m.a, m.b, *geometry, NowMs(), m.port_id)
                   : nullptr;
  if (port == nullptr) {
    // The port keeps working; only the registry does not show it.
    Log(LogLevel::kWarning, "port_resume_refused",
        {{"port", m.port_id},
         {"a", m.a},
         {"b", m.b},
         {"error", refused.message()}});
    return;
  }
  Log(LogLevel::kInfo, "port_resumed",
      {{"port", m.port_id}, {"a", m.a}, {"b", m.b}});
  Publish(v1::Event::PORT_OPENED, nullptr, &port->info,
          "resumed after a daemon restart");
}

void Switchboard::EndRegistration(uint64_t process_id,
                                  absl::string_view reason) {
  resumption_.Forget(process_id);
  if (const ProcessRecord* p = registry_.FindProcess(process_id)) {
    LeaveTopics(*p, reason);
  }
  std::optional<Registry::Removed> removed =
      registry_.RemoveProcess(process_id);
  if (!removed.has_value()) {
    broker_->Release(process_id, "");
    return;
  }
  const ProcessRecord& p = removed->process;
  for (const PortRecord& port : removed->ports) {
    NotifyPortClosed(port,
                     absl::StrCat("peer ", Describe(p), " ended: ", reason),
                     process_id);
  }
  const bool attached = p.info.state() == v1::PROCESS_STATE_ATTACHED;
  if (attached) {
    Publish(v1::Event::PROCESS_EXITED, &p.info, nullptr, reason);
  }
  // Tell the process itself why, unless its link is what just went away.
  broker_->Release(process_id, attached ? reason : absl::string_view(""));
  Log(LogLevel::kInfo, "process_ended",
      {{"process", process_id},
       {"name", p.info.name()},
       {"pid", p.info.pid()},
       {"ports_closed", removed->ports.size()},
       {"reason", reason}});
}

void Switchboard::NotifyPortClosed(const PortRecord& port,
                                   absl::string_view reason, uint64_t skip,
                                   absl::StatusCode code) {
  v1::BrokerFrame frame;
  frame.mutable_port_closed()->set_port_id(port.info.id());
  frame.mutable_port_closed()->set_reason(std::string(reason));
  frame.mutable_port_closed()->set_code(static_cast<int>(code));
  for (uint64_t end :
       {port.info.a().process_id(), port.info.b().process_id()}) {
    if (end == skip) continue;
    // Best effort: a peer with a full link still learns of the close by EOF
    // on the port itself once the other end goes away. A peer that is gone
    // as well (both ends died at once) is normal, not worth a warning.
    if (absl::Status s = broker_->Send(end, frame); !s.ok()) {
      const bool full = IsWouldBlock(s);
      Log(full ? LogLevel::kWarning : LogLevel::kDebug,
          "port_closed_notice_lost",
          {{"port", port.info.id()}, {"process", end}, {"error", s.message()}});
    }
  }
  Log(LogLevel::kInfo, "port_closed",
      {{"port", port.info.id()},
       {"a", port.info.a().process_id()},
       {"b", port.info.b().process_id()},
       {"reason", reason}});
  Publish(v1::Event::PORT_CLOSED, nullptr, &port.info, reason);
}

void Switchboard::Publish(v1::Event::Kind kind, const v1::ProcessInfo* process,
                          const v1::PortInfo* port, absl::string_view reason) {
  bus_.Publish([&] {
    v1::Event event;
    event.set_kind(kind);
    if (process != nullptr) *event.mutable_process() = *process;
    if (port != nullptr) *event.mutable_port() = *port;
    event.set_reason(std::string(reason));
    return event;
  });
}

}  // namespace shmport::server
