// BrokerLink: the client end of the private SOCK_SEQPACKET connection to
// shmportd (see proto/shmport/v1/broker.proto for the frames).
#ifndef SHMPORT_CLIENT_BROKER_LINK_H_
#define SHMPORT_CLIENT_BROKER_LINK_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/paths/daemon_identity.h"
#include "common/receive_buffer.h"
#include "common/unix_channel.h"
#include "shmport/unique_fd.h"
#include "shmport/v1/broker.pb.h"

namespace shmport {

// A frame from the daemon, with the fd it carried (PortOpened and
// SubscriptionOpened carry this process's end of the port or subscription;
// other frames carry none).
struct BrokerNotice {
  v1::BrokerFrame frame;
  UniqueFd fd;
};

// The client's reading of one datagram from the daemon: at most kMaxFrame
// bytes that parse as a BrokerFrame, carrying exactly the fds its kind
// needs (PortOpened and SubscriptionOpened one, others none). INVALID_ARGUMENT
// otherwise (the fds are then closed); an empty datagram is the daemon's close
// (UNAVAILABLE). Pure, for BrokerLink::Receive and the broker_frame_fuzzer.
absl::StatusOr<BrokerNotice> ParseBrokerNotice(
    absl::Span<const uint8_t> datagram, std::vector<UniqueFd> fds);

// What an AttachResult frame says: OK, or the daemon's code and message.
// INTERNAL for a frame that is not an AttachResult or a code outside
// google.rpc.Code.
// The payload AttachResultStatus puts on a refusal whose Attach the daemon
// never read (AttachResult.attach_unread): a new connection may succeed.
inline constexpr char kAttachUnreadPayload[] = "shmport/attach-unread";
absl::Status AttachResultStatus(const v1::BrokerFrame& frame);

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
  // see common/paths/daemon_identity.h). A RESOURCE_EXHAUSTED answer (too
  // many connections waiting for their Attach) is retried, with a growing
  // pause, until `timeout`. Errors: PERMISSION_DENIED (another uid listens
  // there, named), UNAVAILABLE (cannot connect, or the daemon closed the
  // link), DEADLINE_EXCEEDED (no answer), or the code and message the
  // daemon refused the attach with (PERMISSION_DENIED for a wrong token or
  // pid, NOT_FOUND for an expired registration, RESOURCE_EXHAUSTED naming
  // the connection cap, ...).
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
  // One connection's attempt, answered by `deadline`.
  static absl::StatusOr<BrokerLink> AttachOnce(absl::string_view broker_address,
                                               uint64_t process_id,
                                               absl::string_view token,
                                               absl::Time deadline,
                                               const DaemonOwner& daemon);
  UnixChannel channel_;
  // Receive's datagram buffer; only the reader thread uses it.
  ReceiveBuffer buffer_{kMaxFrame + 1};
};

}  // namespace shmport

#endif  // SHMPORT_CLIENT_BROKER_LINK_H_
