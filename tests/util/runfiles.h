// Finding a binary (or any file) that a test or benchmark declares in its
// `data`, wherever Bazel put the runfiles: under `bazel test`, `bazel run`,
// or a binary started by hand from the workspace.
#ifndef SHMPORT_TESTS_UTIL_RUNFILES_H_
#define SHMPORT_TESTS_UTIL_RUNFILES_H_

#include <string>

#include "absl/strings/string_view.h"

namespace shmport::testing {

// The path of `workspace_path` (e.g. "server/shmportd") in this process's
// runfiles: $TEST_SRCDIR, $RUNFILES_DIR, then <this binary>.runfiles, then
// bazel-bin/ under the working directory. The first that exists; else the
// last candidate (so that the caller's error names a path).
std::string FindRunfile(absl::string_view workspace_path);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_UTIL_RUNFILES_H_
