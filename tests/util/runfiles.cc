#include "tests/util/runfiles.h"

#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"

namespace shmport::testing {

std::string FindRunfile(absl::string_view workspace_path) {
  std::vector<std::string> candidates;
  for (const char* variable : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    if (const char* dir = ::getenv(variable); dir != nullptr && *dir) {
      candidates.push_back(absl::StrCat(dir, "/shmport/", workspace_path));
    }
  }
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    candidates.push_back(
        absl::StrCat(self, ".runfiles/shmport/", workspace_path));
  }
  candidates.push_back(absl::StrCat("bazel-bin/", workspace_path));
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), F_OK) == 0) return c;
  }
  return candidates.back();
}

}  // namespace shmport::testing
