// How the daemon names one process to another: the PeerIdentity a port's
// or a subscription's notice carries, and the "'router' (id 3)" of
// messages.
#ifndef SHMPORT_SERVER_PEER_IDENTITY_H_
#define SHMPORT_SERVER_PEER_IDENTITY_H_

#include <cstdint>
#include <string>

#include "server/registry.h"
#include "shmport/v1/broker.pb.h"

namespace shmport::server {

// "'router' (id 3)": how messages name a process.
std::string Describe(const ProcessRecord& p);

// Process `p` as `receiver` will see it; `daemon_namespace` is the
// daemon's pid namespace. The pid is the one the receiver's kernel shows
// for p: the daemon's numbering beside the daemon, p's own within p's
// container, none (0) in another container.
v1::PeerIdentity IdentityOf(const ProcessRecord& p,
                            const ProcessRecord& receiver,
                            uint64_t daemon_namespace);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_PEER_IDENTITY_H_
