#include "tests/docs/doc_source.h"

#include <limits.h>
#include <stdlib.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace shmport::testing {
namespace {

std::optional<std::string> Read(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace

absl::StatusOr<std::string> ReadRepositoryFile(absl::string_view relative_path,
                                               absl::string_view anchor) {
  const char* srcdir = ::getenv("TEST_SRCDIR");
  if (srcdir == nullptr) {
    return absl::FailedPreconditionError(
        "TEST_SRCDIR is not set: run under "
        "bazel test");
  }
  const std::string runfiles = absl::StrCat(srcdir, "/shmport/");
  if (auto text = Read(runfiles + std::string(relative_path))) return *text;
  // `anchor` (e.g. "tests/docs/protocol_doc_test.cc") is a data dependency
  // whose runfile links into the source tree; its depth gives the root.
  char real[PATH_MAX];
  const std::string link = runfiles + std::string(anchor);
  if (::realpath(link.c_str(), real) == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot resolve ", link));
  }
  std::string root = real;
  for (char c : anchor) {
    if (c == '/') root = root.substr(0, root.rfind('/'));
  }
  root = root.substr(0, root.rfind('/'));
  const std::string path = absl::StrCat(root, "/", relative_path);
  if (auto text = Read(path)) return *text;
  return absl::NotFoundError(absl::StrCat("cannot read ", path));
}

}  // namespace shmport::testing
