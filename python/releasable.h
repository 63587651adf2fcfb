// What Python received and reads in place (a shmport.Message, a
// shmport.Sample): exported read-only through the buffer protocol with
// export accounting (buffer_slots.h), and given back by release().
#ifndef SHMPORT_PYTHON_RELEASABLE_H_
#define SHMPORT_PYTHON_RELEASABLE_H_

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/types/span.h"
#include "python/buffer_slots.h"

namespace shmport::python {

// Owns one T (shmport::Message or shmport::Sample). Lifetime: T goes (its
// chunks back to the sender) when Release() is called and no view is left,
// else when the last view is released; at the latest when the owner is
// collected. A view therefore never outlives the mapping it reads. After
// Release(), reading fails with ValueError, like a released memoryview.
template <typename T>
class Releasable {
 public:
  // `type` names it in messages ("shmport.Message").
  Releasable(T value, const char* type)
      : value_(std::move(value)),
        released_message_(std::string("operation forbidden on a released ") +
                          type) {}
  Releasable(Releasable&&) = default;

  // The value, or ValueError once Release() was called.
  const T& Get() const {
    if (release_requested_) throw pybind11::value_error(released_message_);
    return *value_;
  }
  bool released() const { return release_requested_; }

  // Lets T go now, or when the last export goes. True when that happened
  // now.
  bool Release() {
    release_requested_ = true;
    if (exports_ > 0) return false;
    value_.reset();
    return true;
  }

  // Fills `view` read-only with bytes_of(T), exported by `exporter`, and
  // counts the export; ValueError once released.
  template <typename BytesOf>
  int Export(PyObject* exporter, Py_buffer* view, int flags, BytesOf bytes_of) {
    if (release_requested_) {
      PyErr_SetString(PyExc_ValueError, released_message_.c_str());
      return -1;
    }
    const absl::Span<const uint8_t> bytes = bytes_of(*value_);
    void* data = bytes.empty() ? static_cast<void*>(kEmptyBytes)
                               : const_cast<uint8_t*>(bytes.data());
    if (PyBuffer_FillInfo(view, exporter, data,
                          static_cast<Py_ssize_t>(bytes.size()),
                          /*readonly=*/1, flags) != 0) {
      return -1;
    }
    ++exports_;
    return 0;
  }
  void ReleaseBuffer() {
    if (--exports_ == 0 && release_requested_) value_.reset();
  }

 private:
  std::optional<T> value_;
  std::string released_message_;
  int exports_ = 0;
  bool release_requested_ = false;
};

// A copy of `bytes`.
inline pybind11::bytes CopyOut(absl::Span<const uint8_t> bytes) {
  return pybind11::bytes(reinterpret_cast<const char*>(bytes.data()),
                         bytes.size());
}

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_RELEASABLE_H_
