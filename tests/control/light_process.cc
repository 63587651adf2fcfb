#include "tests/control/light_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/unix_channel.h"
#include "tests/control/light_child.h"
#include "tests/util/piped_child.h"
#include "tests/util/runfiles.h"

namespace shmport::testing {
namespace {

// The light_zygote process (tests/control/light_zygote_main.cc) and the
// channel to it. Started once, at the first Fork.
class Zygote {
 public:
  static absl::StatusOr<Zygote*> Get() {
    static absl::StatusOr<Zygote*>* zygote =
        new absl::StatusOr<Zygote*>(Start());
    return *zygote;
  }

  // A new child: its pid (now this process's child) and its channel.
  absl::StatusOr<std::pair<pid_t, UniqueFd>> Spawn() {
    const uint8_t request = 'F';
    if (absl::Status s = channel_.Send(absl::MakeConstSpan(&request, 1));
        !s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("light_zygote is gone: ", s.message()));
    }
    int32_t answer[2] = {-1, 0};
    auto received = channel_.Receive(
        absl::MakeSpan(reinterpret_cast<uint8_t*>(answer), sizeof(answer)));
    if (!received.ok()) return received.status();
    if (!received->has_value() || (*received)->size != sizeof(answer)) {
      return absl::UnavailableError("light_zygote answered nothing");
    }
    if (answer[0] <= 0 || (*received)->fds.size() != 1) {
      return absl::InternalError(absl::StrCat("light_zygote could not fork: ",
                                              std::strerror(answer[1])));
    }
    return std::make_pair(static_cast<pid_t>(answer[0]),
                          std::move((*received)->fds[0]));
  }

 private:
  Zygote(ChildProcess process, UnixChannel channel)
      : process_(std::move(process)), channel_(std::move(channel)) {}

  static absl::StatusOr<Zygote*> Start() {
    // The zygote's grandchildren are orphaned on purpose: they become ours.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
      return absl::InternalError(absl::StrCat("prctl(PR_SET_CHILD_SUBREAPER): ",
                                              std::strerror(errno)));
    }
    const std::string binary = FindRunfile("tests/control/light_zygote");
    if (::access(binary.c_str(), X_OK) != 0) {
      return absl::NotFoundError(
          absl::StrCat("no light_zygote at ", binary,
                       " (add data = [\"//tests/control:light_zygote\"])"));
    }
    auto pair = UnixChannel::Pair();
    if (!pair.ok()) return pair.status();
    const int theirs = pair->second.fd();
    // Only async-signal-safe calls between fork and exec.
    ChildProcess process = ChildProcess::Fork([&] {
      if (theirs == 3 ? ::fcntl(3, F_SETFD, 0) != 0 : ::dup2(theirs, 3) < 0) {
        return 126;
      }
      ::close_range(4, ~0U, 0);
      char fd_arg[] = "3";
      char* argv[] = {const_cast<char*>(binary.c_str()), fd_arg, nullptr};
      ::execv(binary.c_str(), argv);
      return 127;
    });
    pair->second.Close();
    return new Zygote(std::move(process), std::move(pair->first));
  }

  ChildProcess process_;
  UnixChannel channel_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LightProcess>> LightProcess::Fork() {
  absl::StatusOr<Zygote*> zygote = Zygote::Get();
  if (!zygote.ok()) return zygote.status();
  auto spawned = (*zygote)->Spawn();
  if (!spawned.ok()) return spawned.status();
  return std::unique_ptr<LightProcess>(new LightProcess(
      ChildProcess::Adopt(spawned->first), std::move(spawned->second)));
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
  std::string message(1, kLightAttach);
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
  std::string message(1, kLightControl);
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
  if (absl::Status s = Ask(absl::string_view(&kLightWarmUp, 1), &size,
                           sizeof(size), timeout);
      !s.ok()) {
    return s;
  }
  if (size == 0) {
    return absl::InternalError(absl::StrCat(
        "light process ", pid(), ": its warm-up of the broker path failed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LightProcess::Counts> LightProcess::AwaitCounts(
    uint32_t opened, uint32_t closed, absl::Duration timeout) {
  char message[1 + 2 * sizeof(uint32_t)];
  message[0] = kLightCounts;
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
