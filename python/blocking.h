// Blocking calls from Python: timeouts in seconds, the GIL released while
// libshmport waits, and Ctrl-C honoured during long waits.
#ifndef SHMPORT_PYTHON_BLOCKING_H_
#define SHMPORT_PYTHON_BLOCKING_H_

#include <pybind11/pybind11.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "python/status_errors.h"

namespace shmport::python {

// A Python timeout: None waits forever; a negative or NaN number of
// seconds is an InvalidArgument error naming `what`.
inline absl::Duration ToDuration(std::optional<double> seconds,
                                 const char* what) {
  if (!seconds.has_value()) return absl::InfiniteDuration();
  if (!(*seconds >= 0)) {
    throw StatusError{absl::InvalidArgumentError(absl::StrFormat(
        "%s=%g: use a number of seconds >= 0, or None", what, *seconds))};
  }
  return absl::Seconds(*seconds);
}

// The longest stretch a wait runs without the GIL before Python gets to
// handle its signals (KeyboardInterrupt).
inline constexpr absl::Duration kSignalSlice = absl::Milliseconds(250);

inline bool IsDeadlineExceeded(const absl::Status& status) {
  return absl::IsDeadlineExceeded(status);
}

// Runs wait(slice) with the GIL released, in slices of at most
// kSignalSlice, until it returns a status for which `expired` is false
// (by default: anything but DEADLINE_EXCEEDED) or `timeout` has passed;
// between slices a pending signal's handler runs (and its exception, e.g.
// KeyboardInterrupt, propagates). Only for waits that may be repeated at
// no cost and whose expiry message does not name the slice (or whose
// caller replaces it).
template <typename T, typename Wait,
          typename Expired = bool (*)(const absl::Status&)>
absl::StatusOr<T> WaitInSlices(absl::Duration timeout, Wait wait,
                               Expired expired = &IsDeadlineExceeded) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration slice =
        std::clamp(deadline - absl::Now(), absl::ZeroDuration(), kSignalSlice);
    std::optional<absl::StatusOr<T>> result;
    {
      pybind11::gil_scoped_release nogil;
      result.emplace(wait(slice));
    }
    if (!expired(result->status()) || absl::Now() >= deadline) {
      return *std::move(result);
    }
    if (PyErr_CheckSignals() != 0) throw pybind11::error_already_set();
  }
}

// Runs `call` with the GIL released.
template <typename Call>
auto WithoutGil(Call call) {
  pybind11::gil_scoped_release nogil;
  return call();
}

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_BLOCKING_H_
