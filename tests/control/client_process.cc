#include "tests/control/client_process.h"

#include <signal.h>
#include <stdlib.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/util/runfiles.h"

namespace shmport::testing {

std::string ClientProcess::FindBinary() {
  return FindRunfile("tests/control/control_client");
}

absl::StatusOr<ClientProcess> ClientProcess::Spawn(
    std::vector<std::string> args) {
  return SpawnUnder({}, std::move(args));
}

absl::StatusOr<ClientProcess> ClientProcess::SpawnUnder(
    std::vector<std::string> wrapper, std::vector<std::string> args) {
  args.insert(args.begin(), FindBinary());
  args.insert(args.begin(), wrapper.begin(), wrapper.end());
  absl::StatusOr<PipedChild> child =
      PipedChild::Exec("control client", std::move(args));
  if (!child.ok()) return child.status();
  return ClientProcess(*std::move(child));
}

absl::StatusOr<int> ClientProcess::Finish(absl::Duration timeout) {
  child_.CloseInput();
  return child_.process().WaitForExitCode(timeout);
}

void ClientProcess::Kill(int signal) {
  child_.process().Kill(signal);
  (void)child_.process().WaitForExitCode(absl::Seconds(30));
}

}  // namespace shmport::testing
