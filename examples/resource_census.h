// What this process still holds of its ports, counted from /proc, so the
// demo can show that a closed port gives everything back: its socket, the
// memfds of its segments, and their mappings.
//
// Why not just compare the number of open fds before and after: gRPC opens
// and closes descriptors of its own at times of its choosing, so a plain
// count moves by itself. A port's socket is recognised by its inode, and a
// segment by its memfd name, which nothing else shares.
#ifndef SHMPORT_EXAMPLES_RESOURCE_CENSUS_H_
#define SHMPORT_EXAMPLES_RESOURCE_CENSUS_H_

#include <string>
#include <vector>

namespace shmport::examples {

// The /proc/self/fd link of `fd`: "socket:[123456]" for a socket, or ""
// when `fd` is not open.
std::string FdTarget(int fd);

// Open descriptors that are one of `port_sockets` (FdTarget values recorded
// while the ports were open) or a shmport memfd ("/memfd:shmport-...").
int CountPortFds(const std::vector<std::string>& port_sockets);

// Lines of /proc/self/maps that map a shmport memfd.
int SegmentMappingCount();

}  // namespace shmport::examples

#endif  // SHMPORT_EXAMPLES_RESOURCE_CENSUS_H_
