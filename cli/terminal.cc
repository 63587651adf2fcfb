#include "cli/terminal.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "absl/time/clock.h"

namespace shmport::cli {

size_t TerminalColumns(int fd) {
  struct winsize size {};
  if (::isatty(fd) != 1 || ::ioctl(fd, TIOCGWINSZ, &size) != 0) return 0;
  return size.ws_col;
}

KeyReader::KeyReader(int fd) : fd_(fd) {
  if (::isatty(fd_) != 1 || ::tcgetattr(fd_, &saved_) != 0) return;
  struct termios raw = saved_;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
}

KeyReader::~KeyReader() {
  if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
}

std::optional<char> KeyReader::Next(absl::Duration timeout) {
  const int64_t ms = std::clamp<int64_t>(absl::ToInt64Milliseconds(timeout), 0,
                                         int64_t{1} << 30);
  if (!active_) {
    ::poll(nullptr, 0, static_cast<int>(ms));
    return std::nullopt;
  }
  struct pollfd p = {.fd = fd_, .events = POLLIN, .revents = 0};
  if (::poll(&p, 1, static_cast<int>(ms)) <= 0) return std::nullopt;
  char c = 0;
  if (::read(fd_, &c, 1) != 1) {
    // The terminal went away (hang-up): no more keys; wait like a sleep.
    active_ = false;
    return std::nullopt;
  }
  return c;
}

}  // namespace shmport::cli
