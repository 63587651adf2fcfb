#include "tests/security/hostile_sockets.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "shmport/v1/broker.pb.h"
#include "tests/util/fd_wait.h"

namespace shmport::testing {
namespace {

UniqueFd ConnectTo(const std::string& path, int type) {
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
                sizeof(addr)) != 0) {
    fd.Reset();
  }
  return fd;
}

// The name of the AttachResult code in `bytes`, or "malformed".
std::string AttachCode(const char* bytes, ssize_t n) {
  v1::BrokerFrame frame;
  if (!frame.ParseFromArray(bytes, static_cast<int>(n)) ||
      !frame.has_attach_result()) {
    return "malformed";
  }
  return absl::StatusCodeToString(
      static_cast<absl::StatusCode>(frame.attach_result().code()));
}

std::string Counts(const std::map<std::string, int>& codes) {
  std::string out;
  for (const auto& [code, n] : codes) absl::StrAppend(&out, " ", code, "=", n);
  return out;
}

}  // namespace

std::optional<std::string> HostileSockets::Run(const std::string& command,
                                               std::istream& in) {
  if (command == "hold") {
    std::string kind, path;
    int n = 0;
    in >> kind >> path >> n;
    return Hold(kind, path, n);
  }
  if (command == "closed") {
    int expected = 0, timeout_ms = 0;
    in >> expected >> timeout_ms;
    return WaitClosed(expected, timeout_ms);
  }
  if (command == "release") {
    held_.clear();
    codes_.clear();
    return "ok";
  }
  if (command == "flood_attach") {
    std::string broker;
    int max_id = 0, ms = 0;
    in >> broker >> max_id >> ms;
    return FloodAttach(broker, max_id, ms);
  }
  return std::nullopt;
}

std::string HostileSockets::Hold(const std::string& kind,
                                 const std::string& path, int n) {
  const bool seqpacket = kind == "broker";
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    UniqueFd fd = ConnectTo(path, seqpacket ? SOCK_SEQPACKET : SOCK_STREAM);
    if (!fd) {
      ++failed;
      continue;
    }
    held_.push_back({std::move(fd), false, seqpacket});
  }
  return absl::StrCat("ok ", n - failed, " ", failed);
}

void HostileSockets::Drain(Held& held) {
  char buffer[4096];
  while (!held.closed) {
    const ssize_t n = ::recv(held.fd.get(), buffer, sizeof(buffer),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      held.closed = true;  // EOF, or ECONNRESET
    } else if (held.seqpacket) {
      ++codes_[AttachCode(buffer, n)];
    }
  }
}

std::string HostileSockets::WaitClosed(int expected, int timeout_ms) {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(timeout_ms);
  while (true) {
    std::vector<pollfd> open;
    std::vector<Held*> which;
    int closed = 0;
    for (Held& h : held_) {
      Drain(h);
      if (h.closed) {
        ++closed;
      } else {
        open.push_back({h.fd.get(), POLLIN, 0});
        which.push_back(&h);
      }
    }
    const absl::Duration left = deadline - absl::Now();
    if (closed >= expected || open.empty() || left <= absl::ZeroDuration()) {
      return absl::StrCat("ok ", closed, Counts(codes_));
    }
    ::poll(open.data(), open.size(), PollTimeoutMs(deadline));
  }
}

std::string HostileSockets::FloodAttach(const std::string& broker, int max_id,
                                        int ms) {
  std::map<std::string, int> codes;
  int attempts = 0;
  const absl::Time end = absl::Now() + absl::Milliseconds(ms);
  // Each round has an Attach in flight for every id at once, so the daemon
  // meets them in the same wake-ups as the rightful attaches.
  std::vector<UniqueFd> round;
  while (absl::Now() < end) {
    round.clear();
    for (int id = 1; id <= max_id; ++id, ++attempts) {
      UniqueFd fd = ConnectTo(broker, SOCK_SEQPACKET);
      if (!fd) {
        ++codes[absl::StrCat("connect_", strerrorname_np(errno))];
        continue;
      }
      v1::BrokerFrame frame;
      frame.mutable_attach()->set_process_id(static_cast<uint64_t>(id));
      frame.mutable_attach()->set_session_token(std::string(64, '0'));
      const std::string bytes = frame.SerializeAsString();
      if (::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(bytes.size())) {
        ++codes["send_failed"];
        continue;
      }
      round.push_back(std::move(fd));
    }
    for (UniqueFd& fd : round) {
      char answer[4096];
      ssize_t n;
      while ((n = ::recv(fd.get(), answer, sizeof(answer), 0)) < 0 &&
             errno == EINTR) {
      }
      ++codes[n > 0 ? AttachCode(answer, n) : "no_answer"];
    }
  }
  return absl::StrCat("ok ", attempts, Counts(codes));
}

}  // namespace shmport::testing
