// Bounded waits on a file descriptor: poll(2) against an absolute deadline,
// retried on EINTR. The tests' one way to wait for a pipe, a socket or a
// pidfd.
#ifndef SHMPORT_TESTS_UTIL_FD_WAIT_H_
#define SHMPORT_TESTS_UTIL_FD_WAIT_H_

#include "absl/time/time.h"

namespace shmport::testing {

// The milliseconds from now to `deadline` for poll(2): rounded up (a wait
// never ends before its deadline), 0 once it has passed, at most INT_MAX.
int PollTimeoutMs(absl::Time deadline);

// Waits until `fd` is readable (data, EOF, or an error a read would
// return) or `deadline` passes; false at the deadline.
bool WaitReadable(int fd, absl::Time deadline);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_UTIL_FD_WAIT_H_
