// Session: a process's registration with shmportd, and the way it gets
// ports. Part of the C++ API of libshmport; needs C++20 and Abseil, and
// nothing of gRPC or protobuf (the control plane stays inside the library).
//
//   auto session = shmport::Session::Connect({.name = "worker-1"});
//   auto port = (*session)->OpenPort("router");        // a ready Port
//   auto accepted = (*session)->AcceptPort(absl::Seconds(1));
#ifndef SHMPORT_SESSION_H_
#define SHMPORT_SESSION_H_

#if __cplusplus < 202002L
#error "<shmport/session.h> needs C++20 (-std=c++20)"
#endif

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "shmport/daemon_uid.h"
#include "shmport/port.h"
#include "shmport/topic.h"

namespace shmport {

namespace internal {
class SessionCore;
}

// libshmport's version, sent with Register.
inline constexpr char kClientVersion[] = "libshmport/0.1.0";

struct SessionOptions {
  // 1..64 characters from [A-Za-z0-9._-], starting with a letter or digit;
  // unique among the daemon's live processes.
  std::string name;
  // Shown by ListProcesses (at most 32; keys 1..63, values 0..255 chars).
  std::map<std::string, std::string> labels;
  // The daemon's gRPC address; empty: DefaultControlAddress() (see
  // common/paths/reachability.h: $SHMPORT_ADDRESS, else the per-user
  // socket, else the system-wide /run/shmport/control.sock).
  std::string address;
  // The uid shmportd must run as: its directory, its control socket and
  // its broker socket must belong to it (or to root), or Connect refuses
  // the daemon with PERMISSION_DENIED before sending anything. Default:
  // this process's uid ($SHMPORT_DAEMON_UID overrides). Set it when a
  // daemon of another user serves you (a socket_group deployment).
  uid_t expected_daemon_uid = kDefaultDaemonUid;
  // Bound on each control-plane call (Register, OpenPort, ...).
  absl::Duration rpc_timeout = absl::Seconds(5);
  // Bound on attaching the broker link after Register.
  absl::Duration attach_timeout = absl::Seconds(5);
  // How often the counters of live ports are pushed to the daemon.
  // Zero or InfiniteDuration: never.
  absl::Duration stats_interval = absl::Seconds(1);
  // Options for every port of this session (timeouts, limits on what the
  // peer may declare). The geometry fields are replaced by what the daemon
  // grants for each port.
  PortOptions port_options;
  // Called on the session's link thread when the daemon closes a port that
  // was already handed out (ClosePort by an operator or either end, or the
  // daemon gave up on it). The daemon's word is final: the Session has
  // closed the Port already (its blocked calls woke with UNAVAILABLE and
  // closed_reason() names who closed it, e.g. "port 7 closed by operator
  // (admin token, client shmportctl)"). Must not block.
  std::function<void(uint64_t port_id, absl::string_view reason)>
      on_port_closed;

