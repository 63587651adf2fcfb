// Broker: the daemon's SOCK_SEQPACKET socket and the one event-loop thread
// that owns every broker link, every per-process pidfd, every attach-expiry
// timer and every connection that has not attached yet.
#ifndef SHMPORT_SERVER_BROKER_H_
#define SHMPORT_SERVER_BROKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/mutex.h"
#include "common/receive_buffer.h"
#include "common/unix_channel.h"
#include "server/acceptor.h"
#include "server/broker_frames.h"
#include "server/limit_refusals.h"
#include "server/log_throttle.h"
#include "shmport/unique_fd.h"
#include "shmport/v1/broker.pb.h"

namespace shmport::server {

// The AttachResult frame that answers an Attach with `status` (code 0: OK).
v1::BrokerFrame AttachResultFrame(const absl::Status& status);

// Bounds on connections that have not attached yet: whoever may connect to
// broker.sock can open them, so they must not lock anyone else out.
struct BrokerLimits {
  // A connection must send Attach within this, or it is closed.
  absl::Duration pending_timeout = absl::Seconds(3);
  // Connections without Attach, per connecting uid (SO_PEERCRED) and in
  // all. Beyond either, a new connection is refused (RESOURCE_EXHAUSTED).
  size_t max_pending_per_uid = 64;
  size_t max_pending = 1024;
};

// An Attach that a connection presented. Nothing is installed for it yet.
struct AttachRequest {
  uint64_t process_id = 0;
  std::string token;
  Credentials peer;         // the connection's SO_PEERCRED
  uint64_t connection = 0;  // the broker's handle, for InstallLink
};

// What the broker reports. Called on the broker thread, one call at a time,
// with no broker lock held, so the listener may call back into the Broker.
class BrokerListener {
 public:
  virtual ~BrokerListener() = default;
  // A connection presented Attach. Nothing is installed or reserved for
  // it, so a stranger's Attach cannot disturb the registration: the
  // listener checks the token and credentials first. To accept, it calls
  // Broker::InstallLink(request) (under its own lock, so that no notice
  // can overtake the OK AttachResult that sends) and returns OK. To refuse,
  // it returns the error: the broker sends that AttachResult and closes the
  // connection; the registration and its attach timer are untouched.
  virtual absl::Status OnAttach(const AttachRequest& request) = 0;
  // A connection was refused before OnAttach (its first frame was not a
  // well-formed Attach). For the attach_refused counter.
  virtual void OnAttachRefused(uint64_t process_id,
                               absl::string_view reason) = 0;
  // The process's link hit EOF, an error or a Goodbye (`reason` says which).
  virtual void OnLinkClosed(uint64_t process_id, absl::string_view reason) = 0;
  // The process's pidfd turned readable: it has exited.
  virtual void OnProcessExited(uint64_t process_id) = 0;
  // The process's attach timer fired before it attached.
  virtual void OnAttachExpired(uint64_t process_id) = 0;
  // The process pushed its port statistics (and the ports it closed).
  virtual void OnStatsReport(uint64_t process_id,
                             const v1::StatsReport& report) = 0;
  // The process could not take a port it was handed.
  virtual void OnPortNotTaken(uint64_t process_id,
                              const v1::PortNotTaken& not_taken) = 0;
  // The process, attached anew after a daemon restart, declared the ports
  // it still holds open.
  virtual void OnResumePorts(uint64_t process_id,
                             const v1::ResumePorts& resume) = 0;
};

// Model: a process registers over gRPC, then connects here and sends
// Attach. Until it does, a timerfd bounds the registration's wait, and the
// connection itself must send Attach within BrokerLimits::pending_timeout
// (per-uid and global caps bound how many may wait). Once attached, its
// connection (the link) carries notices down and stats up, and a pidfd
// watches the process itself; EOF on the link or a readable pidfd ends the
// registration (reported to the listener, which calls Release). Nothing
// polls: the loop sleeps in epoll_wait until the kernel has news.
//
// Sends never block: a link whose socket buffer is full makes Send fail
// with UNAVAILABLE, so one stuck client cannot stall the daemon.
//
// Thread-safety: every public method is thread-safe. Lock order: callers
// may hold the Switchboard's lock when calling in; the broker's own lock is
// a leaf, never held while it calls the listener.
class Broker {
 public:
  // Binds and listens on `address` (a filesystem path, or "@name" for the
  // abstract namespace). Errors: the socket() / bind() / listen() failure,
  // naming the address. With a valid `inherited` (a listening
  // SOCK_SEQPACKET socket a service manager passed in, already at
  // `address`), serves on that one instead of binding.
  static absl::StatusOr<std::unique_ptr<Broker>> Listen(
      absl::string_view address, BrokerListener* listener,
      const BrokerLimits& limits = {}, UniqueFd inherited = UniqueFd());

  // Stops the loop (if running) and closes every fd.
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Starts the event-loop thread.
  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Sends Goodbye{reason} on every link, stops the thread, closes every fd.
  // Idempotent.
  void Stop(absl::string_view reason) ABSL_LOCKS_EXCLUDED(mu_);

