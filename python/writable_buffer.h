// Memory Python fills before handing it over (shmport.Buffer before a
// send, shmport.SampleBuffer before a publish), exported writable through
// the buffer protocol with export accounting (buffer_slots.h).
#ifndef SHMPORT_PYTHON_WRITABLE_BUFFER_H_
#define SHMPORT_PYTHON_WRITABLE_BUFFER_H_

#include <pybind11/pybind11.h>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "python/buffer_slots.h"

namespace shmport::python {

// Owns one T (shmport::Buffer or shmport::SampleBuffer) until it is handed
// over. Handing it over gives the bytes away, so Take() refuses
// (BufferError) while views exist: a view kept past it could write into
// memory a peer is reading, or memory no longer mapped. Afterwards the
// object is empty and views of it fail with ValueError. Dropped without
// being handed over, T returns its chunks.
//
// `names` says what it is called in messages: {"shmport.Buffer", "send",
// "sent", "the receiver"}.
struct WritableNames {
  const char* type;
  const char* verb;       // what hands it over
  const char* past;       // ... in the past tense
  const char* new_owner;  // who the bytes belong to afterwards
};

template <typename T>
class WritableBuffer {
 public:
  WritableBuffer(T value, const WritableNames& names)
      : value_(std::move(value)), names_(names) {}
  WritableBuffer(WritableBuffer&&) = default;

  // ValueError once handed over.
  const T& Get() const {
    if (!value_) {
      throw pybind11::value_error(
          absl::StrFormat("this %s was already %s", names_.type, names_.past));
    }
    return *value_;
  }
  bool taken() const { return !value_.has_value(); }

  // Throws what Take() would: BufferError while views exist, ValueError
  // once handed over.
  void CheckTakeable() const {
    Get();
    if (exports_ > 0) {
      throw pybind11::buffer_error(absl::StrFormat(
          "cannot %s a %s with %d exported view(s) (memoryview or numpy "
          "array): release them first (del the array, "
          "memoryview.release()), since after the %s the bytes belong to %s",
          names_.verb, names_.type, exports_, names_.verb, names_.new_owner));
    }
  }

  // The value, for handing over (after CheckTakeable). Leaves this empty.
  T Take() {
    CheckTakeable();
    T taken = *std::move(value_);
    value_.reset();
    return taken;
  }

  // Sets the size (<= capacity). BufferError while views exist.
  void Resize(size_t size) {
    Get();
    if (exports_ > 0) {
      throw pybind11::buffer_error(
          absl::StrFormat("cannot resize a %s with %d exported view(s)",
                          names_.type, exports_));
    }
    if (!value_->Resize(size)) {
      throw pybind11::value_error(absl::StrFormat(
          "size %u exceeds the capacity %u", size, value_->capacity()));
    }
  }

  // Buffer protocol (buffer_slots.h).
  int GetBuffer(PyObject* self, Py_buffer* view, int flags) {
    if (!value_) {
      PyErr_Format(PyExc_ValueError, "this %s was already %s", names_.type,
                   names_.past);
      return -1;
    }
    void* data = value_->size() == 0 ? static_cast<void*>(kEmptyBytes)
                                     : static_cast<void*>(value_->data());
    if (PyBuffer_FillInfo(view, self, data,
                          static_cast<Py_ssize_t>(value_->size()),
                          /*readonly=*/0, flags) != 0) {
      return -1;
    }
    ++exports_;
    return 0;
  }
  void ReleaseBuffer() { --exports_; }

  // "<shmport.Buffer size=.. capacity=.. shared-memory>".
  std::string Describe() const {
    if (!value_) return absl::StrFormat("<%s %s>", names_.type, names_.past);
    return absl::StrFormat(
        "<%s size=%u capacity=%u%s>", names_.type, value_->size(),
        value_->capacity(),
        value_->in_shared_memory() ? " shared-memory" : " inline");
  }

 private:
  std::optional<T> value_;
  WritableNames names_;
  int exports_ = 0;
};

// The Python class of O (a WritableBuffer<T>): len(), capacity,
// in_shared_memory, resize(), repr and the buffer protocol; `taken_name`
// names the property that says it was handed over ("sent", "published").
template <typename O>
pybind11::class_<O> DefineWritableBuffer(pybind11::module_& module,
                                         const char* name, const char* doc,
                                         const char* taken_name) {
  pybind11::class_<O> type(
      module, name, pybind11::custom_type_setup(InstallBufferSlots<O>), doc);
  type.def("__len__", [](const O& b) { return b.Get().size(); })
      .def_property_readonly("capacity",
                             [](const O& b) { return b.Get().capacity(); })
      .def_property_readonly(
          "in_shared_memory",
          [](const O& b) { return b.Get().in_shared_memory(); },
          "False for a small buffer that travels inline (a copy).")
      .def_property_readonly(taken_name, [](const O& b) { return b.taken(); })
      .def(
          "resize", [](O& b, size_t size) { b.Resize(size); },
          pybind11::arg("size"), "Sets the size (<= capacity).")
      .def("__repr__", [](const O& b) { return b.Describe(); });
  return type;
}

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_WRITABLE_BUFFER_H_
