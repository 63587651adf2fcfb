#include "tests/ports/port_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/time/clock.h"
#include "tests/util/fd_wait.h"

namespace shmport::testing {

SocketPair MakeSocketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    std::abort();
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

absl::StatusOr<LocalPorts> OpenLocalPorts(const PortOptions& a_options,
                                          const PortOptions& b_options) {
  SocketPair sp = MakeSocketPair();
  // Both HELLOs first: one thread cannot wait for both handshakes.
  PortOptions a = a_options;
  PortOptions b = b_options;
  if (auto s = Port::SendHello(sp.a.get(), a); !s.ok()) return s;
  if (auto s = Port::SendHello(sp.b.get(), b); !s.ok()) return s;
  a.hello_already_sent = b.hello_already_sent = true;
  const PeerIdentity self{.pid = ::getpid(), .uid = ::geteuid()};
  auto pa = Port::Open(std::move(sp.a), self, a);
  if (!pa.ok()) return pa.status();
  auto pb = Port::Open(std::move(sp.b), self, b);
  if (!pb.ok()) return pb.status();
  return LocalPorts{*std::move(pa), *std::move(pb)};
}

absl::StatusOr<ForkedPeer> ForkPeer(const std::function<int(Port&)>& body,
                                    const PortOptions& parent_options,
                                    const PortOptions& child_options) {
  SocketPair sp = MakeSocketPair();
  const pid_t parent = ::getpid();
  ChildProcess child = ChildProcess::Fork([&]() -> int {
    sp.a.Reset();
    auto port = Port::Open(std::move(sp.b), {.pid = parent, .uid = ::geteuid()},
                           child_options);
    if (!port.ok()) return 100;
    return body(**port);
  });
  sp.b.Reset();
  auto port =
      Port::Open(std::move(sp.a), {.pid = child.pid(), .uid = ::geteuid()},
                 parent_options);
  if (!port.ok()) return port.status();
  return ForkedPeer{std::move(child), *std::move(port)};
}

absl::Status ReceiveUntilError(Port& port, absl::Duration timeout,
                               int max_messages) {
  absl::Status end;
  for (int i = 0; i < max_messages && end.ok(); ++i) {
    end = port.Receive(timeout).status();
  }
  return end;
}

PortOptions SmallPortOptions(uint32_t chunks, uint32_t max_segments) {
  PortOptions o;
  o.geometry = {4096, chunks};
  o.max_segments = max_segments;
  return o;
}

namespace {

// splitmix64: fast, and every output bit depends on seed and position.
inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t WordAt(uint64_t seed, size_t index) {
  return Mix(seed ^ (index * 0x632be59bd9b4e019ull));
}

}  // namespace

void FillPattern(uint8_t* data, size_t size, uint64_t seed) {
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const uint64_t w = WordAt(seed, i / 8);
    std::memcpy(data + i, &w, 8);
  }
  if (i < size) {
    const uint64_t w = WordAt(seed, i / 8);
    std::memcpy(data + i, &w, size - i);
  }
}

bool CheckPattern(const uint8_t* data, size_t size, uint64_t seed) {
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t got;
    std::memcpy(&got, data + i, 8);
    if (got != WordAt(seed, i / 8)) return false;
  }
  if (i < size) {
    const uint64_t w = WordAt(seed, i / 8);
    if (std::memcmp(data + i, &w, size - i) != 0) return false;
  }
  return true;
}

bool CheckPattern(const Message& message, uint64_t seed) {
  if (message.fragment_count() <= 1) {
    return CheckPattern(message.data().data(), message.size(), seed);
  }
  std::unique_ptr<uint8_t[]> all(new uint8_t[message.size()]);
  message.CopyTo(all.get());
  return CheckPattern(all.get(), message.size(), seed);
}

Signal::Signal() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
  read_.Reset(fds[0]);
  write_.Reset(fds[1]);
}

void Signal::Notify(char value) {
  while (::write(write_.get(), &value, 1) < 0 && errno == EINTR) {
  }
}

std::optional<char> Signal::Wait(absl::Duration timeout) {
  if (!WaitReadable(read_.get(), absl::Now() + timeout)) return std::nullopt;
  char c;
  if (::read(read_.get(), &c, 1) != 1) return std::nullopt;
  return c;
}

}  // namespace shmport::testing
