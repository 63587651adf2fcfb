// The buffer protocol with export accounting, for types whose memory must
// not go away while a memoryview or numpy array still points into it.
//
// pybind11's def_buffer has no release hook, so these types set the
// PyBufferProcs slots themselves (py::custom_type_setup): bf_getbuffer asks
// the object for its memory and counts the export, bf_releasebuffer
// uncounts it. Each view holds a reference to the object (Py_buffer.obj),
// so the object cannot be collected while any view is alive.
#ifndef SHMPORT_PYTHON_BUFFER_SLOTS_H_
#define SHMPORT_PYTHON_BUFFER_SLOTS_H_

#include <pybind11/pybind11.h>

#include <exception>

namespace shmport::python {

// T provides, called with the GIL held:
//   int GetBuffer(PyObject* self, Py_buffer* view, int flags);
//     fills `view` (PyBuffer_FillInfo) and counts an export, or sets a
//     Python error and returns -1;
//   void ReleaseBuffer();  uncounts one export.
template <typename T>
int GetBufferSlot(PyObject* self, Py_buffer* view, int flags) {
  view->obj = nullptr;
  try {
    return pybind11::handle(self).cast<T*>()->GetBuffer(self, view, flags);
  } catch (const std::exception& e) {  // a C slot: nothing may escape
    PyErr_SetString(PyExc_BufferError, e.what());
    return -1;
  }
}

template <typename T>
void ReleaseBufferSlot(PyObject* self, Py_buffer* /*view*/) {
  try {
    pybind11::handle(self).cast<T*>()->ReleaseBuffer();
  } catch (const std::exception&) {
    // Unreachable: the slot is only on T's type, whose cast cannot fail.
  }
}

// For py::custom_type_setup: installs the two slots on T's type.
template <typename T>
void InstallBufferSlots(PyHeapTypeObject* heap_type) {
  heap_type->ht_type.tp_as_buffer = &heap_type->as_buffer;
  heap_type->as_buffer.bf_getbuffer = GetBufferSlot<T>;
  heap_type->as_buffer.bf_releasebuffer = ReleaseBufferSlot<T>;
}

// A zero-length export still needs a valid pointer.
inline char kEmptyBytes[1] = {0};

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_BUFFER_SLOTS_H_
