#include "server/peer_identity.h"

#include "absl/strings/str_cat.h"

namespace shmport::server {

std::string Describe(const ProcessRecord& p) {
  return absl::StrCat("'", p.info.name(), "' (id ", p.info.id(), ")");
}

v1::PeerIdentity IdentityOf(const ProcessRecord& p,
                            const ProcessRecord& receiver,
                            uint64_t daemon_namespace) {
  v1::PeerIdentity id;
  id.set_process_id(p.info.id());
  id.set_name(p.info.name());
  const uint64_t seen_from = receiver.info.pid_namespace();
  if (seen_from == daemon_namespace) {
    id.set_pid(p.info.pid());
  } else if (seen_from == p.info.pid_namespace()) {
    id.set_pid(p.info.namespace_pid());
  }
  id.set_uid(p.info.uid());
  id.set_gid(p.info.gid());
  id.set_pid_namespace(p.info.pid_namespace());
  id.set_namespace_pid(p.info.namespace_pid());
  return id;
}

}  // namespace shmport::server
