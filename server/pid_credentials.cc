#include "server/pid_credentials.h"

#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace shmport::server {

absl::StatusOr<Credentials> CredentialsOfPid(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/status");
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("pid ", pid, " is not a running process"));
  }
  Credentials creds;
  creds.pid = pid;
  int found = 0;
  char line[256];
  unsigned real = 0, effective = 0;
  while (found < 2 && std::fgets(line, sizeof(line), f) != nullptr) {
    // "Uid:\treal\teffective\tsaved\tfs"
    if (std::sscanf(line, "Uid: %u %u", &real, &effective) == 2) {
      creds.uid = effective;
      ++found;
    } else if (std::sscanf(line, "Gid: %u %u", &real, &effective) == 2) {
      creds.gid = effective;
      ++found;
    }
  }
  std::fclose(f);
  if (found != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("pid ", pid, " exited while being looked up"));
  }
  return creds;
}

}  // namespace shmport::server
