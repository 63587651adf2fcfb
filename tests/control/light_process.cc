#include "tests/control/light_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/broker_link.h"

namespace shmport::testing {
namespace {

// Commands: one byte, then the fields below, in host byte order.
constexpr char kAttach = 'A';  // u64 id, u32 len, address, u32 len, token
constexpr char kCounts = 'C';  // u32 opened, u32 closed
constexpr char kWarmUp = 'W';  // no fields; answers u32 frame size

bool ReadAll(int fd, void* data, size_t size) {
  auto* p = static_cast<uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteAll(int fd, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool ReadString(int fd, std::string* s) {
  uint32_t length = 0;
  if (!ReadAll(fd, &length, sizeof(length)) || length > 4096) return false;
  s->resize(length);
  return ReadAll(fd, s->data(), length);
}

void AppendString(std::string* out, const std::string& s) {
  const uint32_t length = s.size();
  out->append(reinterpret_cast<const char*>(&length), sizeof(length));
  out->append(s);
}

// The child's whole life. Returns its exit code.
int ChildMain(int commands, int replies) {
  BrokerLink link;
  std::vector<UniqueFd> ports;  // kept open, as a real client would
  uint32_t opened = 0, closed = 0;
  bool waiting = false;  // a kCounts request is pending
  uint32_t want_opened = 0, want_closed = 0;
  while (true) {
    if (waiting && opened >= want_opened && closed >= want_closed) {
      const uint32_t counts[2] = {opened, closed};
      if (!WriteAll(replies, counts, sizeof(counts))) return 4;
      waiting = false;
    }
    pollfd fds[2] = {{commands, POLLIN, 0},
                     {link.valid() ? link.fd() : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 5;
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
    if (!ReadAll(commands, &command, 1)) return 0;  // parent is done
    if (command == kAttach) {
      uint64_t id = 0;
      std::string address, token;
      if (!ReadAll(commands, &id, sizeof(id)) ||
          !ReadString(commands, &address) || !ReadString(commands, &token)) {
        return 6;
      }
      auto attached = BrokerLink::Attach(address, id, token, absl::Seconds(30));
      const int32_t code = static_cast<int32_t>(attached.status().code());
      if (attached.ok()) link = std::move(*attached);
      if (!WriteAll(replies, &code, sizeof(code))) return 4;
    } else if (command == kWarmUp) {
      v1::BrokerFrame frame;
      frame.mutable_attach()->set_process_id(1);
      frame.mutable_attach()->set_session_token(std::string(64, '0'));
      const uint32_t size = frame.SerializeAsString().size();
      if (!WriteAll(replies, &size, sizeof(size))) return 4;
    } else if (command == kCounts) {
      uint32_t want[2];
      if (!ReadAll(commands, want, sizeof(want))) return 6;
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
  int commands[2], replies[2];
  if (::pipe2(commands, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  if (::pipe2(replies, O_CLOEXEC) != 0) {
    ::close(commands[0]);
    ::close(commands[1]);
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  ChildProcess child = ChildProcess::Fork([&] {
    // Keep only stdio and our two pipe ends. Without exec, CLOEXEC closes
    // nothing: this child would hold the parent's ends of every earlier
    // child's pipes, and those children would never see their EOF.
    const int keep_low = std::min(commands[0], replies[1]);
    const int keep_high = std::max(commands[0], replies[1]);
    ::close_range(3, keep_low - 1, 0);
    ::close_range(keep_low + 1, keep_high - 1, 0);
    ::close_range(keep_high + 1, ~0U, 0);
    return ChildMain(commands[0], replies[1]);
  });
  ::close(commands[0]);
  ::close(replies[1]);
  return std::unique_ptr<LightProcess>(new LightProcess(
      std::move(child), UniqueFd(commands[1]), UniqueFd(replies[0])));
}

absl::Status LightProcess::ReadReply(void* data, size_t size,
                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto* p = static_cast<uint8_t*>(data);
  while (size > 0) {
    pollfd fd{replies_.get(), POLLIN, 0};
    const int ms = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    const int r = ::poll(&fd, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("light process ", pid(), " did not answer"));
    }
    const ssize_t n = ::read(replies_.get(), p, size);
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

absl::Status LightProcess::Attach(const std::string& broker_address,
                                  uint64_t process_id, const std::string& token,
                                  absl::Duration timeout) {
  std::string message(1, kAttach);
  message.append(reinterpret_cast<const char*>(&process_id),
                 sizeof(process_id));
  AppendString(&message, broker_address);
  AppendString(&message, token);
  if (!WriteAll(commands_.get(), message.data(), message.size())) {
    return absl::UnavailableError(
        absl::StrCat("light process ", pid(), " is gone"));
  }
  int32_t code = 0;
  if (absl::Status s = ReadReply(&code, sizeof(code), timeout); !s.ok()) {
    return s;
  }
  if (code == 0) return absl::OkStatus();
  return absl::Status(
      static_cast<absl::StatusCode>(code),
      absl::StrCat("light process ", pid(), ": attach refused"));
}

absl::Status LightProcess::WarmUp(absl::Duration timeout) {
  if (!WriteAll(commands_.get(), &kWarmUp, 1)) {
    return absl::UnavailableError(
        absl::StrCat("light process ", pid(), " is gone"));
  }
  uint32_t size = 0;
  return ReadReply(&size, sizeof(size), timeout);
}

absl::StatusOr<LightProcess::Counts> LightProcess::AwaitCounts(
    uint32_t opened, uint32_t closed, absl::Duration timeout) {
  char message[1 + 2 * sizeof(uint32_t)];
  message[0] = kCounts;
  std::memcpy(message + 1, &opened, sizeof(opened));
  std::memcpy(message + 1 + sizeof(opened), &closed, sizeof(closed));
  if (!WriteAll(commands_.get(), message, sizeof(message))) {
    return absl::UnavailableError(
        absl::StrCat("light process ", pid(), " is gone"));
  }
  uint32_t counts[2];
  if (absl::Status s = ReadReply(counts, sizeof(counts), timeout); !s.ok()) {
    return s;
  }
  return Counts{counts[0], counts[1]};
}

std::string LightProcess::Finish(absl::Duration timeout) {
  commands_.Reset();
  return child_.Wait(timeout);
}

}  // namespace shmport::testing
