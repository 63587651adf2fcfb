// shmportctl: see cli/shmportctl.h and `shmportctl --help`.
#include <unistd.h>

#include <string>
#include <vector>

#include "cli/shmportctl.h"
#include "cli/stop_signal.h"

int main(int argc, char** argv) {
  // Before anything starts a thread (gRPC does), so that every thread
  // inherits the blocked SIGINT/SIGTERM.
  shmport::cli::StopSignal stop;
  const std::vector<std::string> args(argv + 1, argv + argc);
  shmport::cli::Io io;
  io.out_is_terminal = ::isatty(STDOUT_FILENO) == 1;
  return shmport::cli::RunShmportctl(args, io, stop);
}
