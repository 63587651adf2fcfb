// The uid a client expects shmportd to run as. Part of the C++ API of
// libshmport.
#ifndef SHMPORT_DAEMON_UID_H_
#define SHMPORT_DAEMON_UID_H_

#include <sys/types.h>

namespace shmport {

// "The daemon runs as this process's effective uid, unless
// $SHMPORT_DAEMON_UID names another": what a client trusts when told
// nothing (root is always trusted).
inline constexpr uid_t kDefaultDaemonUid = static_cast<uid_t>(-1);

}  // namespace shmport

#endif  // SHMPORT_DAEMON_UID_H_
