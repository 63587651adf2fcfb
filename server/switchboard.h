// Switchboard: the daemon's core. It registers processes, connects them
// (opens ports), ends registrations, and keeps the registry, the broker
// links and the event stream consistent with each other.
#ifndef SHMPORT_SERVER_SWITCHBOARD_H_
#define SHMPORT_SERVER_SWITCHBOARD_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "server/broker.h"
#include "server/config.h"
#include "server/event_bus.h"
#include "server/list_page.h"
#include "server/log_throttle.h"
#include "server/policy.h"
#include "server/port_resumption.h"
#include "server/rate_limiter.h"
#include "server/registry.h"
#include "server/topic_registry.h"
#include "shmport/v1/broker.pb.h"
#include "shmport/v1/control.pb.h"

namespace shmport::server {

// Who is calling a gRPC method: `admin` when the request carried the admin
// token, which lets it act on behalf of any process.
struct Caller {
  bool admin = false;
  // What the caller's gRPC user agent says it is ("shmportctl"): at most
  // 32 printable characters, informational only (it is not verified).
  std::string client;
};

// Model: a process Registers (state REGISTERED, its name reserved, an
// attach timer running), then attaches its broker link (state ATTACHED,
// event PROCESS_REGISTERED). OpenPort makes a socketpair, hands one end to
// each process with a PortOpened notice, closes both, and records the port.
// A registration ends by Unregister, link EOF, process exit (pidfd) or
// attach timeout: its ports are closed (PortClosed to each surviving peer,
// PORT_CLOSED events), then PROCESS_EXITED. A port also leaves the
// registry when an end could not take it (PortNotTaken: the other end gets
// PortClosed with the reason) or once both ends reported it closed. Every
// change and its events happen under one lock, so watchers see them in the
// order they happened.
//
// Topics (switchboard_topics.cc) follow the same shape: Publish and
// Subscribe record a publisher or a subscriber in topics_; each (publisher,
// subscriber) pair gets a socketpair whose ends go out over both broker
// links (SubscriptionOpened) before the call answers; a publisher that
// leaves ends its subscriptions (SubscriptionClosed to its subscribers,
// who wait for the next); a subscriber that leaves ends its own
// (SubscriptionClosed to the publisher); a registration that ends leaves
// every topic first.
//
// Thread-safety: all methods are thread-safe. Lock order: mu_ first, then
// EventBus's or Broker's (never both: see docs/architecture.md, "Locks");
// the broker calls the BrokerListener methods without its own lock. Topics
// take no lock of their own: topics_ is guarded by mu_ like the registry.
class Switchboard : public BrokerListener {
 public:
  // `config` must have its defaults filled. `daemon_uid` is the uid the
  // default policy admits.
  Switchboard(const DaemonConfig& config, uid_t daemon_uid);
  Switchboard(const Switchboard&) = delete;
  Switchboard& operator=(const Switchboard&) = delete;

  // Must be called once, before any other method; `broker` outlives this.
  void SetBroker(Broker* broker);

  // ControlPlane methods. Each returns a status whose code is the gRPC
  // code to answer with and whose message names the problem and the value.
  absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& r)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Unregister(const v1::UnregisterRequest& r, const Caller& c)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::OpenPortResponse> OpenPort(const v1::OpenPortRequest& r,
                                                const Caller& c)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ClosePort(const v1::ClosePortRequest& r, const Caller& c)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The whole-registry answers come a page at a time (ListPage): copied
  // a batch at a time, so Register, OpenPort and clean-up wait for one
  // batch, never for the whole registry. INVALID_ARGUMENT for a page_token
  // this daemon did not give.
  absl::StatusOr<v1::ListProcessesResponse> ListProcesses(
      const v1::ListProcessesRequest& r) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::ListPortsResponse> ListPorts(const v1::ListPortsRequest& r)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::GetStatsResponse> GetStats(const v1::GetStatsRequest& r)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every process / every port in one answer, for the daemon's own
  // readers (the metrics endpoint), which no message limit bounds.
  v1::ListProcessesResponse AllProcesses() ABSL_LOCKS_EXCLUDED(mu_);
  v1::GetStatsResponse AllStats() ABSL_LOCKS_EXCLUDED(mu_);
  // Fills the counts of `status`.
  void FillStatus(v1::GetStatusResponse* status) ABSL_LOCKS_EXCLUDED(mu_);

