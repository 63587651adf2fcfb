#include "common/errors.h"

#include <errno.h>
#include <string.h>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace shmport {
namespace {

constexpr absl::string_view kWouldBlockPayload = "shmport.dev/would-block";

absl::StatusCode CodeForErrno(int error) {
  switch (error) {
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case ENOSPC:
    case ENOBUFS:
      return absl::StatusCode::kResourceExhausted;
    case EPIPE:
    case ECONNRESET:
    case ECONNREFUSED:
    case ENOTCONN:
    case ESHUTDOWN:
      return absl::StatusCode::kUnavailable;
    case EACCES:
    case EPERM:
      return absl::StatusCode::kPermissionDenied;
    case EINVAL:
    case EBADF:
    case ENOTSOCK:
      return absl::StatusCode::kInvalidArgument;
    case ENOENT:
    case ESRCH:
      return absl::StatusCode::kNotFound;
    case EEXIST:
    case EADDRINUSE:
      return absl::StatusCode::kAlreadyExists;
    case ENOSYS:
    case EOPNOTSUPP:
      return absl::StatusCode::kUnimplemented;
    case ETIMEDOUT:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status ErrnoToStatus(int error, absl::string_view what) {
  char buf[128];
  // GNU strerror_r returns a pointer that may or may not be `buf`.
  const char* text = strerror_r(error, buf, sizeof(buf));
  return absl::Status(CodeForErrno(error),
                      absl::StrCat(what, ": ", text, " (errno ", error, ")"));
}

absl::Status WouldBlockError(absl::string_view what) {
  absl::Status status = absl::UnavailableError(
      absl::StrCat(what, ": would block (non-blocking operation)"));
  status.SetPayload(kWouldBlockPayload, absl::Cord("1"));
  return status;
}

bool IsWouldBlock(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         status.GetPayload(kWouldBlockPayload).has_value();
}

absl::StatusCode StatusCodeFromWire(int code, absl::StatusCode fallback) {
  return code >= 1 && code <= 16 ? static_cast<absl::StatusCode>(code)
                                 : fallback;
}

absl::Status StatusFromWire(int code, absl::string_view message) {
  if (code == 0) return absl::OkStatus();
  const absl::StatusCode known =
      StatusCodeFromWire(code, absl::StatusCode::kOk);
  if (known == absl::StatusCode::kOk) {
    return absl::InternalError(
        absl::StrCat("unknown error code ", code, ": ", message));
  }
  return absl::Status(known, message);
}

}  // namespace shmport
