// shmport._shmport: the extension module of the shmport Python package,
// pybind11 over libshmport's C++ API (docs/python.md, decisions D21).
#include <pybind11/pybind11.h>

#include "python/buffer_object.h"
#include "python/message_object.h"
#include "python/port_object.h"
#include "python/session_object.h"
#include "python/status_errors.h"
#include "shmport/session.h"

PYBIND11_MODULE(_shmport, module) {
  module.doc() = "libshmport's data plane and sessions (see docs/python.md)";
  module.attr("client_version") = shmport::kClientVersion;
  shmport::python::RegisterStatusErrors(module);
  shmport::python::DefineMessage(module);
  shmport::python::DefineBuffer(module);
  shmport::python::DefinePort(module);
  shmport::python::DefineSession(module);
}