  // Reconnection. When the daemon goes away (stopped, killed, restarted),
  // the link thread registers again under the same name and labels as soon
  // as a daemon answers at the address, waiting reconnect_backoff_min after
  // the loss and doubling up to reconnect_backoff_max between attempts
  // (each wait drawn from [wait/2, wait] so that many clients do not come
  // back at once). It then declares the ports still open, and the daemon
  // lists them again once their other ends have declared them too. False:
  // stay disconnected until Reconnect().
  bool reconnect = true;
  absl::Duration reconnect_backoff_min = absl::Milliseconds(50);
  absl::Duration reconnect_backoff_max = absl::Seconds(1);
  // Called on the link thread, once per loss, when the daemon went away
  // (`reason`: what the link saw). Must not block.
  std::function<void(absl::string_view reason)> on_daemon_lost;
  // Called after a reconnection with the new daemon's id for this process:
  // on the link thread, or in Reconnect()'s caller. Must not block.
  std::function<void(uint64_t process_id)> on_reconnected;
};

// The severity of a library log line (Session::SetLogSink).
enum class LogSeverity { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// What OpenPort asks the daemon for. Zero: the daemon's policy default.
// The daemon clamps each field to its limits; the Port reports what it got.
struct OpenPortOptions {
  uint32_t chunk_size = 0;
  uint32_t chunk_count = 0;
  uint32_t max_segments = 0;
  uint32_t inline_threshold = 0;
  // How long to keep trying while the peer is still starting: not
  // registered yet (NOT_FOUND) or registered but not attached yet
  // (FAILED_PRECONDITION). Zero: one attempt, those errors returned at once.
  absl::Duration wait_for_peer = absl::ZeroDuration();
};

// A registered process. Connect registers with the daemon and attaches the
// broker link; a background thread (the link thread) then owns the link:
// it takes in ports as the daemon hands them over, sends this end's HELLO
// at once (so that an opener never waits for this process to call
// AcceptPort), pushes port statistics every stats_interval, and notices
// when the daemon goes away.
//
// Daemon loss: calls fail with UNAVAILABLE; ports already open keep working
// (the data plane does not need the daemon). The session registers again by
// itself when a daemon comes back (SessionOptions::reconnect), or at once
// with Reconnect().
//
// Thread-safety: every method may be called from any thread, concurrently.
// Ports returned are independent objects with their own rules (port.h) and
// may outlive the Session.
class Session {
 public:
  // Registers `options.name` and attaches the broker link. Errors:
  // UNAVAILABLE (no daemon at the address), PERMISSION_DENIED naming the
  // owner uid when the daemon's files or sockets belong to a uid other than
  // options.expected_daemon_uid's (nothing is sent to it), and the daemon's
  // refusals with their messages: INVALID_ARGUMENT (bad name or labels),
  // ALREADY_EXISTS (name taken), PERMISSION_DENIED (policy),
  // RESOURCE_EXHAUSTED (limits).
  static absl::StatusOr<std::unique_ptr<Session>> Connect(
      const SessionOptions& options);

  // Closes the broker link (which ends the registration) and stops the
  // link thread. Ports stay open.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

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

  // Makes this process the publisher of `topic` (1..128 characters from
  // [A-Za-z0-9._/-]; docs/architecture.md "Topics"). The daemon grants
  // the geometry and history (clamped to its limits); every subscriber,
  // present and future, gets a subscription. Errors: ALREADY_EXISTS naming
  // the topic's publisher, PERMISSION_DENIED naming the policy rule,
  // RESOURCE_EXHAUSTED naming the limit, INVALID_ARGUMENT, UNAVAILABLE.
  // The Publisher must not outlive this Session.
  absl::StatusOr<std::unique_ptr<Publisher>> Publish(
      absl::string_view topic, const PublisherOptions& options = {});
  // Subscribes to `topic`, which need not have a publisher yet: samples
  // come from each publisher the topic gets, one at a time. Errors as
  // Publish's, without ALREADY_EXISTS. The Subscriber must not outlive
  // this Session.
  absl::StatusOr<std::unique_ptr<Subscriber>> Subscribe(
      absl::string_view topic, const SubscriberOptions& options = {});

  // Registers again, under the same name and labels, with the daemon now
  // at the address (after a restart), attaches a new broker link and
  // declares the ports still open (their stats are reported again once the
  // peer declared them too). OK at once while the session is healthy (it
  // reconnected by itself already). Errors as for Connect.
  absl::Status Reconnect();

  // Ends the registration now (the daemon closes this process's ports in
  // its registry and tells the peers). Later calls fail with
  // FAILED_PRECONDITION. Idempotent.
  absl::Status Unregister();

  // The daemon's id for this process (changes on Reconnect).
  uint64_t process_id() const;
  const std::string& name() const;
  // The control address in use ("unix:/run/user/1000/shmport/control.sock").
  const std::string& address() const;
  // OK while the daemon is reachable; else why not.
  absl::Status health() const;

  // Where the library's log lines go (one logfmt line per event, without
  // its newline, with its severity); an empty sink restores stderr. Called
  // on the thread that logs: must be quick and must not block. Process-wide.
  using LogSink =
      std::function<void(LogSeverity severity, absl::string_view line)>;
  static void SetLogSink(LogSink sink);

  // The machinery behind the Session (gRPC stubs, event streams), for code
  // inside libshmport and its tests: see client/session_core.h.
  internal::SessionCore& core() const { return *core_; }

 private:
  explicit Session(std::unique_ptr<internal::SessionCore> core);
  std::unique_ptr<internal::SessionCore> core_;
};

}  // namespace shmport

#endif  // SHMPORT_SESSION_H_
