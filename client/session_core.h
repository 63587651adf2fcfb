// SessionCore: what stands behind a shmport::Session (include/shmport/
// session.h): the gRPC control-plane client, the broker link and its
// thread, and the table of ports the daemon handed over. Internal to
// libshmport; its header pulls in gRPC and the generated protos, which the
// public headers never do. Code inside the library and its tests reach it
// with Session::core() for what the public API does not offer (the gRPC
// stub, event streams, the policy's limits).
#ifndef SHMPORT_CLIENT_SESSION_CORE_H_
#define SHMPORT_CLIENT_SESSION_CORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/broker_link.h"
#include "client/topic_endpoint.h"
#include "client/topic_requests.h"
#include "common/mutex.h"
#include "common/paths/daemon_identity.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
#include "shmport/port.h"
#include "shmport/port_stats.h"
#include "shmport/session.h"
#include "shmport/unique_fd.h"
#include "shmport/v1/broker.pb.h"
#include "shmport/v1/control.grpc.pb.h"

namespace shmport {

namespace internal {

class PortCore;

// A WatchEvents stream. Thread-safety: Next from one thread at a time;
// Cancel from any thread, at any time.
class EventWatch {
 public:
  ~EventWatch();
  EventWatch(const EventWatch&) = delete;
  EventWatch& operator=(const EventWatch&) = delete;

  // Blocks for the next event. nullopt when the daemon ended the stream
  // cleanly (it is shutting down). Errors: RESOURCE_EXHAUSTED (this
  // watcher fell too far behind and was dropped), UNAVAILABLE (daemon
  // gone), CANCELLED (after Cancel).
  absl::StatusOr<std::optional<v1::Event>> Next();

  // Ends the stream; a blocked Next returns CANCELLED.
  void Cancel();

 private:
  friend class SessionCore;
  EventWatch() = default;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader_;
  bool ended_ = false;
};

// A registered process. Connect registers with the daemon and attaches the
// broker link; a background thread (the link thread) then owns the link:
// it takes in ports as the daemon hands them over, sends this end's HELLO
// at once (so that an opener never waits for this process to call
// AcceptPort), pushes port statistics every stats_interval, closes a port
// the daemon closed (ClosePort is authoritative), and notices when the
// daemon goes away.
//
// Daemon loss: calls fail with UNAVAILABLE; ports already open keep working
// (the data plane does not need the daemon). With options.reconnect the
// link thread registers again under the same name as soon as a daemon
// answers (backing off from reconnect_backoff_min to _max, with jitter) and
// declares the ports still open (ResumePorts), so that the new daemon's
// registry and stats are whole again; Reconnect() does the same at once.
//
// Ports: one table, `ports_`, with a state per port (PortState below):
//
//   notice, opened by us ──▶ kOffered ──OpenPort──▶ kOpening ──▶ kLive
//   notice, opened to us ──▶ kIncoming ──AcceptPort──────────────▶ kLive
//   HELLO failed / the daemon closed it before it was ready ──▶ kFailed
//   kLive ──the Port closed (stats push) or the daemon closed it──▶ gone
//
// Thread-safety: every method may be called from any thread, concurrently.
// One lock, mu_; callbacks run on the link thread without it. Ports
// returned are independent objects with their own rules (port.h) and may
// outlive the Session.
class SessionCore {
 public:
  // Registers `options.name` and attaches the broker link. Errors:
  // UNAVAILABLE (no daemon at the address), PERMISSION_DENIED naming the
  // owner uid when the daemon's files or sockets belong to a uid other than
  // options.expected_daemon_uid's (nothing is sent to it), and the daemon's
  // refusals with their messages: INVALID_ARGUMENT (bad name or labels),
  // ALREADY_EXISTS (name taken), PERMISSION_DENIED (policy),
  // RESOURCE_EXHAUSTED (limits).
  static absl::StatusOr<std::unique_ptr<SessionCore>> Connect(
      const SessionOptions& options);

  // Closes the broker link (which ends the registration) and stops the
  // link thread. Ports stay open.
  ~SessionCore();
  SessionCore(const SessionCore&) = delete;
  SessionCore& operator=(const SessionCore&) = delete;