  // Arms a one-shot timer: OnAttachExpired(process_id) after `timeout`
  // unless the process attaches (or is released) first.
  absl::Status StartAttachTimer(uint64_t process_id, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Makes request.connection process request.process_id's link, watches
  // request.peer.pid (a pidfd), stops the attach timer and sends the OK
  // AttachResult. For BrokerListener::OnAttach. Errors: FAILED_PRECONDITION
  // (the process already has a link), UNAVAILABLE (the connection is gone,
  // the pid cannot be watched, or the result cannot be sent).
  absl::Status InstallLink(const AttachRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sends `frame` (with `fd` attached when >= 0; the caller keeps its fd)
  // on process_id's link without blocking. UNAVAILABLE when the process has
  // no link, or its link is full (then also IsWouldBlock) or broken.
  absl::Status Send(uint64_t process_id, const v1::BrokerFrame& frame,
                    int fd = -1) ABSL_LOCKS_EXCLUDED(mu_);

  // Forgets the process: sends Goodbye{reason} (best effort) unless reason
  // is empty, then closes its link, pidfd and timer.
  void Release(uint64_t process_id, absl::string_view reason)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& address() const { return address_; }
  // Connections accepted that have not sent Attach yet.
  size_t pending_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // Counts each connection refused for a limit into `refusals` (which
  // must outlive the broker). Call before Start.
  void CountRefusalsIn(LimitRefusals* refusals) { limit_refusals_ = refusals; }

 private:
  // kPending: connected, said nothing yet. kAttaching: sent Attach, which
  // the listener settles (InstallLink makes it kLink) before the loop
  // waits again.
  enum class Kind { kWake, kPending, kAttaching, kLink, kPidfd, kTimer };
  struct Entry {
    Kind kind;
    UniqueFd fd;
    uint64_t process_id = 0;  // 0 for kWake, kPending and kAttaching
    Credentials peer;         // kPending: who connected
    absl::Time deadline;      // kPending: when it is closed without Attach
  };
  // The handles of one process's entries (0: none).
  struct ProcessFds {
    uint64_t link = 0;
    uint64_t pidfd = 0;
    uint64_t timer = 0;
  };
  // What the loop learned under the lock, reported after releasing it.
  struct Report;

  Broker(std::string address, Acceptor acceptor, UniqueFd epoll_fd,
         UniqueFd wake_fd, BrokerListener* listener,
         const BrokerLimits& limits);

  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // How long epoll_wait may sleep: until the next pending deadline or the
  // end of an accept pause.
  int WaitTimeoutMs() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Each returns what to report.
  void OnListenReadable(std::vector<Report>* reports)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t AddPending(AcceptedConnection connection)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RESOURCE_EXHAUSTED naming the cap when a pending connection of `uid`
  // (already counted) is one too many.
  absl::Status CheckPendingCaps(uid_t uid) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpirePending(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnPendingReadable(uint64_t handle, std::vector<Report>* reports)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnLinkReadable(uint64_t handle, std::vector<Report>* reports)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Dispatch(Report& report) ABSL_LOCKS_EXCLUDED(mu_);
  // Settles an Attach: asks the listener, and closes the connection with
  // the refusal unless the listener installed it.
  void CompleteAttach(const Report& report) ABSL_LOCKS_EXCLUDED(mu_);
  // Sends the refusal (best effort) on a connection about to be closed;
  // with `log`, logs it too (throttled). The listener logs its own.
  void RefuseConnection(int fd, const absl::Status& why, bool log = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A refusal of a connection whose Attach was never read (caps, the
  // pending deadline): AttachResult.attach_unread tells the client that
  // trying again on a new connection is worth it. Logged (throttled).
  void RefuseUnread(int fd, const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  uint64_t AddEntry(Kind kind, UniqueFd fd, uint64_t process_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveEntry(uint64_t handle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops a pending entry's bookkeeping (its deadline and uid count).
  void ForgetPending(uint64_t handle, const Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseLocked(uint64_t process_id, absl::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SendLocked(uint64_t process_id, const v1::BrokerFrame& frame,
                          int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string address_;
  BrokerListener* const listener_;
  const BrokerLimits limits_;
  const UniqueFd epoll_fd_;
  std::thread thread_;

  LimitRefusals* limit_refusals_ = nullptr;  // set before Start
  // Guards everything below. Lock order (docs/architecture.md, "Locks"): a
  // leaf, taken after Switchboard::mu_ and never held while calling out.
  mutable Mutex mu_;
  // Every fd the loop watches, by a handle that is never reused, so an
  // event for an fd closed meanwhile finds nothing instead of a newcomer.
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // What OnPendingReadable and OnLinkReadable read a datagram into.
  ReceiveBuffer receive_buffer_ ABSL_GUARDED_BY(mu_){kMaxBrokerFrame + 1};
  absl::flat_hash_map<uint64_t, ProcessFds> processes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  // broker.sock, watched under listen_handle_.
  Acceptor acceptor_ ABSL_GUARDED_BY(mu_);
  uint64_t listen_handle_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t wake_handle_ ABSL_GUARDED_BY(mu_) = 0;
  // Pending connections by deadline (the earliest first), and per uid.
  std::set<std::pair<absl::Time, uint64_t>> pending_deadlines_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uid_t, size_t> pending_per_uid_ ABSL_GUARDED_BY(mu_);
  // Pending connections refused or expired.
  LogThrottle refusal_log_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_BROKER_H_
