// Broker: the daemon's SOCK_SEQPACKET socket and the one event-loop thread
// that owns every broker link, every per-process pidfd and every
// attach-expiry timer.
#ifndef SHMPORT_SERVER_BROKER_H_
#define SHMPORT_SERVER_BROKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/unix_channel.h"
#include "shmport/unique_fd.h"
#include "shmport/v1/broker.pb.h"

namespace shmport::server {

// The AttachResult frame that answers an Attach with `status` (code 0: OK).
v1::BrokerFrame AttachResultFrame(const absl::Status& status);

// What the broker reports. Called on the broker thread, one call at a time,
// with no broker lock held, so the listener may call back into the Broker.
class BrokerListener {
 public:
  virtual ~BrokerListener() = default;
  // A connection presented Attach{process_id, token}; `peer` is its
  // SO_PEERCRED. The connection is already installed as process_id's link
  // (with a pidfd for peer.pid), so the listener can send on it. Return OK
  // to keep it: the listener must itself send the OK AttachResult first
  // (under its lock, so that no notice can overtake it). Return an error to
  // refuse: the broker sends that AttachResult and closes the connection,
  // and the registration's attach timer keeps running. A listener that
  // ends the registration instead (Release) sends the AttachResult itself
  // before releasing, since the release closes the connection.
  virtual absl::Status OnAttach(uint64_t process_id, absl::string_view token,
                                const Credentials& peer) = 0;
  // A connection was refused before OnAttach (already attached, no pidfd,
  // malformed Attach). For the attach_refused counter.
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
};

// Model: a process registers over gRPC, then connects here and sends
// Attach. Until it does, a timerfd bounds the wait. Once attached, its
// connection (the link) carries notices down and stats up, and a pidfd
// watches the process itself; EOF on the link or a readable pidfd ends the
// registration (reported to the listener, which calls Release). Nothing
// polls: the loop sleeps in epoll_wait until the kernel has news.
//
// Sends never block: a link whose socket buffer is full makes Send fail
// with UNAVAILABLE, so one stuck client cannot stall the daemon.
//
// Thread-safety: every public method is thread-safe. Lock order: callers
// may hold the Switchboard's lock when calling in; the broker never calls
// the listener with its own lock held.
class Broker {
 public:
  // Binds and listens on `address` (a filesystem path, or "@name" for the
  // abstract namespace). Errors: the socket() / bind() / listen() failure,
  // naming the address. With a valid `inherited` (a listening
  // SOCK_SEQPACKET socket a service manager passed in, already at
  // `address`), serves on that one instead of binding.
  static absl::StatusOr<std::unique_ptr<Broker>> Listen(
      absl::string_view address, BrokerListener* listener,
      UniqueFd inherited = UniqueFd());

  // Stops the loop (if running) and closes every fd.
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Starts the event-loop thread.
  absl::Status Start();
  // Sends Goodbye{reason} on every link, stops the thread, closes every fd.
  // Idempotent.
  void Stop(absl::string_view reason);

  // Arms a one-shot timer: OnAttachExpired(process_id) after `timeout`
  // unless the process attaches (or is released) first.
  absl::Status StartAttachTimer(uint64_t process_id, absl::Duration timeout);

  // Sends `frame` (with `fd` attached when >= 0; the caller keeps its fd)
  // on process_id's link without blocking. UNAVAILABLE when the process has
  // no link, or its link is full or broken.
  absl::Status Send(uint64_t process_id, const v1::BrokerFrame& frame,
                    int fd = -1);

  // Forgets the process: sends Goodbye{reason} (best effort) unless reason
  // is empty, then closes its link, pidfd and timer.
  void Release(uint64_t process_id, absl::string_view reason);

  const std::string& address() const { return address_; }
  // Descriptors the broker holds now (links, pidfds, timers, pending).
  size_t fd_count() const;

 private:
  // The listening socket: a new one bound at `address`, or an inherited
  // one made non-blocking.
  static absl::StatusOr<UniqueFd> BindListening(absl::string_view address);
  static absl::StatusOr<UniqueFd> AdoptListening(UniqueFd fd);

  enum class Kind { kListen, kWake, kPending, kLink, kPidfd, kTimer };
  struct Entry {
    Kind kind;
    UniqueFd fd;
    uint64_t process_id = 0;  // 0 for kListen, kWake and kPending
  };
  // The handles of one process's entries (0: none).
  struct ProcessFds {
    uint64_t link = 0;
    uint64_t pidfd = 0;
    uint64_t timer = 0;
  };
  // What the loop learned under the lock, reported after releasing it.
  struct Report;

  Broker(std::string address, UniqueFd listen_fd, UniqueFd epoll_fd,
         UniqueFd wake_fd, BrokerListener* listener);

  void Loop();
  // Each returns what to report; called with mu_ held.
  void OnListenReadable(std::vector<Report>* reports);
  void OnPendingReadable(uint64_t handle, std::vector<Report>* reports);
  void OnLinkReadable(uint64_t handle, std::vector<Report>* reports);
  void Dispatch(Report& report);
  // Settles an Attach: calls the listener, then keeps or drops the link.
  void CompleteAttach(Report& report);

  uint64_t AddEntry(Kind kind, UniqueFd fd, uint64_t process_id);
  void RemoveEntry(uint64_t handle);
  void ReleaseLocked(uint64_t process_id, absl::string_view reason);
  absl::Status SendLocked(uint64_t process_id, const v1::BrokerFrame& frame,
                          int fd);

  const std::string address_;
  BrokerListener* const listener_;
  const UniqueFd epoll_fd_;
  std::thread thread_;

  mutable std::mutex mu_;  // guards everything below
  // Every fd the loop watches, by a handle that is never reused, so an
  // event for an fd closed meanwhile finds nothing instead of a newcomer.
  std::map<uint64_t, Entry> entries_;
  absl::flat_hash_map<uint64_t, ProcessFds> processes_;
  uint64_t next_handle_ = 1;
  uint64_t listen_handle_ = 0;
  uint64_t wake_handle_ = 0;
  size_t pending_count_ = 0;
  bool stopped_ = false;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_BROKER_H_
