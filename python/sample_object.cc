#include "python/sample_object.h"

#include <pybind11/pybind11.h>

#include <string>

#include "absl/strings/str_format.h"
#include "python/buffer_slots.h"

namespace shmport::python {

namespace py = pybind11;

namespace {

std::string Describe(const SampleObject& object) {
  if (object.held().released()) return "<shmport.Sample released>";
  const Sample& s = object.Get();
  return absl::StrFormat("<shmport.Sample sequence=%u size=%u%s>", s.sequence(),
                         s.size(),
                         s.in_shared_memory() ? " shared-memory" : " inline");
}

}  // namespace

void DefineSample(py::module_& module) {
  py::class_<SampleObject>(
      module, "Sample", py::custom_type_setup(InstallBufferSlots<SampleObject>),
      "A received sample of a topic. Supports the buffer protocol "
      "(read-only, zero-copy into the publisher's shared memory): "
      "memoryview(sample), numpy.frombuffer(sample, dtype). See "
      "docs/python.md for its lifetime.")
      .def_property_readonly(
          "sequence", [](const SampleObject& o) { return o.Get().sequence(); },
          "The publisher's sequence number: consecutive unless samples were "
          "missed (drop_oldest) or a new publisher took the topic.")
      .def("__len__", [](const SampleObject& o) { return o.Get().size(); })
      .def_property_readonly(
          "in_shared_memory",
          [](const SampleObject& o) { return o.Get().in_shared_memory(); })
      .def_property_readonly(
          "released", [](const SampleObject& o) { return o.held().released(); })
      .def(
          "release", [](SampleObject& o) { return o.held().Release(); },
          "Gives the sample back to the publisher: now (returns True), or, "
          "while memoryviews/arrays of it exist, when the last of them is "
          "released (returns False). Reading afterwards raises ValueError.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__",
           [](SampleObject& o, py::args) {
             o.held().Release();
             return false;
           })
      .def(
          "__bytes__",
          [](const SampleObject& o) { return CopyOut(o.Get().data()); },
          "A copy of the bytes.")
      .def("__repr__", &Describe);
}

}  // namespace shmport::python
