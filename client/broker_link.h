// BrokerLink: the client end of the private SOCK_SEQPACKET connection to
// shmportd (see proto/shmport/v1/broker.proto for the frames).
#ifndef SHMPORT_CLIENT_BROKER_LINK_H_
#define SHMPORT_CLIENT_BROKER_LINK_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/paths/daemon_identity.h"
#include "common/unique_fd.h"
#include "common/unix_channel.h"
#include "shmport/v1/broker.pb.h"

namespace shmport {

// A frame from the daemon, with the fd it carried (PortOpened carries this
// process's end of the port; other frames carry none).
struct BrokerNotice {
  v1::BrokerFrame frame;
  UniqueFd fd;
};

// The link is what keeps a registration alive: closing it (or exiting)
// ends the registration, and the daemon closing it means the daemon is
// gone. Frames are at most 64 KiB.
//
// Thread-safety: Receive may run concurrently with Send (one reader thread,
// any number of senders); Close must not race with either.
class BrokerLink {
 public:
  // Most bytes in one frame.
  static constexpr size_t kMaxFrame = 64 * 1024;

  // Connects to `broker_address` (a path, or "@name" for the abstract
  // namespace), presents Attach{process_id, token} and waits up to
  // `timeout` for the AttachResult. Nothing is sent unless the listener
  // runs as `expected_daemon_uid` or root (SO_PEERCRED; kDefaultDaemonUid:
  // see common/paths/daemon_identity.h). Errors: PERMISSION_DENIED (another
  // uid listens there, named), UNAVAILABLE (cannot connect, or the daemon
  // closed the link), DEADLINE_EXCEEDED (no answer), or the code and
  // message the daemon refused the attach with (PERMISSION_DENIED for a
  // wrong token or pid, NOT_FOUND for an expired registration, ...).
  static absl::StatusOr<BrokerLink> Attach(
      absl::string_view broker_address, uint64_t process_id,
      absl::string_view token, absl::Duration timeout,
      uid_t expected_daemon_uid = kDefaultDaemonUid);

  BrokerLink() = default;
  BrokerLink(BrokerLink&&) = default;
  BrokerLink& operator=(BrokerLink&&) = default;

  // The socket, for poll loops: readable when a frame or EOF is waiting.
  int fd() const { return channel_.fd(); }
  bool valid() const { return channel_.valid(); }

  // The next frame without blocking: nullopt when none is waiting.
  // UNAVAILABLE when the daemon closed the link. INVALID_ARGUMENT for a
  // frame this process cannot use, which is dropped while the link stays
  // up: one that does not parse, is too large, or carries an fd it should
  // not (PortOpened must carry exactly one; the fds of a bad frame are
  // closed). A PortOpened whose fd the kernel dropped because this process
  // is out of fds (RLIMIT_NOFILE) is also dropped: Receive tells the
  // daemon (PortNotTaken), which closes the port and tells the opener.
  absl::StatusOr<std::optional<BrokerNotice>> Receive();

  // Tells the daemon that this process cannot take port `port_id`, and
  // why (PortNotTaken): the daemon closes the port and tells the other end.
  // Errors as for Send.
  absl::Status ReportNotTaken(uint64_t port_id, const absl::Status& why);

  // Sends a frame without blocking. UNAVAILABLE when the daemon is gone
  // or the link is full (the daemon is not reading: the frame is dropped).
  absl::Status Send(const v1::BrokerFrame& frame);

  // Closes the link; the daemon ends the registration.
  void Close() { channel_.Close(); }

 private:
  explicit BrokerLink(UnixChannel channel) : channel_(std::move(channel)) {}
  UnixChannel channel_;
};

}  // namespace shmport

#endif  // SHMPORT_CLIENT_BROKER_LINK_H_
