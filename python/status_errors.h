// How absl::Status errors of libshmport become Python exceptions: one class
// per status code (shmport.errors), each carrying the library's message and
// its `.code`.
#ifndef SHMPORT_PYTHON_STATUS_ERRORS_H_
#define SHMPORT_PYTHON_STATUS_ERRORS_H_

#include <pybind11/pybind11.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shmport::python {

// Thrown by the binding for a non-OK status; translated (with the GIL) into
// the shmport.errors class for status.code().
struct StatusError {
  absl::Status status;
};

// Installs the translator. Imports shmport.errors, so the package must be
// importable (it is: this module is shmport._shmport).
void RegisterStatusErrors(pybind11::module_& module);

inline void ThrowIfError(absl::Status status) {
  if (!status.ok()) throw StatusError{std::move(status)};
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> result) {
  if (!result.ok()) throw StatusError{std::move(result).status()};
  return *std::move(result);
}

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_STATUS_ERRORS_H_