  // As Session::OpenPort (include/shmport/session.h).
  absl::StatusOr<std::unique_ptr<Port>> OpenPort(
      absl::string_view name_or_id, const OpenPortOptions& options = {});
  // As Session::AcceptPort.
  absl::StatusOr<std::unique_ptr<Port>> AcceptPort(absl::Duration timeout);

  // Streams the daemon's events (include_existing: the current processes
  // and ports first). The stream is independent of this session's state.
  absl::StatusOr<std::unique_ptr<EventWatch>> Watch(
      bool include_existing = false);

  // Registers again, under the same name and labels, with the daemon now
  // at the address (after a restart), attaches a new broker link and
  // declares the ports still open. OK at once when the session is healthy
  // (the link thread reconnected already). Errors as for Connect.
  absl::Status Reconnect();

  // Ends the registration now (the daemon closes this process's ports in
  // its registry and tells the peers). Later calls fail with
  // FAILED_PRECONDITION. Idempotent.
  absl::Status Unregister();

  // --- Topics (client/session_topics_core.cc) ---
  //
  // Makes this process the publisher of `topic` (1..128 characters from
  // [A-Za-z0-9._/-]). From then on `endpoint` hears, on the link thread,
  // OnSubscriptionOpened once per subscriber (the daemon pairs every
  // subscriber, present and future, with this publisher) and
  // OnSubscriptionClosed when one leaves or dies; its Stats() go to the
  // daemon with every stats push. After a reconnection the publication is
  // made again at the new daemon (the old subscriptions are closed first
  // with UNAVAILABLE). The grant's publication_id is this session's
  // handle, stable across reconnections. Errors: the daemon's
  // (ALREADY_EXISTS naming the topic's publisher, PERMISSION_DENIED naming
  // the policy rule, RESOURCE_EXHAUSTED naming the limit,
  // INVALID_ARGUMENT for a bad name), UNAVAILABLE, FAILED_PRECONDITION
  // after Unregister.
  absl::StatusOr<PublicationGrant> Publish(
      absl::string_view topic, const PublicationRequest& request,
      std::shared_ptr<TopicEndpoint> endpoint);
  // Ends publication `publication_id` (a Publish handle): the daemon closes
  // its subscriptions and tells the subscribers. `endpoint` hears nothing
  // more. NOT_FOUND for an unknown handle.
  absl::Status Unpublish(uint64_t publication_id);
  // Subscribes to `topic`, which need not have a publisher yet: `endpoint`
  // hears OnSubscriptionOpened for each publisher the topic gets (one at a
  // time) and OnSubscriptionClosed when it leaves. Returns this session's
  // handle for the subscriber (stable across reconnections). Errors as
  // Publish's, without ALREADY_EXISTS.
  absl::StatusOr<uint64_t> Subscribe(absl::string_view topic,
                                     const SubscriptionRequest& request,
                                     std::shared_ptr<TopicEndpoint> endpoint);
  // Ends subscriber `subscriber_id` (a Subscribe handle) and its
  // subscription. NOT_FOUND for an unknown handle.
  absl::Status Unsubscribe(uint64_t subscriber_id);

  // The daemon's id for this process (changes on reconnection).
  uint64_t process_id() const;
  const std::string& name() const { return options_.name; }
  const std::string& address() const { return address_; }
  // What the daemon's policy allows this process.
  v1::ProcessLimits limits() const;
  // OK while the daemon is reachable; else why not.
  absl::Status health() const;
  // The stub, for calls the Session does not wrap (ListProcesses, ...).
  // Thread-safe; a reconnection replaces it, so fetch it again after one.
  std::shared_ptr<v1::ControlPlane::Stub> stub() const;

