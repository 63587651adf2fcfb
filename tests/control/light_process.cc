#include "tests/control/light_process.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/broker_link.h"
#include "tests/util/piped_child.h"

namespace shmport::testing {
namespace {

// Commands: one byte, then the fields below, in host byte order.
constexpr char kAttach = 'A';   // u64 id, u32 len, address, u32 len, token
constexpr char kCounts = 'C';   // u32 opened, u32 closed
constexpr char kWarmUp = 'W';   // no fields; answers u32 frame size
constexpr char kControl = 'G';  // u32 len, socket path; answers i32 errno

// What a gRPC client sends first on a new connection (RFC 9113 §3.4): the
// preface, then an empty SETTINGS frame; and its ACK of the server's
// SETTINGS.
constexpr char kHttp2Preface[] =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
constexpr char kSettingsAck[] = "\0\0\0\x04\x01\0\0\0\0";

bool ReadString(int fd, std::string* s) {
  uint32_t length = 0;
  if (!ReadFull(fd, &length, sizeof(length)) || length > 4096) return false;
  s->resize(length);
  return ReadFull(fd, s->data(), length);
}

void AppendString(std::string* out, const std::string& s) {
  const uint32_t length = s.size();
  out->append(reinterpret_cast<const char*>(&length), sizeof(length));
  out->append(s);
}

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

// The child's whole life. Returns its exit code.
int ChildMain(int commands, int replies) {
  BrokerLink link;
  std::vector<UniqueFd> ports;  // kept open, as a real client would
  uint32_t opened = 0, closed = 0;
  bool waiting = false;  // a kCounts request is pending
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
    if (command == kAttach) {
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
    } else if (command == kWarmUp) {
      v1::BrokerFrame frame;
      frame.mutable_attach()->set_process_id(1);
      frame.mutable_attach()->set_session_token(std::string(64, '0'));
      const uint32_t size = frame.SerializeAsString().size();
      if (!WriteFull(replies, &size, sizeof(size))) return 4;
    } else if (command == kControl) {
      std::string path;
      if (!ReadString(commands, &path)) return 6;
      const int fd = OpenControlConnection(path);
      const int32_t error = fd < 0 ? -fd : 0;
      if (fd >= 0) control.Reset(fd);
      if (!WriteFull(replies, &error, sizeof(error))) return 4;
    } else if (command == kCounts) {
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

}  // namespace

absl::StatusOr<std::unique_ptr<LightProcess>> LightProcess::Fork() {
  // One socket both ways: a single fd per child here, so that ten thousand
  // children fit the parent's RLIMIT_NOFILE.
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return absl::InternalError(
        absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  ChildProcess child = ChildProcess::Fork([&] {
    // Keep only stdio and our end. Without exec, CLOEXEC closes nothing:
    // this child would hold the parent's ends of every earlier child's
    // channel, and those children would never see their EOF.
    const int mine = ends[1];
    ::close_range(3, mine - 1, 0);
    ::close_range(mine + 1, ~0U, 0);
    return ChildMain(mine, mine);
  });
  ::close(ends[1]);
  return std::unique_ptr<LightProcess>(
      new LightProcess(std::move(child), UniqueFd(ends[0])));
}

absl::Status LightProcess::ReadReply(void* data, size_t size,
                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto* p = static_cast<uint8_t*>(data);
  while (size > 0) {
    pollfd fd{channel_.get(), POLLIN, 0};
    const int ms = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    const int r = ::poll(&fd, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("light process ", pid(), " did not answer"));
    }
    const ssize_t n = ::read(channel_.get(), p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(
          absl::StrCat("light process ", pid(), " exited"));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status LightProcess::Ask(absl::string_view message, void* reply,
                               size_t reply_size, absl::Duration timeout) {
  if (!WriteFull(channel_.get(), message.data(), message.size())) {
    return absl::UnavailableError(
        absl::StrCat("light process ", pid(), " is gone"));
  }
  return ReadReply(reply, reply_size, timeout);
}

absl::Status LightProcess::Attach(const std::string& broker_address,
                                  uint64_t process_id, const std::string& token,
                                  absl::Duration timeout) {
  std::string message(1, kAttach);
  message.append(reinterpret_cast<const char*>(&process_id),
                 sizeof(process_id));
  AppendString(&message, broker_address);
  AppendString(&message, token);
  int32_t code = 0;
  if (absl::Status s = Ask(message, &code, sizeof(code), timeout); !s.ok()) {
    return s;
  }
  if (code == 0) return absl::OkStatus();
  return absl::Status(
      static_cast<absl::StatusCode>(code),
      absl::StrCat("light process ", pid(), ": attach refused"));
}

absl::Status LightProcess::HoldControlConnection(const std::string& socket_path,
                                                 absl::Duration timeout) {
  std::string message(1, kControl);
  AppendString(&message, socket_path);
  int32_t error = 0;
  if (absl::Status s = Ask(message, &error, sizeof(error), timeout); !s.ok()) {
    return s;
  }
  if (error == 0) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("light process ", pid(),
                                             ": connect to ", socket_path, ": ",
                                             std::strerror(error)));
}

absl::Status LightProcess::WarmUp(absl::Duration timeout) {
  uint32_t size = 0;
  return Ask(absl::string_view(&kWarmUp, 1), &size, sizeof(size), timeout);
}

absl::StatusOr<LightProcess::Counts> LightProcess::AwaitCounts(
    uint32_t opened, uint32_t closed, absl::Duration timeout) {
  char message[1 + 2 * sizeof(uint32_t)];
  message[0] = kCounts;
  std::memcpy(message + 1, &opened, sizeof(opened));
  std::memcpy(message + 1 + sizeof(opened), &closed, sizeof(closed));
  uint32_t counts[2];
  if (absl::Status s = Ask(absl::string_view(message, sizeof(message)), counts,
                           sizeof(counts), timeout);
      !s.ok()) {
    return s;
  }
  return Counts{counts[0], counts[1]};
}

std::string LightProcess::Finish(absl::Duration timeout) {
  channel_.Reset();
  return child_.Wait(timeout);
}

}  // namespace shmport::testing
