// Telling a service manager how shmportd is doing (systemd Type=notify):
// READY=1 once serving, STATUS= lines, STOPPING=1 on the way down. Every
// call is a no-op unless $NOTIFY_SOCKET is set, as under systemd.
#ifndef SHMPORT_SERVER_SYSTEMD_NOTIFY_H_
#define SHMPORT_SERVER_SYSTEMD_NOTIFY_H_

#include "absl/strings/string_view.h"

namespace shmport::server {

// Sends "READY=1\nSTATUS=<status>" (with MAINPID, in case a wrapper
// started us).
void NotifyReady(absl::string_view status);
// Sends "STATUS=<status>".
void NotifyStatus(absl::string_view status);
// Sends "STOPPING=1\nSTATUS=<status>".
void NotifyStopping(absl::string_view status);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_SYSTEMD_NOTIFY_H_
