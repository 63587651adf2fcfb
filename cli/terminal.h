// Terminal: what `shmportctl top` needs of the terminal it draws on.
#ifndef SHMPORT_CLI_TERMINAL_H_
#define SHMPORT_CLI_TERMINAL_H_

#include <termios.h>

#include <cstddef>
#include <optional>

#include "absl/time/time.h"

namespace shmport::cli {

// The width of the terminal on `fd` in columns; 0 when `fd` is not a
// terminal (then nothing is cut).
size_t TerminalColumns(int fd);

// Single key presses from a terminal: while it lives, the terminal on `fd`
// is in non-canonical mode without echo (signals such as Ctrl-C still work),
// and the destructor puts the previous mode back. Inactive (no keys, no
// change) when `fd` is not a terminal. Not thread-safe.
class KeyReader {
 public:
  explicit KeyReader(int fd);
  ~KeyReader();
  KeyReader(const KeyReader&) = delete;
  KeyReader& operator=(const KeyReader&) = delete;

  bool active() const { return active_; }
  // Waits up to `timeout` for a key press; nullopt when none came (or
  // inactive, after waiting).
  std::optional<char> Next(absl::Duration timeout);

 private:
  const int fd_;
  bool active_ = false;
  struct termios saved_ {};
};

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_TERMINAL_H_
