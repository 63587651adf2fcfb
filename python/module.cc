// shmport._shmport: the extension module of the shmport Python package,
// pybind11 over libshmport's C++ API (docs/python.md, decisions D21).
#include <pybind11/pybind11.h>

#include "python/buffer_object.h"
#include "python/message_object.h"
#include "python/port_object.h"
#include "python/publisher_object.h"
#include "python/sample_buffer_object.h"
#include "python/sample_object.h"
#include "python/session_object.h"
#include "python/status_errors.h"
#include "python/subscriber_object.h"
#include "shmport/session.h"

PYBIND11_MODULE(_shmport, module) {
  module.doc() =
      "libshmport's data plane, topics and sessions (see docs/python.md)";
  module.attr("client_version") = shmport::kClientVersion;
  shmport::python::RegisterStatusErrors(module);
  shmport::python::DefineMessage(module);
  shmport::python::DefineBuffer(module);
  shmport::python::DefinePort(module);
  shmport::python::DefineSampleBuffer(module);
  shmport::python::DefineSample(module);
  shmport::python::DefinePublisher(module);
  shmport::python::DefineSubscriber(module);
  shmport::python::DefineSession(module);
}
