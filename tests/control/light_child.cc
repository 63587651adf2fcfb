#include "tests/control/light_child.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/broker_link.h"
#include "common/paths/daemon_identity.h"
#include "common/receive_buffer.h"
#include "common/unix_channel.h"
#include "tests/util/piped_child.h"

namespace shmport::testing {
namespace {

// What a gRPC client sends first on a new connection (RFC 9113 §3.4): the
// preface, then an empty SETTINGS frame; and its ACK of the server's
// SETTINGS.
constexpr char kHttp2Preface[] =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
constexpr char kSettingsAck[] = "\0\0\0\x04\x01\0\0\0\0";

// Connects to the daemon's control socket and opens an HTTP/2 connection
// on it, as a Session's gRPC channel does. Returns the fd, or -errno.
int OpenControlConnection(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return -ENAMETOOLONG;
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address),
                sizeof(address)) != 0 ||
      !WriteFull(fd, kHttp2Preface, sizeof(kHttp2Preface) - 1)) {
    const int error = errno;
    ::close(fd);
    return -error;
  }
  return fd;
}

// The control connection spoke: discard what it said (the server's
// SETTINGS, window updates) and acknowledge its settings once. False when
// the daemon closed it.
bool DrainControl(int fd, bool* acked) {
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof(buffer));
  if (n <= 0) return n < 0 && errno == EINTR;
  if (!*acked) {
    *acked = WriteFull(fd, kSettingsAck, sizeof(kSettingsAck) - 1);
  }
  return true;
}

// Runs the code the attach and the notices will run, once, over a socket
// pair: the SO_PEERCRED check, an Attach out, an AttachResult and a
// PortOpened (with an fd) back through ReceiveKeepingDatagram and
// ParseBrokerNotice. A freshly forked child's first run of that code pays
// copy-on-write and first-touch page faults, a cost of this harness (a
// real client has run its code before it attaches), which the benchmark
// must not time as attach latency. Returns the Attach frame's size, or 0
// when a step failed.
uint32_t WarmUpBrokerPath() {
  absl::StatusOr<std::pair<UnixChannel, UnixChannel>> pair =
      UnixChannel::Pair();
  if (!pair.ok()) return 0;
  auto& [ours, daemon] = *pair;
  if (!CheckPeer(ours.fd(), DaemonSelf(), "the warm-up socket").ok()) return 0;
  v1::BrokerFrame frame;
  frame.mutable_attach()->set_process_id(1);
  frame.mutable_attach()->set_session_token(std::string(64, '0'));
  const std::string attach = frame.SerializeAsString();
  v1::BrokerFrame result, opened;
  result.mutable_attach_result()->set_code(0);
  opened.mutable_port_opened()->set_port_id(1);
  const std::string answers[2] = {result.SerializeAsString(),
                                  opened.SerializeAsString()};
  auto bytes = [](const std::string& s) {
    return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                               s.size());
  };
  const int fd = daemon.fd();
  if (!ours.Send(bytes(attach)).ok() || !daemon.Send(bytes(answers[0])).ok() ||
      !daemon.Send(bytes(answers[1]), absl::MakeConstSpan(&fd, 1)).ok() ||
      !ours.SetNonBlocking(true).ok()) {
    return 0;
  }
  ReceiveBuffer buffer(BrokerLink::kMaxFrame + 1);
  for (int i = 0; i < 2; ++i) {
    auto got = ours.ReceiveKeepingDatagram(buffer.span(), true);
    if (!got.ok() || !got->has_value()) return 0;
    auto notice = ParseBrokerNotice(buffer.span().first((*got)->size),
                                    std::move((*got)->fds));
    if (!notice.ok() || (i == 0 && !AttachResultStatus(notice->frame).ok())) {
      return 0;
    }
  }
  return static_cast<uint32_t>(attach.size());
}

}  // namespace

int RunLightChild(int channel) {
  const int commands = channel, replies = channel;
  BrokerLink link;
  std::vector<UniqueFd> ports;  // kept open, as a real client would
  ports.reserve(64);            // not grown (and faulted) while timed
  uint32_t opened = 0, closed = 0;
  bool waiting = false;  // a kLightCounts request is pending
  uint32_t want_opened = 0, want_closed = 0;
  UniqueFd control;  // the held control connection, if asked for
  bool control_acked = false;
  while (true) {
    if (waiting && opened >= want_opened && closed >= want_closed) {
      const uint32_t counts[2] = {opened, closed};
      if (!WriteFull(replies, counts, sizeof(counts))) return 4;
      waiting = false;
    }
    pollfd fds[3] = {{commands, POLLIN, 0},
                     {link.valid() ? link.fd() : -1, POLLIN, 0},
                     {control.get(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return 5;
    }
    if (fds[2].revents != 0 && !DrainControl(control.get(), &control_acked)) {
      return 8;  // the daemon closed the control connection
    }
    if (fds[1].revents != 0) {
      while (true) {
        auto notice = link.Receive();
        if (!notice.ok()) return 3;  // the daemon closed the link
        if (!notice->has_value()) break;
        if ((*notice)->frame.has_port_opened()) {
          ++opened;
          ports.push_back(std::move((*notice)->fd));
        } else if ((*notice)->frame.has_port_closed()) {
          ++closed;
        }
      }
    }
    if (fds[0].revents == 0) continue;
    char command;
    if (!ReadFull(commands, &command, 1)) return 0;  // parent is done
    if (command == kLightAttach) {
      uint64_t id = 0;
      std::string address, token;
      if (!ReadFull(commands, &id, sizeof(id)) ||
          !ReadString(commands, &address) || !ReadString(commands, &token)) {
        return 6;
      }
      auto attached = BrokerLink::Attach(address, id, token, absl::Seconds(30));
      const int32_t code = static_cast<int32_t>(attached.status().code());
      if (attached.ok()) link = std::move(*attached);
      if (!WriteFull(replies, &code, sizeof(code))) return 4;
    } else if (command == kLightWarmUp) {
      const uint32_t size = WarmUpBrokerPath();
      if (!WriteFull(replies, &size, sizeof(size))) return 4;
    } else if (command == kLightControl) {
      std::string path;
      if (!ReadString(commands, &path)) return 6;
      const int fd = OpenControlConnection(path);
      const int32_t error = fd < 0 ? -fd : 0;
      if (fd >= 0) control.Reset(fd);
      if (!WriteFull(replies, &error, sizeof(error))) return 4;
    } else if (command == kLightCounts) {
      uint32_t want[2];
      if (!ReadFull(commands, want, sizeof(want))) return 6;
      want_opened = want[0];
      want_closed = want[1];
      waiting = true;
    } else {
      return 7;
    }
  }
}

}  // namespace shmport::testing
