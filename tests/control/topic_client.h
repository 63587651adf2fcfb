// TopicClient: a forked process with a real Session whose topics go to a
// recording TopicEndpoint (client/topic_endpoint.h), driven by the test
// with one-line commands. The endpoint writes every notice it gets as a
// line ("OPENED ...", "CLOSED ..."), keeps each subscription's socket, and
// reports the stats the test sets, so a test can check what arrived, use
// the sockets (write on one end, read on the other, the kernel's
// SCM_CREDENTIALS) and watch
// the daemon serve the publisher's counters.
//
// Commands (answers: "OK ...", "ERR <CODE> <message>", or as noted):
//   publish TOPIC [HISTORY]       OK <handle>
//   subscribe TOPIC [DROP DEPTH]  OK <handle>
//   unpublish HANDLE / unsubscribe HANDLE
//   send SUB TEXT                 writes TEXT as one datagram on SUB
//   recv SUB                      GOT <text> (waits up to 10 s)
//   passcred SUB                  SO_PASSCRED on SUB's socket
//   recvfrom SUB                  FROM <pid> <text>: the sender's pid as
//                                 the kernel stamped it (SCM_CREDENTIALS)
//   lag SUB N                     Stats() reports lag N, held_chunks N+1
// Notices: OPENED <sub> <peer pid> <peer name> <peer process id> <topic>
//          CLOSED <sub> <code> <reason>
#ifndef SHMPORT_TESTS_CONTROL_TOPIC_CLIENT_H_
#define SHMPORT_TESTS_CONTROL_TOPIC_CLIENT_H_

#include <sys/types.h>

#include <deque>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/util/piped_child.h"

namespace shmport::testing {

class TopicClient {
 public:
  // Forks a child that connects a Session named `name` to the daemon at
  // `address` (stats pushed every 50 ms) and waits for its commands.
  static absl::StatusOr<TopicClient> Start(const std::string& name,
                                           const std::string& address);

  pid_t pid() const { return child_.pid(); }
  PipedChild& child() { return child_; }

  // Sends `command` and returns its answer line (notices that come first
  // are kept for NextNotice).
  absl::StatusOr<std::string> Call(absl::string_view command);
  // The next notice starting with `prefix` ("OPENED", "CLOSED"), split at
  // spaces (the reason of CLOSED stays whole as the last field).
  absl::StatusOr<std::vector<std::string>> NextNotice(
      absl::string_view prefix, absl::Duration timeout = absl::Seconds(10));

 private:
  explicit TopicClient(PipedChild child) : child_(std::move(child)) {}
  PipedChild child_;
  std::deque<std::string> notices_;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_CONTROL_TOPIC_CLIENT_H_
