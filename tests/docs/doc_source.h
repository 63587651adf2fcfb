// Finds the repository's documentation files from a test.
#ifndef SHMPORT_TESTS_DOCS_DOC_SOURCE_H_
#define SHMPORT_TESTS_DOCS_DOC_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shmport::testing {

// The contents of `relative_path` ("docs/protocol.md") from the runfiles
// when it is a data dependency, else from the source tree this test was
// built from: docs/ and the root are not Bazel packages that export their
// files yet, so the test finds the tree through its own source file, which
// is a data dependency (its runfile is a symlink into the tree). Tests that
// use the fallback are tagged "external" so no stale result is cached.
absl::StatusOr<std::string> ReadRepositoryFile(absl::string_view relative_path,
                                               absl::string_view anchor);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_DOCS_DOC_SOURCE_H_