 private:
  // A port the daemon handed over whose owner has not taken it yet.
  struct PendingPort {
    uint64_t port_id = 0;
    UniqueFd fd;
    PeerIdentity peer;
    PortOptions options;  // as sent in this end's HELLO
  };
  enum class PortState { kOffered, kIncoming, kOpening, kFailed, kLive };
  struct PortEntry {
    PortState state = PortState::kOffered;
    bool initiator = false;            // this end asked for it (PortInfo.a)
    PeerIdentity peer;                 // kernel-checked
    v1::Geometry geometry;             // as granted
    PendingPort pending;               // kOffered, kIncoming
    absl::Status failure;              // kFailed: why
    bool failure_from_daemon = false;  // kFailed: the daemon's PortClosed
    std::weak_ptr<PortCore> core;      // kLive: to close it
    std::weak_ptr<const PortStatsSource> stats;  // kLive: for StatsReport
  };
  // One Publish or Subscribe of this session, by its handle.
  struct TopicEntry {
    bool publisher = false;
    std::string topic;
    PublicationRequest publication;    // publisher
    SubscriptionRequest subscription;  // subscriber
    std::shared_ptr<TopicEndpoint> endpoint;
    // The current daemon's publication_id / subscriber_id (0: none, e.g.
    // after a reconnection whose Publish failed).
    uint64_t daemon_id = 0;
    // Subscriptions handed to the endpoint and not closed since.
    absl::flat_hash_set<uint64_t> open;
  };
  // A notice for an endpoint, for the link thread to deliver.
  struct TopicDelivery {
    std::shared_ptr<TopicEndpoint> endpoint;
    BrokerNotice notice;  // subscription_opened or subscription_closed
  };
  // What Register + Attach yield.
  struct Registration {
    std::shared_ptr<v1::ControlPlane::Stub> stub;
    v1::RegisterResponse response;
    BrokerLink link;
  };

  explicit SessionCore(SessionOptions options, std::string address);

