#include "shmport/unique_fd.h"

#include <unistd.h>

namespace shmport {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) {
    // Linux closes the descriptor even when close() reports EINTR, so it must
    // never be retried: a retry could close a descriptor another thread just
    // received.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace shmport
