#include "common/pid_namespace.h"

#include <errno.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace shmport {
namespace {

std::string ProcPath(pid_t pid, absl::string_view leaf) {
  return pid == 0 ? absl::StrCat("/proc/self/", leaf)
                  : absl::StrCat("/proc/", pid, "/", leaf);
}

absl::Status Unreadable(const std::string& path, int error) {
  const std::string what = absl::StrCat(path, ": ", std::strerror(error));
  if (error == ENOENT || error == ESRCH) {
    return absl::InvalidArgumentError(absl::StrCat(what, " (no such process)"));
  }
  return absl::UnavailableError(what);
}

}  // namespace

absl::StatusOr<uint64_t> PidNamespaceOf(pid_t pid) {
  const std::string path = ProcPath(pid, "ns/pid");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Unreadable(path, errno);
  return static_cast<uint64_t>(st.st_ino);
}

absl::StatusOr<pid_t> InnermostPid(pid_t pid) {
  const std::string path = ProcPath(pid, "status");
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return Unreadable(path, errno);
  // "NSpid:\t4242\t7\t1": outermost (this /proc's namespace) first.
  char line[256];
  absl::string_view innermost;
  bool found = false;
  while (!found && std::fgets(line, sizeof(line), f) != nullptr) {
    absl::string_view text(line);
    if (!absl::ConsumePrefix(&text, "NSpid:")) continue;
    found = true;
    for (absl::string_view field :
         absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
      innermost = field;
    }
  }
  std::fclose(f);
  int value = 0;
  if (!found || !absl::SimpleAtoi(innermost, &value) || value <= 0) {
    return absl::UnavailableError(
        absl::StrCat(path, " has no NSpid line (Linux 4.1 or later needed)"));
  }
  return static_cast<pid_t>(value);
}

}  // namespace shmport
