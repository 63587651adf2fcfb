// PipedChild: a child process the test drives over two pipes, the harness
// under every scripted child of the tests (control_client, foreign_client,
// the light and the stream workers). The parent writes commands; the child
// answers; every read of the parent is bounded by a deadline, and the
// child sees EOF on its input when the parent closes it or dies.
#ifndef SHMPORT_TESTS_UTIL_PIPED_CHILD_H_
#define SHMPORT_TESTS_UTIL_PIPED_CHILD_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "shmport/unique_fd.h"
#include "tests/util/child_process.h"

namespace shmport::testing {

// Thread-safety: none; one thread drives each PipedChild. Its errors name
// the child by `name` ("stream worker") and pid.
class PipedChild {
 public:
  // Forks; the child runs body(in, out) with its ends of the two pipes
  // (commands arrive on `in`, answers go to `out`) and _exits with its
  // value. Only stdio and those two ends stay open in it: without exec,
  // close-on-exec closes nothing, and a child holding the parent's ends of
  // its siblings' pipes would keep them from ever seeing EOF.
  static absl::StatusOr<PipedChild> Fork(
      std::string name, const std::function<int(int in, int out)>& body);

  // Forks and execs argv[0] with `argv`, its stdin and stdout being the two
  // pipes (it must log to stderr only). `before_exec` runs in the child
  // first, with async-signal-safe calls only (drop privileges, chdir...);
  // when it returns false the child exits 126; 127 when exec fails.
  static absl::StatusOr<PipedChild> Exec(
      std::string name, std::vector<std::string> argv,
      const std::function<bool()>& before_exec = nullptr);

  PipedChild(PipedChild&& other) noexcept = default;
  PipedChild& operator=(PipedChild&&) = delete;
  // SIGKILLs and reaps the child if it still runs.
  ~PipedChild() = default;

  pid_t pid() const { return child_.pid(); }
  ChildProcess& process() { return child_; }

  // Writes all of `bytes` to the child. UNAVAILABLE when it closed its
  // input (it exited).
  absl::Status Write(absl::string_view bytes);
  // Reads exactly `size` bytes. DEADLINE_EXCEEDED after `timeout`,
  // UNAVAILABLE at EOF (the child exited).
  absl::Status ReadExactly(void* data, size_t size, absl::Duration timeout);
  // The next line the child writes, without "\n". DEADLINE_EXCEEDED after
  // `timeout` (the message quotes what came so far), UNAVAILABLE at EOF.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  // Closes the child's input: it reads EOF.
  void CloseInput() { to_child_.Reset(); }

 private:
  PipedChild(std::string name, ChildProcess child, UniqueFd to_child,
             UniqueFd from_child)
      : name_(std::move(name)),
        child_(std::move(child)),
        to_child_(std::move(to_child)),
        from_child_(std::move(from_child)) {}
  // Appends what the child wrote, waiting until `deadline`; the error
  // names `timeout`.
  absl::Status ReadMore(absl::Time deadline, absl::Duration timeout);
  std::string Describe() const;  // "stream worker (pid 123)"

  std::string name_;
  ChildProcess child_;
  UniqueFd to_child_;     // parent -> child
  UniqueFd from_child_;   // child -> parent
  std::string buffered_;  // read, not yet returned
};

// The child's side of a pipe conversation: blocking, EINTR-safe.
// False on EOF or an error.
bool ReadFull(int fd, void* data, size_t size);
bool WriteFull(int fd, const void* data, size_t size);
// A string as u32 length (host order) then bytes; ReadString refuses a
// length above `max_size`.
void AppendString(std::string* out, absl::string_view s);
bool ReadString(int fd, std::string* s, size_t max_size = 4096);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_UTIL_PIPED_CHILD_H_
