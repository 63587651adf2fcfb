#include "tests/control/topic_client.h"

#include <stdlib.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace shmport::testing {
namespace {

std::string TopicClientBinary() {
  if (const char* srcdir = ::getenv("TEST_SRCDIR")) {
    return absl::StrCat(srcdir, "/shmport/tests/control/topic_client");
  }
  return "bazel-bin/tests/control/topic_client";
}

}  // namespace

absl::StatusOr<TopicClient> TopicClient::Start(const std::string& name,
                                               const std::string& address) {
  absl::StatusOr<PipedChild> child =
      PipedChild::Exec(absl::StrCat("topic client ", name),
                       {TopicClientBinary(), name, address});
  if (!child.ok()) return child.status();
  TopicClient client(*std::move(child));
  absl::StatusOr<std::string> hello = client.child_.ReadLine(absl::Seconds(20));
  if (!hello.ok()) return hello.status();
  if (*hello != "OK connected") {
    return absl::InternalError(absl::StrCat(name, ": ", *hello));
  }
  return client;
}

absl::StatusOr<std::string> TopicClient::Call(absl::string_view command) {
  if (absl::Status s = child_.Write(absl::StrCat(command, "\n")); !s.ok()) {
    return s;
  }
  while (true) {
    absl::StatusOr<std::string> line = child_.ReadLine(absl::Seconds(20));
    if (!line.ok()) return line.status();
    if (absl::StartsWith(*line, "OPENED") ||
        absl::StartsWith(*line, "CLOSED")) {
      notices_.push_back(*std::move(line));
      continue;
    }
    return line;
  }
}

absl::StatusOr<std::vector<std::string>> TopicClient::NextNotice(
    absl::string_view prefix, absl::Duration timeout) {
  auto split = [](const std::string& l) -> std::vector<std::string> {
    if (absl::StartsWith(l, "CLOSED")) {
      return absl::StrSplit(l, absl::MaxSplits(' ', 3));
    }
    return absl::StrSplit(l, ' ');
  };
  for (auto it = notices_.begin(); it != notices_.end(); ++it) {
    if (absl::StartsWith(*it, prefix)) {
      std::vector<std::string> fields = split(*it);
      notices_.erase(it);
      return fields;
    }
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<std::string> line =
        child_.ReadLine(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (!line.ok()) return line.status();
    if (absl::StartsWith(*line, prefix)) return split(*line);
    notices_.push_back(*std::move(line));
  }
}

}  // namespace shmport::testing
