// The StreamWorker process (tests/load/stream_worker.h): started by
// StreamWorker::Fork as `stream_worker_main 0 1` (its stdin and stdout are
// the command and reply pipes).
#include <cstdio>
#include <cstdlib>

#include "tests/load/stream_worker.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s COMMANDS_FD REPLIES_FD\n", argv[0]);
    return 2;
  }
  return shmport::testing::RunStreamWorker(std::atoi(argv[1]),
                                           std::atoi(argv[2]));
}
