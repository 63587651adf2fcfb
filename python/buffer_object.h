// shmport.Buffer: memory of a port's outgoing direction that Python fills
// before port.send().
#ifndef SHMPORT_PYTHON_BUFFER_OBJECT_H_
#define SHMPORT_PYTHON_BUFFER_OBJECT_H_

#include <pybind11/pybind11.h>

#include <cstddef>
#include <optional>

#include "shmport/buffer.h"

namespace shmport::python {

// Owns one shmport::Buffer until it is sent. Exported writable through the
// buffer protocol (memoryview(buf), numpy.frombuffer(buf, dtype)).
//
// Sending hands the bytes to the receiver, so send refuses (BufferError) a
// buffer that still has views: a view kept past the send could write into
// memory the peer is reading, or, once the port closed, memory that is no
// longer mapped. After the send the buffer is empty; views of it fail with
// ValueError. A buffer dropped without being sent returns its chunks.
class BufferObject {
 public:
  explicit BufferObject(Buffer buffer) : buffer_(std::move(buffer)) {}
  BufferObject(BufferObject&&) = default;

  // Throws what Take() would: BufferError while views exist, ValueError
  // when the buffer was already sent.
  void CheckSendable() const;
  // The buffer, for sending (after CheckSendable). Leaves this empty.
  Buffer Take();
  const Buffer& Get() const;
  bool sent() const { return !buffer_.has_value(); }
  // Sets the size (<= capacity). BufferError while views exist.
  void Resize(size_t size);

  int GetBuffer(PyObject* self, Py_buffer* view, int flags);
  void ReleaseBuffer() { --exports_; }

 private:
  std::optional<Buffer> buffer_;
  int exports_ = 0;
};

void DefineBuffer(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_BUFFER_OBJECT_H_
