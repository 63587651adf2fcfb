// LightProcess: a child process that plays a registered client as cheaply
// as possible, for load tests and the control-plane benchmark. It attaches
// a broker link, then keeps every port fd the daemon hands it and counts
// notices; it may also hold an idle control connection (light_child.h).
// The parent registers on its behalf (Register's pid is the child's) and
// drives it over a socket pair.
//
// The children are forked by light_zygote, a single-threaded process exec'd
// at the first Fork, never by the (multi-threaded) test: a child forked
// from it could inherit a lock that one of gRPC's threads held at the fork
// (stdio's; the allocator's under ASan) and hang when it exits. They are
// still this process's children: it becomes a child subreaper
// (PR_SET_CHILD_SUBREAPER) and the zygote orphans them. A binary that uses
// LightProcess needs data = ["//tests/control:light_zygote"].
#ifndef SHMPORT_TESTS_CONTROL_LIGHT_PROCESS_H_
#define SHMPORT_TESTS_CONTROL_LIGHT_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "shmport/unique_fd.h"
#include "tests/util/child_process.h"

namespace shmport::testing {

// Thread-safety: none; one thread drives each LightProcess.
class LightProcess {
 public:
  // Starts a child (through light_zygote). It waits for commands; it exits
  // when the parent closes its command pipe (or dies), or with code 3 when
  // the daemon closes the broker link.
  static absl::StatusOr<std::unique_ptr<LightProcess>> Fork();

  // Kills (SIGKILL) and reaps the child if it still runs.
  ~LightProcess() = default;
  LightProcess(const LightProcess&) = delete;
  LightProcess& operator=(const LightProcess&) = delete;

  pid_t pid() const { return child_.pid(); }

  // Has the child attach its broker link; returns the daemon's answer.
  absl::Status Attach(const std::string& broker_address, uint64_t process_id,
                      const std::string& token, absl::Duration timeout);

  // Has the child connect to the daemon's control socket (a path) and
  // open an HTTP/2 connection there, then hold it idle, as a Session's
  // channel does: the daemon's per-connection cost at load. Ends the child
  // (exit 8) if the daemon closes it.
  absl::Status HoldControlConnection(const std::string& socket_path,
                                     absl::Duration timeout);

  struct Counts {
    uint32_t opened = 0;  // PortOpened notices (each with an fd it keeps)
    uint32_t closed = 0;  // PortClosed notices
  };
  // Round trip through the child, which also runs the attach's and the
  // notices' client code once over a socket pair (light_child.cc,
  // WarmUpBrokerPath): the first run after fork takes copy-on-write and
  // first-touch faults, which a benchmark should not count as attach
  // latency. INTERNAL when that run failed.
  absl::Status WarmUp(absl::Duration timeout);

  // Waits until the child has seen at least `opened` and `closed` notices
  // and returns its counts (DEADLINE_EXCEEDED after `timeout`).
  absl::StatusOr<Counts> AwaitCounts(uint32_t opened, uint32_t closed,
                                     absl::Duration timeout);

  // Ends the child: closing its pipe makes it exit 0.
  std::string Finish(absl::Duration timeout);
  void Kill(int signal) { child_.Kill(signal); }

 private:
  LightProcess(ChildProcess child, UniqueFd channel)
      : child_(std::move(child)), channel_(std::move(channel)) {}
  absl::Status ReadReply(void* data, size_t size, absl::Duration timeout);
  // Sends a command and reads its fixed-size reply.
  absl::Status Ask(absl::string_view message, void* reply, size_t reply_size,
                   absl::Duration timeout);

  ChildProcess child_;
  UniqueFd channel_;  // commands to the child, its replies back
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_CONTROL_LIGHT_PROCESS_H_