  // Topics (switchboard_topics.cc). The caller acts as r.process with its
  // session_token (or with the admin token). Errors: INVALID_ARGUMENT (a
  // bad topic name), NOT_FOUND / PERMISSION_DENIED (process, token, or
  // policy.topic_rules naming the rule), FAILED_PRECONDITION (not
  // attached), ALREADY_EXISTS (the topic has a publisher, named),
  // RESOURCE_EXHAUSTED naming the limit, UNAVAILABLE (shutting down).
  absl::StatusOr<v1::PublishResponse> PublishTopic(const v1::PublishRequest& r,
                                                   const Caller& c)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status UnpublishTopic(const v1::UnpublishRequest& r, const Caller& c)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::SubscribeResponse> SubscribeTopic(
      const v1::SubscribeRequest& r, const Caller& c) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status UnsubscribeTopic(const v1::UnsubscribeRequest& r,
                                const Caller& c) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::ListTopicsResponse> ListTopics(
      const v1::ListTopicsRequest& r) ABSL_LOCKS_EXCLUDED(mu_);

  // Subscribes `watcher` as `r` asks; with include_existing, first offers
  // the live processes and ports as synthetic events (sequence 0, shared
  // between watchers), atomically with the subscription so that nothing is
  // missed or seen twice. Errors: RESOURCE_EXHAUSTED for a watcher beyond
  // limits.max_watchers or max_watchers_per_uid (operators, with the admin
  // token, are not counted) or whose snapshot it refused (it has ended its
  // stream itself), PERMISSION_DENIED / NOT_FOUND for a process_id whose
  // session_token does not match, UNAVAILABLE when shutting down.
  absl::Status Watch(EventWatcher* watcher, const v1::WatchEventsRequest& r,
                     const Caller& c) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends a subscription Watch made and frees its slot.
  void Unwatch(EventWatcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  // Refuses new registrations and ports (UNAVAILABLE) and ends every
  // watcher's stream with OK.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // BrokerListener (called on the broker thread).
  absl::Status OnAttach(const AttachRequest& request) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnAttachRefused(uint64_t process_id, absl::string_view reason) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnLinkClosed(uint64_t process_id, absl::string_view reason) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnProcessExited(uint64_t process_id) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnAttachExpired(uint64_t process_id) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnStatsReport(uint64_t process_id,
                     const v1::StatsReport& report) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnPortNotTaken(uint64_t process_id,
                      const v1::PortNotTaken& not_taken) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnResumePorts(uint64_t process_id,
                     const v1::ResumePorts& resume) override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Resolves a ProcessRef; `field` names it in messages.
  absl::StatusOr<ProcessRecord*> Resolve(const v1::ProcessRef& ref,
                                         absl::string_view field)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK when `token` is `process`'s, or the caller is admin.
  absl::Status Authorize(const ProcessRecord& process, absl::string_view token,
                         const Caller& caller, absl::string_view action)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands each end of `pair` to its process (PortOpened). When either send
  // fails, forgets the port, tells `a` if it already holds its end, and
  // returns UNAVAILABLE naming the process that could not take it.
  absl::Status DeliverPort(const v1::PortInfo& port, const ProcessRecord& a,
                           const ProcessRecord& b, bool asked_by_a,
                           const std::pair<UnixChannel, UnixChannel>& pair)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RESOURCE_EXHAUSTED naming the limit when a port from `a` to `b` would
  // exceed one (per process, incoming, per pair, daemon-wide).
  absl::Status CheckPortLimits(const ProcessRecord& a, const ProcessRecord& b)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The registration `request` names, when its token, state and pid allow
  // the attach: NOT_FOUND, PERMISSION_DENIED or FAILED_PRECONDITION
  // otherwise. A refused request touches nothing, since a stranger may have
  // sent it; an admitted one records the kernel's numbering of the pid.
  absl::StatusOr<ProcessRecord*> FindAttaching(const AttachRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts a refused Attach (attach_refused) and logs it, throttled.
  void CountRefusedAttach(const AttachRequest& request, const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The checks an attach by the registering process itself must pass
  // (policy, the uid's rate and process budget, the daemon's cap, the
  // name), in that order; binds the name and marks `p` ATTACHED when all
  // pass.
  absl::Status Admit(ProcessRecord& p, const Credentials& peer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the oldest unattached registrations while there are more than
  // limits.max_unattached_registrations.
  void EvictUnattachedBeyondLimit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the process and its ports, notifies peers and watchers, and
  // releases its broker resources. `reason` goes into events and logs.
  void EndRegistration(uint64_t process_id, absl::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets a port, tells its ends (those not in `skip`) with
  // PortClosed{reason, code}, and emits PORT_CLOSED.
  void NotifyPortClosed(const PortRecord& port, absl::string_view reason,
                        uint64_t skip,
                        absl::StatusCode code = absl::StatusCode::kOk)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A watcher's place in the budgets: its uid, kAnonymousWatcher, or
  // kUncountedWatcher (an operator).
  static constexpr int64_t kAnonymousWatcher = -1;
  static constexpr int64_t kUncountedWatcher = -2;
  absl::StatusOr<int64_t> TakeWatcherSlot(const v1::WatchEventsRequest& r,
                                          const Caller& c)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseWatcherSlot(int64_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Offers the include_existing snapshot; false when the watcher refused.
  bool OfferExisting(EventWatcher* watcher) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a port both ends re-declared (PortResumption::Match).
  void Resume(const PortResumption::Match& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills `page` by calling `copy_batch` under mu_ until it returns
  // false, releasing the lock between calls.
  template <typename CopyBatch>
  void FillPage(CopyBatch copy_batch) ABSL_LOCKS_EXCLUDED(mu_);
  // A page of the processes / of the ports (of `process_id`, 0: all) into
  // `out`; its next_page_token is page.NextToken().
  void PageProcesses(ListPage& page,
                     google::protobuf::RepeatedPtrField<v1::ProcessInfo>* out)
      ABSL_LOCKS_EXCLUDED(mu_);
  void PagePorts(ListPage& page, uint64_t process_id,
                 google::protobuf::RepeatedPtrField<v1::PortInfo>* out)
      ABSL_LOCKS_EXCLUDED(mu_);
  // GetStats' counters.
  void FillDaemonStats(v1::DaemonStats* d) ABSL_LOCKS_EXCLUDED(mu_);
  void Publish(v1::Event::Kind kind, const v1::ProcessInfo* process,
               const v1::PortInfo* port, absl::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Topics (switchboard_topics.cc).
  // The attached process `ref` names, when the caller may act as it.
  absl::StatusOr<ProcessRecord*> TopicActor(const v1::ProcessRef& ref,
                                            absl::string_view token,
                                            const Caller& caller,
                                            absl::string_view action)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RESOURCE_EXHAUSTED naming the limit when `p` may not add a publisher
  // (`publisher`) or a subscriber to `topic` with `history`.
  absl::Status CheckTopicLimits(const ProcessRecord& p, absl::string_view topic,
                                bool publisher, uint32_t history)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pairs subscriber `subscriber_id` with its topic's publisher, if it has
  // one: a socketpair, one end to each over the broker links. A failed
  // hand-over leaves the subscriber waiting (and logs why).
  void PairSubscriber(uint64_t subscriber_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a publication / a subscriber: SubscriptionClosed{reason} to the
  // other ends (not to process `skip`), and the TOPIC_*_LEFT event.
  void EndPublication(uint64_t publication_id, absl::string_view reason,
                      uint64_t skip) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndSubscriber(uint64_t subscriber_id, absl::string_view reason,
                     uint64_t skip) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A process whose registration ends leaves every topic.
  void LeaveTopics(const ProcessRecord& p, absl::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // StatsReport.subscriptions from `process_id` (its publications' only).
  void TakeSubscriptionStats(uint64_t process_id, const v1::StatsReport& report)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendSubscriptionClosed(uint64_t process_id, uint64_t subscription_id,
                              absl::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishTopicEvent(v1::Event::Kind kind, absl::string_view topic,
                         const v1::TopicPublisher* publisher,
                         const v1::TopicSubscriber* subscriber,
                         absl::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Policy policy_;
  // The inode of the daemon's own pid namespace (0: /proc does not say):
  // registrations declared in another are containers (MatchDeclaredPid).
  const uint64_t pid_namespace_;
  const absl::Duration attach_timeout_;
  const config::v1::Limits limits_;
  const uint64_t list_page_bytes_;
  Broker* broker_ = nullptr;  // set once by SetBroker
  EventBus bus_;              // thread-safe on its own

  // Guards everything below. Lock order (docs/architecture.md, "Locks"):
  // the first lock of the daemon; taken before EventBus::mu_, Broker::mu_
  // and a watcher's lock (the include_existing snapshot), never after any.
  Mutex mu_;
  Registry registry_ ABSL_GUARDED_BY(mu_);
  // Ports re-declared after a daemon restart, waiting for their other end.
  PortResumption resumption_ ABSL_GUARDED_BY(mu_);
  // Topics, their publishers, subscribers and subscriptions.
  TopicRegistry topics_ ABSL_GUARDED_BY(mu_);
  // Attaches per uid (limits.registrations_per_second): Register cannot
  // tell who calls, the broker link's SO_PEERCRED can.
  absl::flat_hash_map<uid_t, RateLimiter> attach_rate_ ABSL_GUARDED_BY(mu_);
  // Watch slots taken, by watcher, and how many each budget holds.
  absl::flat_hash_map<EventWatcher*, int64_t> watcher_slots_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, uint32_t> watchers_per_uid_ ABSL_GUARDED_BY(mu_);
  uint32_t counted_watchers_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t registrations_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ports_opened_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t registrations_expired_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t attach_refused_ ABSL_GUARDED_BY(mu_) = 0;
  // A stranger may send bogus Attaches.
  LogThrottle attach_refused_log_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_SWITCHBOARD_H_
