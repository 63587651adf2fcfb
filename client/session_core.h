// SessionCore: what stands behind a shmport::Session (include/shmport/
// session.h): the gRPC control-plane client, the broker link and its
// thread, and the table of ports the daemon handed over. Internal to
// libshmport; its header pulls in gRPC and the generated protos, which the
// public headers never do. Code inside the library and its tests reach it
// with Session::core() for what the public API does not offer (the gRPC
// stub, event streams, the policy's limits).
#ifndef SHMPORT_CLIENT_SESSION_CORE_H_
#define SHMPORT_CLIENT_SESSION_CORE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/broker_link.h"
#include "common/paths/daemon_identity.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
#include "shmport/port.h"
#include "shmport/port_stats.h"
#include "shmport/session.h"
#include "shmport/unique_fd.h"
#include "shmport/v1/control.grpc.pb.h"

namespace shmport {

namespace internal {

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
// AcceptPort), pushes port statistics every stats_interval, and notices
// when the daemon goes away.
//
// Daemon loss: calls fail with UNAVAILABLE; ports already open keep working
// (the data plane does not need the daemon); Reconnect() registers again
// with a (re)started daemon.
//
// Thread-safety: every method may be called from any thread, concurrently.
// Ports returned are independent objects with their own rules (port.h) and
// may outlive the Session.
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

  // Opens a port to the process named `name_or_id` (a string of digits
  // only is taken as a process id) and returns it ready: HELLO exchanged,
  // identities checked by the kernel. Errors: the daemon's (NOT_FOUND,
  // INVALID_ARGUMENT for yourself, FAILED_PRECONDITION for a peer not yet
  // attached, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAVAILABLE), and the
  // Port's handshake errors. With options.wait_for_peer, NOT_FOUND and
  // FAILED_PRECONDITION are retried (backing off to 100 ms) until it ends.
  // A port that the daemon opened but that failed before it was ready
  // (the peer could not take it, the handshake failed) leaves the daemon's
  // registry, and the error is the daemon's reason when it has one (e.g.
  // RESOURCE_EXHAUSTED: the peer is out of file descriptors).
  absl::StatusOr<std::unique_ptr<Port>> OpenPort(
      absl::string_view name_or_id, const OpenPortOptions& options = {});

  // The next port another process opened to this one, ready to use; waits
  // up to `timeout`. DEADLINE_EXCEEDED when none came; UNAVAILABLE when the
  // daemon is gone and nothing is queued; the Port's handshake errors (the
  // port is then closed at the daemon too).
  absl::StatusOr<std::unique_ptr<Port>> AcceptPort(absl::Duration timeout);

  // Streams the daemon's events (include_existing: the current processes
  // and ports first). The stream is independent of this session's state.
  absl::StatusOr<std::unique_ptr<EventWatch>> Watch(
      bool include_existing = false);

  // Registers again, under the same name and labels, with the daemon now
  // at the address (after a restart), and attaches a new broker link. Ports
  // already open keep working, but the new daemon does not know them (no
  // stats are reported for them). Errors as for Connect.
  absl::Status Reconnect();

  // Ends the registration now (the daemon closes this process's ports in
  // its registry and tells the peers). Later calls fail with
  // FAILED_PRECONDITION. Idempotent.
  absl::Status Unregister();

  // The daemon's id for this process (changes on Reconnect).
  uint64_t process_id() const;
  const std::string& name() const { return options_.name; }
  const std::string& address() const { return address_; }
  // What the daemon's policy allows this process.
  v1::ProcessLimits limits() const;
  // OK while the daemon is reachable; else why not.
  absl::Status health() const;
  // The stub, for calls the Session does not wrap (ListProcesses, ...).
  // Thread-safe; Reconnect replaces it, so fetch it again after one.
  std::shared_ptr<v1::ControlPlane::Stub> stub() const;

 private:
  // A port the daemon handed over whose owner has not taken it yet.
  struct PendingPort {
    uint64_t port_id = 0;
    UniqueFd fd;
    PeerIdentity peer;
    PortOptions options;  // as sent in this end's HELLO
  };

  explicit SessionCore(SessionOptions options, std::string address);

  // Register + attach + start the link thread. Requires that no link
  // thread runs.
  absl::Status Establish();
  void StopLinkThread();
  void LinkLoop();
  // Handles one frame from the daemon (link thread).
  void OnNotice(BrokerNotice notice);
  void PushStats();
  absl::StatusOr<std::unique_ptr<Port>> Adopt(PendingPort pending);
  // OpenPort's port `port_id` failed locally with `local` before it was
  // ready. Makes sure the daemon forgets the port, and returns the best
  // reason: the daemon's (e.g. the peer could not take the port) when one
  // arrives, else `local`.
  absl::Status SettleFailedOpen(uint64_t port_id, absl::Status local);
  // ClosePort(port_id) with this session's token; the gRPC status.
  absl::Status ClosePortAtDaemon(uint64_t port_id);
  std::unique_ptr<grpc::ClientContext> NewContext() const;
  absl::Status CheckUsable() const /* requires mu_ */;

  const SessionOptions options_;
  const std::string address_;

  mutable std::mutex mu_;                         // guards everything below
  std::shared_ptr<v1::ControlPlane::Stub> stub_;  // replaced by Reconnect
  std::condition_variable changed_;  // a port arrived, or the link ended
  uint64_t process_id_ = 0;
  std::string token_;
  v1::ProcessLimits limits_;
  BrokerLink link_;   // used only by the link thread while it runs
  UniqueFd wake_fd_;  // eventfd: tells the link thread to stop
  std::thread link_thread_;
  absl::Status health_;  // UNAVAILABLE once the daemon is gone
  bool unregistered_ = false;
  // Ports whose notices arrived: those this process opened (by id, for
  // OpenPort to claim) and those others opened (in order, for AcceptPort).
  absl::flat_hash_map<uint64_t, PendingPort> opened_;
  std::deque<PendingPort> incoming_;
  // Ports this process opened that failed before OpenPort had them ready:
  // their notice could not be taken (link thread), or the daemon closed
  // them (its PortClosed, `from_daemon`). OpenPort takes the entry.
  struct FailedOpen {
    absl::Status why;
    bool from_daemon = false;
  };
  absl::flat_hash_map<uint64_t, FailedOpen> failed_opens_;
  // Ports OpenPort is handshaking on or settling: a PortClosed for one of
  // them goes into failed_opens_.
  absl::flat_hash_set<uint64_t> opening_;
  // Live ports' counters, for StatsReport; weak so the Port owns them.
  std::map<uint64_t, std::weak_ptr<const PortStatsSource>> live_;
};

}  // namespace internal
}  // namespace shmport

#endif  // SHMPORT_CLIENT_SESSION_CORE_H_
