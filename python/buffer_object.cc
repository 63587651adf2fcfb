#include "python/buffer_object.h"

#include <pybind11/pybind11.h>

#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "python/buffer_slots.h"

namespace shmport::python {

namespace py = pybind11;

namespace {
constexpr char kSent[] = "this shmport.Buffer was already sent";
}  // namespace

const Buffer& BufferObject::Get() const {
  if (!buffer_) throw py::value_error(kSent);
  return *buffer_;
}

void BufferObject::CheckSendable() const {
  Get();
  if (exports_ > 0) {
    throw py::buffer_error(absl::StrFormat(
        "cannot send a shmport.Buffer with %d exported view(s) (memoryview "
        "or numpy array): release them first (del the array, "
        "memoryview.release()), since after the send the bytes belong to "
        "the receiver",
        exports_));
  }
}

Buffer BufferObject::Take() {
  CheckSendable();
  Buffer taken = *std::move(buffer_);
  buffer_.reset();
  return taken;
}

void BufferObject::Resize(size_t size) {
  Get();
  if (exports_ > 0) {
    throw py::buffer_error(absl::StrFormat(
        "cannot resize a shmport.Buffer with %d exported view(s)", exports_));
  }
  if (!buffer_->Resize(size)) {
    throw py::value_error(absl::StrFormat("size %u exceeds the capacity %u",
                                          size, buffer_->capacity()));
  }
}

int BufferObject::GetBuffer(PyObject* self, Py_buffer* view, int flags) {
  if (!buffer_) {
    PyErr_SetString(PyExc_ValueError, kSent);
    return -1;
  }
  void* data = buffer_->empty() ? static_cast<void*>(kEmptyBytes)
                                : static_cast<void*>(buffer_->data());
  if (PyBuffer_FillInfo(view, self, data,
                        static_cast<Py_ssize_t>(buffer_->size()),
                        /*readonly=*/0, flags) != 0) {
    return -1;
  }
  ++exports_;
  return 0;
}

void DefineBuffer(py::module_& module) {
  py::class_<BufferObject>(
      module, "Buffer", py::custom_type_setup(InstallBufferSlots<BufferObject>),
      "Memory to fill and send (port.allocate). Supports the buffer "
      "protocol, writable: memoryview(buf)[:] = data, "
      "numpy.frombuffer(buf, dtype)[...] = values.")
      .def("__len__", [](const BufferObject& b) { return b.Get().size(); })
      .def_property_readonly(
          "capacity", [](const BufferObject& b) { return b.Get().capacity(); })
      .def_property_readonly(
          "in_shared_memory",
          [](const BufferObject& b) { return b.Get().in_shared_memory(); },
          "False for a small buffer that travels inline (a copy).")
      .def_property_readonly("sent", &BufferObject::sent)
      .def("resize", &BufferObject::Resize, py::arg("size"),
           "Sets the size (<= capacity).")
      .def("__repr__", [](const BufferObject& b) -> std::string {
        if (b.sent()) return "<shmport.Buffer sent>";
        return absl::StrFormat(
            "<shmport.Buffer size=%u capacity=%u%s>", b.Get().size(),
            b.Get().capacity(),
            b.Get().in_shared_memory() ? " shared-memory" : " inline");
      });
}

}  // namespace shmport::python
