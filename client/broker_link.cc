#include "client/broker_link.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/paths/daemon_identity.h"

namespace shmport {
namespace {

absl::StatusOr<UnixChannel> Connect(absl::string_view address) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (address.empty() || address.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker address \"", address, "\" must be 1..",
                     sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, address.data(), address.size());
  const bool abstract = address[0] == '@';
  if (abstract) addr.sun_path[0] = '\0';
  const socklen_t length = static_cast<socklen_t>(
      offsetof(sockaddr_un, sun_path) + address.size() + (abstract ? 0 : 1));
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoToStatus(errno, "socket(AF_UNIX, SOCK_SEQPACKET)");
  int r;
  while ((r = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
                        length)) != 0 &&
         errno == EINTR) {
  }
  if (r != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to the broker socket ", address, ": ",
                     std::strerror(errno), " (is shmportd running?)"));
  }
  return UnixChannel(std::move(fd));
}

absl::Status SendFrame(UnixChannel& channel, const v1::BrokerFrame& frame,
                       bool dont_wait) {
  std::string bytes;
  frame.SerializeToString(&bytes);
  if (bytes.size() > BrokerLink::kMaxFrame) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker frame of ", bytes.size(), " bytes exceeds ",
                     BrokerLink::kMaxFrame));
  }
  return channel.Send(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()),
                          bytes.size()),
      {}, false, dont_wait);
}

}  // namespace

absl::StatusOr<BrokerNotice> ParseBrokerNotice(
    absl::Span<const uint8_t> datagram, std::vector<UniqueFd> fds) {
  if (datagram.empty()) {
    // SOCK_SEQPACKET reports the peer's close as a zero-length read.
    return absl::UnavailableError("the daemon closed the broker link");
  }
  if (datagram.size() > BrokerLink::kMaxFrame) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broker frame larger than ", BrokerLink::kMaxFrame, " bytes"));
  }
  BrokerNotice notice;
  if (!notice.frame.ParseFromArray(datagram.data(),
                                   static_cast<int>(datagram.size()))) {
    return absl::InvalidArgumentError("malformed broker frame");
  }
  const size_t want_fds =
      notice.frame.has_port_opened() || notice.frame.has_subscription_opened()
          ? 1
          : 0;
  if (fds.size() != want_fds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broker frame kind ", static_cast<int>(notice.frame.kind_case()),
        " carried ", fds.size(), " fds, expected ", want_fds));
  }
  if (want_fds == 1) notice.fd = std::move(fds[0]);
  return notice;
}

absl::Status AttachResultStatus(const v1::BrokerFrame& frame) {
  if (!frame.has_attach_result()) {
    return absl::InternalError(absl::StrCat(
        "the daemon answered Attach with frame kind ",
        static_cast<int>(frame.kind_case()), ", expected AttachResult"));
  }
  absl::Status refused = StatusFromWire(frame.attach_result().code(),
                                        frame.attach_result().message());
  if (refused.ok()) return refused;
  if (frame.attach_result().attach_unread()) {
    refused.SetPayload(kAttachUnreadPayload, absl::Cord("1"));
  }
  return refused;
}

absl::StatusOr<BrokerLink> BrokerLink::Attach(absl::string_view broker_address,
                                              uint64_t process_id,
                                              absl::string_view token,
                                              absl::Duration timeout,
                                              uid_t expected_daemon_uid) {
  absl::StatusOr<DaemonOwner> daemon = ClientTrust(expected_daemon_uid);
  if (!daemon.ok()) return daemon.status();
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(5);
  while (true) {
    absl::StatusOr<BrokerLink> link =
        AttachOnce(broker_address, process_id, token, deadline, *daemon);
    // Refused before the daemon read the Attach: too many connections of
    // this uid (or in all) have not sent theirs yet; they go within the
    // daemon's pending timeout. Other refusals (a rate limit, the policy)
    // are the registration's answer and final.
    if (!link.status().GetPayload(kAttachUnreadPayload).has_value() ||
        absl::Now() + pause >= deadline) {
      return link;
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(200));
  }
}

