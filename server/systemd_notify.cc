#include "server/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace shmport::server {
namespace {

void Notify(const std::string& state) {
  // unset_environment=0: the variable stays for the daemon's whole life,
  // so that STOPPING=1 can still be sent.
  const int r = ::sd_notify(0, state.c_str());
  if (r < 0) {
    Log(LogLevel::kWarning, "sd_notify_failed",
        {{"state", state}, {"errno", -r}});
  }
}

}  // namespace

void NotifyReady(absl::string_view status) {
  Notify(absl::StrCat("READY=1\nMAINPID=", ::getpid(), "\nSTATUS=", status));
}

void NotifyStatus(absl::string_view status) {
  Notify(absl::StrCat("STATUS=", status));
}

void NotifyStopping(absl::string_view status) {
  Notify(absl::StrCat("STOPPING=1\nSTATUS=", status));
}

}  // namespace shmport::server
