// Helpers for port tests: ports in one process or across a fork, payload
// patterns that prove every byte, and a pipe for cross-process signals.
#ifndef SHMPORT_TESTS_PORTS_PORT_HARNESS_H_
#define SHMPORT_TESTS_PORTS_PORT_HARNESS_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shmport/message.h"
#include "shmport/port.h"
#include "shmport/unique_fd.h"
#include "tests/util/child_process.h"

namespace shmport::testing {

// A connected SOCK_SEQPACKET socketpair.
struct SocketPair {
  UniqueFd a;
  UniqueFd b;
};
SocketPair MakeSocketPair();

// Both ends of a port inside this process (peer pid = our pid).
struct LocalPorts {
  std::unique_ptr<Port> a;
  std::unique_ptr<Port> b;
};
absl::StatusOr<LocalPorts> OpenLocalPorts(const PortOptions& a_options = {},
                                          const PortOptions& b_options = {});

// Options with a small geometry: `chunks` chunks of 4 KiB per segment.
PortOptions SmallPortOptions(uint32_t chunks, uint32_t max_segments);

// Deterministic bytes derived from `seed`; any corruption changes Check.
void FillPattern(uint8_t* data, size_t size, uint64_t seed);
bool CheckPattern(const uint8_t* data, size_t size, uint64_t seed);
// Checks a message's fragments, in order, as one pattern.
bool CheckPattern(const Message& message, uint64_t seed);

// Receives (and drops) messages until `port` fails, each Receive waiting
// up to `timeout`; returns that error, or OK when `max_messages` came
// first. For "whatever arrives, the port ends as UNAVAILABLE".
absl::Status ReceiveUntilError(Port& port, absl::Duration timeout,
                               int max_messages);

// A child process holding the other end of a port to this process.
struct ForkedPeer {
  ChildProcess child;
  std::unique_ptr<Port> port;  // this process's end
};
// Forks a child that opens its end (expecting this process as the peer) and
// exits with body(port)'s return value, or 100 when its Open fails. This
// process opens its own end expecting the child.
absl::StatusOr<ForkedPeer> ForkPeer(const std::function<int(Port&)>& body,
                                    const PortOptions& parent_options = {},
                                    const PortOptions& child_options = {});

// A one-way pipe for telling another process "go" or "done".
class Signal {
 public:
  Signal();
  // Writes one byte (the writer end stays usable).
  void Notify(char value = 1);
  // The next byte, or nullopt on timeout or EOF.
  std::optional<char> Wait(absl::Duration timeout);
  // Call in the process that only writes / only reads, after fork.
  void KeepWriteEnd() { read_.Reset(); }
  void KeepReadEnd() { write_.Reset(); }

 private:
  UniqueFd read_;
  UniqueFd write_;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_PORTS_PORT_HARNESS_H_