absl::StatusOr<BrokerLink> BrokerLink::AttachOnce(
    absl::string_view broker_address, uint64_t process_id,
    absl::string_view token, absl::Time deadline, const DaemonOwner& daemon) {
  absl::StatusOr<UnixChannel> channel = Connect(broker_address);
  if (!channel.ok()) return channel.status();
  // Before the token (or anything) goes out: who listens there?
  if (absl::Status s =
          CheckPeer(channel->fd(), daemon,
                    absl::StrCat("the broker socket ", broker_address));
      !s.ok()) {
    return s;
  }
  v1::BrokerFrame attach;
  attach.mutable_attach()->set_process_id(process_id);
  attach.mutable_attach()->set_session_token(std::string(token));
  const absl::Status sent = SendFrame(*channel, attach, false);
  if (absl::Status s = channel->SetNonBlocking(true); !s.ok()) return s;
  BrokerLink link(std::move(*channel));
  if (!sent.ok()) {
    // A daemon that refused the connection at once (too many waiting
    // connections) left its reason in the socket before closing it.
    absl::StatusOr<std::optional<BrokerNotice>> refusal = link.Receive();
    if (refusal.ok() && refusal->has_value()) {
      return AttachResultStatus((*refusal)->frame);
    }
    return sent;
  }
  while (true) {
    pollfd p{link.fd(), POLLIN, 0};
    const absl::Duration left = deadline - absl::Now();
    const int ms = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))));
    const int r = ::poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoToStatus(errno, "poll on the broker link");
    if (r == 0) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no AttachResult from the daemon by ", absl::FormatTime(deadline)));
    }
    absl::StatusOr<std::optional<BrokerNotice>> notice = link.Receive();
    if (!notice.ok()) return notice.status();
    if (!notice->has_value()) continue;
    if (absl::Status s = AttachResultStatus((*notice)->frame); !s.ok()) {
      return s;
    }
    return link;
  }
}

absl::StatusOr<std::optional<BrokerNotice>> BrokerLink::Receive() {
  const absl::Span<uint8_t> buffer = buffer_.span();
  absl::StatusOr<std::optional<ReceivedMessage>> got =
      channel_.ReceiveKeepingDatagram(buffer, /*dont_wait=*/true);
  if (!got.ok()) return got.status();
  if (!got->has_value()) return std::nullopt;
  ReceivedMessage& m = **got;
  if (!m.fds_dropped.ok() && m.size > 0 && m.size <= kMaxFrame) {
    v1::BrokerFrame frame;
    if (frame.ParseFromArray(buffer.data(), static_cast<int>(m.size)) &&
        frame.has_port_opened()) {
      // Otherwise the daemon would keep the port, and the opener would
      // learn only that the socket closed.
      const uint64_t port_id = frame.port_opened().port_id();
      const absl::Status told = ReportNotTaken(port_id, m.fds_dropped);
      return absl::InvalidArgumentError(absl::StrCat(
          "PortOpened for port ", port_id,
          " dropped: ", m.fds_dropped.message(),
          told.ok()
              ? "; the daemon was told"
              : absl::StrCat("; telling the daemon failed: ", told.message())));
    }
    if (frame.has_subscription_opened()) {
      // The other end sees EOF on its socket and lets the subscription go.
      return absl::InvalidArgumentError(
          absl::StrCat("SubscriptionOpened for subscription ",
                       frame.subscription_opened().subscription_id(),
                       " dropped: ", m.fds_dropped.message()));
    }
    // Another frame carried an fd it should not have; it did not need it.
  }
  return ParseBrokerNotice(absl::MakeConstSpan(buffer.data(), m.size),
                           std::move(m.fds));
}

absl::Status BrokerLink::ReportNotTaken(uint64_t port_id,
                                        const absl::Status& why) {
  v1::BrokerFrame frame;
  frame.mutable_port_not_taken()->set_port_id(port_id);
  frame.mutable_port_not_taken()->set_code(static_cast<int>(why.code()));
  frame.mutable_port_not_taken()->set_reason(std::string(why.message()));
  return Send(frame);
}

absl::Status BrokerLink::Send(const v1::BrokerFrame& frame) {
  absl::Status s = SendFrame(channel_, frame, /*dont_wait=*/true);
  if (IsWouldBlock(s)) {
    return absl::UnavailableError(
        "the broker link is full: the daemon is not reading");
  }
  return s;
}

}  // namespace shmport
