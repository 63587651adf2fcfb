// shmportctl: the operator's command line for shmportd. RunShmportctl is
// the whole program but for main(), so that it reads as one table of
// subcommands and can be driven by tests.
//
//   shmportctl [--address=ADDR] [--json] COMMAND [flags] [args]
//
// Exit codes: 0 success, 1 the command failed (daemon unreachable, call
// refused, ...), 2 usage error (unknown command or flag, bad value).
#ifndef SHMPORT_CLI_SHMPORTCTL_H_
#define SHMPORT_CLI_SHMPORTCTL_H_

#include <cstdio>
#include <string>
#include <vector>

#include "cli/stop_signal.h"

namespace shmport::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

struct Io {
  FILE* out = stdout;
  FILE* err = stderr;
  // `top` redraws the screen on a terminal and prints frames one after
  // another otherwise.
  bool out_is_terminal = false;
};

// Runs one invocation. `args` excludes the program name. `stop` turns
// Ctrl-C into a clean end for `watch` and `top`.
int RunShmportctl(const std::vector<std::string>& args, const Io& io,
                  StopSignal& stop);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_SHMPORTCTL_H_
