// What the daemon itself uses, for GetStats: resident memory and open fds.
#ifndef SHMPORT_SERVER_PROCESS_USAGE_H_
#define SHMPORT_SERVER_PROCESS_USAGE_H_

#include <cstdint>

namespace shmport::server {

// Resident set size of this process in bytes (/proc/self/statm); 0 if
// unreadable.
uint64_t ResidentBytes();

// Open file descriptors of this process (/proc/self/fd); 0 if unreadable.
uint32_t OpenFdCount();

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_PROCESS_USAGE_H_