  // Register + attach, touching nothing of this object's state.
  absl::StatusOr<Registration> Register() const;
  // Installs `r` (ports_ kept) and starts the link thread, which first
  // declares the surviving ports when `resumed`. Requires that no link
  // thread runs.
  absl::Status Establish(Registration r, bool resumed);
  absl::Status StartLinkThread(bool resumed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a reconnection, on the link thread: declares the ports still
  // open and calls on_reconnected.
  void Resumed();
  // Stops the link thread; unless `keep_link`, closes the link (which ends
  // the registration) and drops the ports nobody claimed.
  void StopLinkThread(bool keep_link = false);
  void LinkLoop();
  // Serves the link until it fails (false) or StopLinkThread (true).
  bool ServeLink();
  // After a loss: registers again, backing off, until it works (true) or
  // StopLinkThread (false).
  bool ReconnectInBackground();
  // Takes `r` in on the link thread: new stub, id, token, link.
  void Reinstall(Registration r);
  void TakeRegistration(Registration& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells the new daemon on `link` which ports are still open.
  void DeclareSurvivingPorts(BrokerLink& link);
  // Handles one frame from the daemon (link thread).
  void OnNotice(BrokerNotice notice);
  void OnPortOpened(BrokerNotice notice);
  void OnPortClosed(const v1::PortClosed& closed);
  void PushStats();
  // Topics (session_topics_core.cc). A Subscription notice for the
  // endpoint it belongs to is queued for delivery; one whose registration
  // is not known yet waits while a Publish/Subscribe call is in flight
  // (its answer may trail the notice), and is dropped otherwise.
  void OnTopicNotice(BrokerNotice notice);
  void RouteTopicNotice(BrokerNotice notice) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls the endpoints with what is queued (link thread, without mu_).
  void DeliverTopicNotices();
  // Wakes the link thread to deliver what is queued.
  void WakeForTopics() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The publishers' per-subscription counters, into `report`.
  void AddTopicStats(v1::StatsReport* report);
  // Publish or Subscribe `entry` at the daemon; its daemon id.
  absl::StatusOr<uint64_t> RegisterTopic(const TopicEntry& entry,
                                         PublicationGrant* grant);
  // Installs `entry` under `handle` with `daemon_id` and takes the notices
  // that came ahead of the answer.
  void InstallTopic(uint64_t handle, uint64_t daemon_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends one topic call: the early notices go once no call is in flight.
  void EndTopicCall() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a reconnection: closes every subscription the old daemon made
  // and publishes and subscribes again at the new one.
  void RestoreTopics();
  absl::Status EndTopic(uint64_t handle, bool publisher);
  absl::StatusOr<std::unique_ptr<Port>> Adopt(PendingPort pending,
                                              PortEntry shape);
  // Waits for port `port_id`'s notice (kOffered or kFailed).
  absl::Status AwaitNotice(MutexLock& lock, uint64_t port_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OpenPort's port `port_id` failed locally with `local` before it was
  // ready. Makes sure the daemon forgets the port, and returns the best
  // reason: the daemon's (e.g. the peer could not take the port) when one
  // arrives, else `local`.
  absl::Status SettleFailedOpen(uint64_t port_id, absl::Status local);
  // The daemon's PortClosed for a kFailed port, or nullptr.
  const PortEntry* DaemonWord(uint64_t port_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WaitForDaemonWord(MutexLock& lock, uint64_t port_id,
                         absl::Duration bound)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ClosePort(port_id) with this session's token; the gRPC status.
  absl::Status ClosePortAtDaemon(uint64_t port_id);
  std::unique_ptr<grpc::ClientContext> NewContext() const;
  absl::Status CheckUsable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks the daemon lost (once per loss) and says so.
  void LoseDaemon(absl::string_view why);

  const SessionOptions options_;
  const std::string address_;

  mutable Mutex mu_;
  CondVar changed_;  // a port arrived or changed state, or the link ended
  std::shared_ptr<v1::ControlPlane::Stub> stub_ ABSL_GUARDED_BY(mu_);
  uint64_t process_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::string token_ ABSL_GUARDED_BY(mu_);
  v1::ProcessLimits limits_ ABSL_GUARDED_BY(mu_);
  // Used only by the link thread while it runs; by Establish and
  // StopLinkThread (under mu_) while it does not.
  BrokerLink link_;
  UniqueFd wake_fd_ ABSL_GUARDED_BY(mu_);  // eventfd: stops the link thread
  int wake_fd_for_link_ = -1;  // wake_fd_, for the link thread's poll
  std::thread link_thread_ ABSL_GUARDED_BY(mu_);
  absl::Status health_ ABSL_GUARDED_BY(mu_);  // UNAVAILABLE: daemon gone
  bool unregistered_ ABSL_GUARDED_BY(mu_) = false;
  // Every port this session knows of, by the daemon's id.
  absl::flat_hash_map<uint64_t, PortEntry> ports_ ABSL_GUARDED_BY(mu_);
  // Ports the daemon closed, held open until their time (link thread
  // only; see OnPortClosed).
  std::deque<std::pair<absl::Time, std::shared_ptr<PortCore>>> lingering_;
  // kIncoming ports in arrival order, for AcceptPort (ids whose entry left
  // that state are skipped).
  std::deque<uint64_t> incoming_ ABSL_GUARDED_BY(mu_);

  // Topics: this session's publications and subscribers by handle, the
  // handle of each by the daemon's id, and the owner of each open
  // subscription.
  absl::flat_hash_map<uint64_t, TopicEntry> topics_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, uint64_t> topic_by_daemon_id_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, uint64_t> subscription_owner_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_topic_handle_ ABSL_GUARDED_BY(mu_) = 1;
  // Publish/Subscribe calls waiting for the daemon's answer, and the
  // notices that arrived for a registration not known yet (bounded).
  int topic_calls_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<BrokerNotice> early_topic_notices_ ABSL_GUARDED_BY(mu_);
  // Notices for the link thread to deliver, in arrival order.
  std::deque<TopicDelivery> topic_deliveries_ ABSL_GUARDED_BY(mu_);
  // eventfd: deliveries are queued (made with the link thread's wake_fd_).
  UniqueFd topic_wake_fd_ ABSL_GUARDED_BY(mu_);
  int topic_wake_fd_for_link_ = -1;
};

}  // namespace internal
}  // namespace shmport

#endif  // SHMPORT_CLIENT_SESSION_CORE_H_
