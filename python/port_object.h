// shmport.Port and shmport.Tracking: the data plane from Python.
#ifndef SHMPORT_PYTHON_PORT_OBJECT_H_
#define SHMPORT_PYTHON_PORT_OBJECT_H_

#include <pybind11/pybind11.h>

namespace shmport::python {

// Binds shmport::Port directly (held by its std::unique_ptr): every method
// of Port is thread-safe, so Python threads may share a Port; blocking
// calls release the GIL. The pure-Python methods (stats(), peer,
// receive_async) are added by shmport/_port.py.
void DefinePort(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_PORT_OBJECT_H_
