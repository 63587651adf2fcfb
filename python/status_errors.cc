#include "python/status_errors.h"

#include <exception>

namespace shmport::python {

namespace py = pybind11;

void RegisterStatusErrors(py::module_& module) {
  // Kept for the life of the process: the translator may run until the
  // interpreter finalises, after this module's globals are gone.
  static py::object* const from_status = new py::object(
      py::module_::import("shmport.errors").attr("error_from_status"));
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      const absl::string_view text = e.status.message();
      // Peer-supplied reasons are quoted, but never trust them to be UTF-8.
      auto message = py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(
          text.data(), static_cast<Py_ssize_t>(text.size()), "replace"));
      py::object error =
          (*from_status)(static_cast<int>(e.status.code()), message);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())),
                      error.ptr());
    }
  });
}

}  // namespace shmport::python
