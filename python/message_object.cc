#include "python/message_object.h"

#include <pybind11/pybind11.h>

#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "python/buffer_slots.h"

namespace shmport::python {

namespace py = pybind11;

int MessageObject::GetBuffer(PyObject* self, Py_buffer* view, int flags) {
  if (!held_.released() && held_.Get().fragment_count() > 1) {
    const Message& m = held_.Get();
    PyErr_Format(PyExc_BufferError,
                 "this message has %zu fragments (%zu bytes in all): read "
                 "msg.fragments (each zero-copy) or bytes(msg) (a copy)",
                 m.fragment_count(), m.size());
    return -1;
  }
  return held_.Export(self, view, flags,
                      [](const Message& m) { return m.data(); });
}

int MessageObject::ExportFragment(PyObject* exporter, size_t index,
                                  Py_buffer* view, int flags) {
  return held_.Export(exporter, view, flags,
                      [index](const Message& m) { return m.fragment(index); });
}

size_t Fragment::size() const {
  return message().Get().fragment(index_).size();
}

int Fragment::GetBuffer(PyObject* self, Py_buffer* view, int flags) {
  return message().ExportFragment(self, index_, view, flags);
}

void Fragment::ReleaseBuffer() { message().ReleaseBuffer(); }

py::bytes Fragment::ToBytes() const {
  return CopyOut(message().Get().fragment(index_));
}

namespace {

py::bytes MessageBytes(const MessageObject& object) {
  const Message& m = object.Get();
  if (m.fragment_count() <= 1) return CopyOut(m.data());
  auto bytes = py::reinterpret_steal<py::bytes>(
      PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(m.size())));
  if (!bytes) throw py::error_already_set();
  m.CopyTo(reinterpret_cast<uint8_t*>(PyBytes_AS_STRING(bytes.ptr())));
  return bytes;
}

py::tuple Fragments(py::object self) {
  const Message& m = self.cast<const MessageObject&>().Get();
  py::tuple fragments(m.fragment_count());
  for (size_t i = 0; i < m.fragment_count(); ++i) {
    fragments[i] = py::cast(Fragment(self, i));
  }
  return fragments;
}

std::string Describe(const MessageObject& object) {
  if (object.released()) return "<shmport.Message released>";
  const Message& m = object.Get();
  return absl::StrFormat("<shmport.Message stream=%u size=%u fragments=%u%s%s>",
                         m.stream(), m.size(), m.fragment_count(),
                         m.last() ? " last" : "",
                         m.in_shared_memory() ? " shared-memory" : " inline");
}

void DefineFragment(py::module_& module) {
  py::class_<Fragment>(module, "Fragment",
                       py::custom_type_setup(InstallBufferSlots<Fragment>),
                       "One fragment of a Message: a read-only, zero-copy "
                       "buffer (memoryview(f), numpy.frombuffer(f)).")
      .def("__len__", &Fragment::size)
      .def("__bytes__", &Fragment::ToBytes);
}

}  // namespace

void DefineMessage(py::module_& module) {
  DefineFragment(module);
  py::class_<MessageObject>(
      module, "Message",
      py::custom_type_setup(InstallBufferSlots<MessageObject>),
      "A received message. Supports the buffer protocol (read-only, "
      "zero-copy into the sender's shared memory): memoryview(msg), "
      "numpy.frombuffer(msg, dtype). See docs/python.md for its lifetime.")
      .def_property_readonly(
          "stream", [](const MessageObject& o) { return o.Get().stream(); })
      .def_property_readonly(
          "last", [](const MessageObject& o) { return o.Get().last(); },
          "The sender marked this the last message of its stream.")
      .def("__len__", [](const MessageObject& o) { return o.Get().size(); })
      .def_property_readonly(
          "fragment_count",
          [](const MessageObject& o) { return o.Get().fragment_count(); })
      .def_property_readonly("fragments", &Fragments,
                             "The fragments in order, each a zero-copy "
                             "read-only buffer (a tuple of Fragment).")
      .def_property_readonly(
          "in_shared_memory",
          [](const MessageObject& o) { return o.Get().in_shared_memory(); })
      .def_property_readonly("released", &MessageObject::released)
      .def("release", &MessageObject::Release,
           "Gives the chunks back to the sender: now (returns True), or, "
           "while memoryviews/arrays of the message exist, when the last of "
           "them is released (returns False). Reading afterwards raises "
           "ValueError.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__",
           [](MessageObject& o, py::args) {
             o.Release();
             return false;
           })
      .def("__bytes__", &MessageBytes, "A copy of the whole payload.")
      .def("__repr__", &Describe);
}

}  // namespace shmport::python
