#include "tests/util/other_user.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace shmport::testing {

absl::StatusOr<std::unique_ptr<BinaryCopy>> BinaryCopy::Make(
    const std::string& binary) {
  std::unique_ptr<BinaryCopy> copy(new BinaryCopy());
  char tmpl[] = "/tmp/shmport-foreign-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  copy->dir_ = tmpl;
  if (::chmod(tmpl, 0755) != 0) {
    return absl::InternalError(
        absl::StrCat("chmod ", tmpl, ": ", std::strerror(errno)));
  }
  copy->path_ =
      copy->dir_ + "/" + std::filesystem::path(binary).filename().string();
  std::error_code error;
  std::filesystem::copy_file(binary, copy->path_, error);
  if (error || ::chmod(copy->path_.c_str(), 0755) != 0) {
    return absl::NotFoundError(
        absl::StrCat("copying ", binary, ": ", error.message()));
  }
  return copy;
}

BinaryCopy::~BinaryCopy() {
  if (dir_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool BecomeUser(uid_t uid, gid_t gid) {
  if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
      ::setresuid(uid, uid, uid) != 0) {
    return false;
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  return true;
}

}  // namespace shmport::testing
