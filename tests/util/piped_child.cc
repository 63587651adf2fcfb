#include "tests/util/piped_child.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/util/fd_wait.h"

namespace shmport::testing {
namespace {

// The two pipes of a conversation, before the fork.
struct Pipes {
  UniqueFd child_in;    // the child reads
  UniqueFd parent_out;  // the parent writes
  UniqueFd parent_in;   // the parent reads
  UniqueFd child_out;   // the child writes
};

absl::StatusOr<Pipes> MakePipes() {
  int commands[2], replies[2];
  if (::pipe2(commands, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  if (::pipe2(replies, O_CLOEXEC) != 0) {
    ::close(commands[0]);
    ::close(commands[1]);
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  return Pipes{UniqueFd(commands[0]), UniqueFd(commands[1]),
               UniqueFd(replies[0]), UniqueFd(replies[1])};
}

// In the child: closes every fd above stderr but `a` and `b`.
void KeepOnly(int a, int b) {
  const int low = std::min(a, b);
  const int high = std::max(a, b);
  ::close_range(3, low - 1, 0);
  ::close_range(low + 1, high - 1, 0);
  ::close_range(high + 1, ~0U, 0);
}

}  // namespace

absl::StatusOr<PipedChild> PipedChild::Fork(
    std::string name, const std::function<int(int in, int out)>& body) {
  absl::StatusOr<Pipes> pipes = MakePipes();
  if (!pipes.ok()) return pipes.status();
  const int in = pipes->child_in.get();
  const int out = pipes->child_out.get();
  ChildProcess child = ChildProcess::Fork([&] {
    KeepOnly(in, out);
    return body(in, out);
  });
  return PipedChild(std::move(name), std::move(child),
                    std::move(pipes->parent_out), std::move(pipes->parent_in));
}

absl::StatusOr<PipedChild> PipedChild::Exec(
    std::string name, std::vector<std::string> argv,
    const std::function<bool()>& before_exec) {
  absl::StatusOr<Pipes> pipes = MakePipes();
  if (!pipes.ok()) return pipes.status();
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int in = pipes->child_in.get();
  const int out = pipes->child_out.get();
  ChildProcess child = ChildProcess::Fork([&] {
    // Only async-signal-safe calls until exec.
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::close_range(3, ~0U, 0);
    if (before_exec && !before_exec()) return 126;
    ::execv(args[0], args.data());
    return 127;
  });
  return PipedChild(std::move(name), std::move(child),
                    std::move(pipes->parent_out), std::move(pipes->parent_in));
}

std::string PipedChild::Describe() const {
  return absl::StrCat(name_, " (pid ", pid(), ")");
}

absl::Status PipedChild::Write(absl::string_view bytes) {
  if (!to_child_ || !WriteFull(to_child_.get(), bytes.data(), bytes.size())) {
    return absl::UnavailableError(
        absl::StrCat(Describe(), " is gone: its input pipe is closed"));
  }
  return absl::OkStatus();
}

absl::Status PipedChild::ReadMore(absl::Time deadline, absl::Duration timeout) {
  while (true) {
    if (!WaitReadable(from_child_.get(), deadline)) {
      return absl::DeadlineExceededError(
          absl::StrCat(Describe(), " did not answer within ",
                       absl::FormatDuration(timeout)));
    }
    char chunk[4096];
    const ssize_t n = ::read(from_child_.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(
          absl::StrCat(Describe(), " closed its output pipe (it exited)"));
    }
    buffered_.append(chunk, static_cast<size_t>(n));
    return absl::OkStatus();
  }
}

absl::Status PipedChild::ReadExactly(void* data, size_t size,
                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (buffered_.size() < size) {
    if (absl::Status s = ReadMore(deadline, timeout); !s.ok()) return s;
  }
  std::memcpy(data, buffered_.data(), size);
  buffered_.erase(0, size);
  return absl::OkStatus();
}

absl::StatusOr<std::string> PipedChild::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const size_t newline = buffered_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    if (absl::Status s = ReadMore(deadline, timeout); !s.ok()) {
      if (!absl::IsDeadlineExceeded(s)) return s;
      return absl::DeadlineExceededError(
          absl::StrCat(s.message(), " (a line so far: \"", buffered_, "\")"));
    }
  }
}

bool ReadFull(int fd, void* data, size_t size) {
  auto* p = static_cast<uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteFull(int fd, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void AppendString(std::string* out, absl::string_view s) {
  const uint32_t length = static_cast<uint32_t>(s.size());
  out->append(reinterpret_cast<const char*>(&length), sizeof(length));
  out->append(s.data(), s.size());
}

bool ReadString(int fd, std::string* s, size_t max_size) {
  uint32_t length = 0;
  if (!ReadFull(fd, &length, sizeof(length)) || length > max_size) {
    return false;
  }
  s->resize(length);
  return ReadFull(fd, s->data(), length);
}

}  // namespace shmport::testing
