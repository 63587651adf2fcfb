#include "tests/control/light_process.h"

#include <errno.h>
#include <poll.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/broker_link.h"

namespace shmport::testing {
namespace {

// Commands: one byte, then the fields below, in host byte order.
constexpr char kAttach = 'A';  // u64 id, u32 len, address, u32 len, token
constexpr char kCounts = 'C';  // u32 opened, u32 closed
constexpr char kWarmUp = 'W';  // no fields; answers u32 frame size

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
      if (!WriteFull(replies, counts, sizeof(counts))) return 4;
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
  absl::StatusOr<PipedChild> child =
      PipedChild::Fork("light process", ChildMain);
  if (!child.ok()) return child.status();
  return std::unique_ptr<LightProcess>(new LightProcess(*std::move(child)));
}

absl::Status LightProcess::Attach(const std::string& broker_address,
                                  uint64_t process_id, const std::string& token,
                                  absl::Duration timeout) {
  std::string message(1, kAttach);
  message.append(reinterpret_cast<const char*>(&process_id),
                 sizeof(process_id));
  AppendString(&message, broker_address);
  AppendString(&message, token);
  if (absl::Status s = child_.Write(message); !s.ok()) return s;
  int32_t code = 0;
  if (absl::Status s = child_.ReadExactly(&code, sizeof(code), timeout);
      !s.ok()) {
    return s;
  }
  if (code == 0) return absl::OkStatus();
  return absl::Status(
      static_cast<absl::StatusCode>(code),
      absl::StrCat("light process ", pid(), ": attach refused"));
}

absl::Status LightProcess::WarmUp(absl::Duration timeout) {
  if (absl::Status s = child_.Write(std::string(1, kWarmUp)); !s.ok()) {
    return s;
  }
  uint32_t size = 0;
  return child_.ReadExactly(&size, sizeof(size), timeout);
}

absl::StatusOr<LightProcess::Counts> LightProcess::AwaitCounts(
    uint32_t opened, uint32_t closed, absl::Duration timeout) {
  char message[1 + 2 * sizeof(uint32_t)];
  message[0] = kCounts;
  std::memcpy(message + 1, &opened, sizeof(opened));
  std::memcpy(message + 1 + sizeof(opened), &closed, sizeof(closed));
  if (absl::Status s = child_.Write(std::string(message, sizeof(message)));
      !s.ok()) {
    return s;
  }
  uint32_t counts[2];
  if (absl::Status s = child_.ReadExactly(counts, sizeof(counts), timeout);
      !s.ok()) {
    return s;
  }
  return Counts{counts[0], counts[1]};
}

std::string LightProcess::Finish(absl::Duration timeout) {
  child_.CloseInput();
  return child_.process().Wait(timeout);
}

}  // namespace shmport::testing
