// What this process holds, counted from /proc, so the demo can show that a
// port gives everything back: open fds, and mappings of shmport memfds.
#ifndef SHMPORT_EXAMPLES_RESOURCE_CENSUS_H_
#define SHMPORT_EXAMPLES_RESOURCE_CENSUS_H_

namespace shmport::examples {

// Entries of /proc/self/fd (not counting the one used to read it).
int OpenFdCount();
// Lines of /proc/self/maps that map a shmport memfd ("/memfd:shmport-").
int SegmentMappingCount();

}  // namespace shmport::examples

#endif  // SHMPORT_EXAMPLES_RESOURCE_CENSUS_H_
