// The light client's child side: the loop a LightProcess child runs
// (tests/control/light_process.h), and the commands it takes. It attaches a
// broker link, keeps every port fd the daemon hands it, counts notices and
// may hold an idle control connection; no gRPC, no threads.
#ifndef SHMPORT_TESTS_CONTROL_LIGHT_CHILD_H_
#define SHMPORT_TESTS_CONTROL_LIGHT_CHILD_H_

namespace shmport::testing {

// Commands on the child's channel: one byte, then the fields below, in
// host byte order.
inline constexpr char kLightAttach = 'A';   // u64 id, u32 len, address,
                                            // u32 len, token; answers i32 code
inline constexpr char kLightCounts = 'C';   // u32 opened, u32 closed;
                                            // answers them when reached
inline constexpr char kLightWarmUp = 'W';   // answers u32 frame size
                                            // (0: the warm-up failed)
inline constexpr char kLightControl = 'G';  // u32 len, socket path;
                                            // answers i32 errno

// Serves commands on `channel` (a stream socket) until it reaches EOF
// (returns 0) or the daemon closes the link (3) or its control connection
// (8); other codes name a broken channel.
int RunLightChild(int channel);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_CONTROL_LIGHT_CHILD_H_
