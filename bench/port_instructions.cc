// A fixed-count driver for instruction counts of the port's data path:
//   port_instructions stream N   (1 KiB one-way, the parent sends)
//   port_instructions pingpong N (64 B round trips, the parent starts)
// Run under `valgrind --tool=callgrind` with two values of N and divide the
// difference of the parent's instruction counts by the difference of N:
// setup cancels out. Spinning is off, so the count does not depend on how
// long the peer took.
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shmport/port.h"

namespace {

std::unique_ptr<shmport::Port> OpenEnd(int fd) {
  shmport::PortOptions options;
  options.receive_spin = absl::ZeroDuration();
  options.adaptive_spin = absl::ZeroDuration();
  auto port = shmport::Port::Open(shmport::UniqueFd(fd), {}, options);
  if (!port.ok()) {
    std::fprintf(stderr, "open: %s\n", port.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(port);
}

void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
}

void Stream(shmport::Port& port, bool sender, int n) {
  for (int i = 0; i < n; ++i) {
    if (sender) {
      auto b = port.Allocate(1024);
      Check(b.status());
      std::memset(b->data(), i, 1024);
      Check(port.Send(1, *std::move(b)));
    } else {
      Check(port.Receive(absl::Seconds(30)).status());
    }
  }
  if (sender) {
    Check(port.Receive(absl::Seconds(30)).status());  // the receiver is done
  } else {
    Check(port.SendCopy(1, {}));
  }
}

void PingPong(shmport::Port& port, bool first, int n) {
  uint8_t bytes[64] = {};
  for (int i = 0; i < n; ++i) {
    if (first) Check(port.SendCopy(1, bytes));
    Check(port.Receive(absl::Seconds(30)).status());
    if (!first) Check(port.SendCopy(1, bytes));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s stream|pingpong N\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const int n = std::atoi(argv[2]);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return 1;
  }
  const pid_t child = ::fork();
  const bool parent = child != 0;
  ::close(fds[parent ? 1 : 0]);
  auto port = OpenEnd(fds[parent ? 0 : 1]);
  if (mode == "stream") {
    Stream(*port, parent, n);
  } else {
    PingPong(*port, parent, n);
  }
  port.reset();
  if (parent) {
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  return 0;
}
