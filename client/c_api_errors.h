// How the C ABI (include/shmport/shmport.h) reports errors: a status code
// returned, and the message kept for shmport_last_error() (per thread) and,
// for port and session calls, for the handle too.
#ifndef SHMPORT_CLIENT_C_API_ERRORS_H_
#define SHMPORT_CLIENT_C_API_ERRORS_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"
#include "shmport/shmport.h"

namespace shmport::c_api {

// The message of the last failed call on one handle, which any thread may
// write (a failed send) while another reads it.
class ErrorSlot {
 public:
  void Set(absl::string_view message) ABSL_LOCKS_EXCLUDED(mu_);
  // snprintf-style copy into out[0..out_size), the full length in
  // *length (if not NULL), for `function` (shmport_port_last_error, ...).
  shmport_status CopyTo(const char* function, char* out, size_t out_size,
                        size_t* length) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Lock order (docs/architecture.md, "Locks"): a leaf. A Mutex, not an
  // absl::Mutex, so that TSan sees it (D2).
  mutable Mutex mu_;
  std::string message_ ABSL_GUARDED_BY(mu_);
};

// Records `status` (not OK) as this thread's last error and returns its
// code.
shmport_status Fail(const absl::Status& status);
// Likewise, and in `slot` too.
shmport_status Fail(const absl::Status& status, ErrorSlot& slot);
// INVALID_ARGUMENT "<function>: <what>".
shmport_status InvalidArgument(const char* function, absl::string_view what);

// Stores `message` for shmport_port_closed_reason and friends: valid until
// the next call that stores one on this thread.
const char* ThreadLocalString(std::string message);

}  // namespace shmport::c_api

// Returns INVALID_ARGUMENT naming `arg` from the calling C function when
// `arg` is NULL.
#define SHMPORT_C_REQUIRE(arg)                                             \
  do {                                                                     \
    if ((arg) == nullptr) {                                                \
      return ::shmport::c_api::InvalidArgument(__func__, #arg " is NULL"); \
    }                                                                      \
  } while (false)

#endif  // SHMPORT_CLIENT_C_API_ERRORS_H_
