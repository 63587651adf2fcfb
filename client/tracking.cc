#include "shmport/tracking.h"

#include "absl/status/status.h"
#include "client/port_core.h"

namespace shmport {

absl::StatusOr<bool> Tracking::Cancel() {
  if (core_ == nullptr) {
    return absl::FailedPreconditionError(
        "Cancel on an empty (default-constructed or moved-from) Tracking");
  }
  return core_->Cancel(*this);
}

}  // namespace shmport
