// Cheap leak checks for fuzz targets that map memfds: counting lines of
// /proc/self/maps on every execution would dominate the run, so the common
// case reads only VmSize (O(1) in the kernel) and maps is read only when
// VmSize moved.
#ifndef SHMPORT_TESTS_FUZZ_MAPPING_PROBE_H_
#define SHMPORT_TESTS_FUZZ_MAPPING_PROBE_H_

#include <cstdint>

namespace shmport::fuzz {

// Pages of address space this process has mapped (VmSize, /proc/self/statm).
uint64_t MappedPages();

// True while a mapping of a memfd named `memfd_name` exists.
bool MemfdMapped(const char* memfd_name);

// Aborts (SHMPORT_FUZZ_CHECK) if a mapping of `memfd_name` exists, unless
// VmSize still equals `pages_before`, which proves that nothing mapped since
// then survived. `when` completes "a mapping survived ...".
void CheckNoMemfdMapped(const char* memfd_name, uint64_t pages_before,
                        const char* when);

}  // namespace shmport::fuzz

#endif  // SHMPORT_TESTS_FUZZ_MAPPING_PROBE_H_
