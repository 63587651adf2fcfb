#include "client/c_api_errors.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace shmport::c_api {
namespace {

// shmport_last_error()'s string, and ThreadLocalString's; one of each per
// thread, so no call on another thread can change what a pointer sees.
thread_local std::string last_error;
thread_local std::string last_string;

}  // namespace

void ErrorSlot::Set(absl::string_view message) {
  MutexLock lock(&mu_);
  message_.assign(message.data(), message.size());
}

shmport_status ErrorSlot::CopyTo(const char* function, char* out,
                                 size_t out_size, size_t* length) const {
  if (out == nullptr && out_size > 0) {
    return InvalidArgument(function, "out is NULL but out_size is not 0");
  }
  MutexLock lock(&mu_);
  if (out_size > 0) {
    const size_t n = std::min(out_size - 1, message_.size());
    std::memcpy(out, message_.data(), n);
    out[n] = '\0';
  }
  if (length != nullptr) *length = message_.size();
  return SHMPORT_OK;
}

shmport_status Fail(const absl::Status& status) {
  last_error = status.ToString();
  return static_cast<shmport_status>(status.code());
}

shmport_status Fail(const absl::Status& status, ErrorSlot& slot) {
  const shmport_status code = Fail(status);
  slot.Set(last_error);
  return code;
}

shmport_status InvalidArgument(const char* function, absl::string_view what) {
  return Fail(absl::InvalidArgumentError(absl::StrCat(function, ": ", what)));
}

const char* ThreadLocalString(std::string message) {
  last_string = std::move(message);
  return last_string.c_str();
}

}  // namespace shmport::c_api

extern "C" {

const char* shmport_version(void) { return SHMPORT_VERSION_STRING; }

const char* shmport_last_error(void) {
  return shmport::c_api::last_error.c_str();
}

const char* shmport_status_name(shmport_status status) {
  static constexpr const char* kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  const int n = static_cast<int>(status);
  if (n < 0 || n >= static_cast<int>(std::size(kNames))) {
    return "UNKNOWN_STATUS";
  }
  return kNames[n];
}

}  // extern "C"
