// Policy: who may attach, which names they may claim, who may open ports to
// whom, and what geometry a port gets. Built from the config's policy and
// limits; immutable afterwards.
#ifndef SHMPORT_SERVER_POLICY_H_
#define SHMPORT_SERVER_POLICY_H_

#include <sys/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unix_channel.h"
#include "server/config.h"
#include "shmport/v1/control.pb.h"

namespace shmport::server {

// Thread-safety: const after construction; any thread may call it.
class Policy {
 public:
  // `config` must have its defaults filled (ParseDaemonConfig does).
  // `daemon_uid` is the uid that may attach when the config names none.
  Policy(const DaemonConfig& config, uid_t daemon_uid);

  // OK when a process with kernel credentials `peer` may hold `name`.
  // PERMISSION_DENIED names the uid (or the name and the uid's patterns).
  absl::Status MayAttach(const Credentials& peer, absl::string_view name) const;
  // The name_rules part of MayAttach alone: OK when `uid` may claim `name`.
  absl::Status MayClaim(uid_t uid, absl::string_view name) const;

  // OK when `from` may open a port to `to` (both names). PERMISSION_DENIED
  // names the pair and the rule that refused it.
  absl::Status MayOpen(absl::string_view from, absl::string_view to) const;

  // OK when process `process` may publish / subscribe to `topic`
  // (policy.topic_rules). PERMISSION_DENIED names the process, the topic
  // and the rule that refused (or that none matched).
  absl::Status MayPublish(absl::string_view process,
                          absl::string_view topic) const;
  absl::Status MaySubscribe(absl::string_view process,
                            absl::string_view topic) const;

  // The geometry a port gets for `requested`: zero fields take the default,
  // the others are clamped to the limits (segments first, then chunks, so
  // that both directions together stay within max_bytes_per_port).
  // INVALID_ARGUMENT for a chunk_size that is not a power of two or below
  // one page.
  absl::StatusOr<v1::Geometry> Grant(const v1::Geometry& requested) const;

  // What RegisterResponse.limits tells every process.
  v1::ProcessLimits ProcessLimits() const;

 private:
  absl::Status MayUseTopic(absl::string_view process, absl::string_view topic,
                           bool publish) const;

  config::v1::Policy policy_;
  config::v1::Limits limits_;
  uid_t daemon_uid_;
};

// True when `name` matches the shell glob `pattern` (fnmatch, no flags).
bool MatchesPattern(absl::string_view pattern, absl::string_view name);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_POLICY_H_
