// shmport.Buffer: memory of a port's outgoing direction that Python fills
// before port.send().
#ifndef SHMPORT_PYTHON_BUFFER_OBJECT_H_
#define SHMPORT_PYTHON_BUFFER_OBJECT_H_

#include <pybind11/pybind11.h>

#include <utility>

#include "python/writable_buffer.h"
#include "shmport/buffer.h"

namespace shmport::python {

// Owns one shmport::Buffer until it is sent, exported writable through the
// buffer protocol (memoryview(buf), numpy.frombuffer(buf, dtype)). Send
// refuses (BufferError) a buffer that still has views; see WritableBuffer.
class BufferObject : public WritableBuffer<Buffer> {
 public:
  explicit BufferObject(Buffer buffer)
      : WritableBuffer(std::move(buffer), {.type = "shmport.Buffer",
                                           .verb = "send",
                                           .past = "sent",
                                           .new_owner = "the receiver"}) {}
  void CheckSendable() const { CheckTakeable(); }
};

void DefineBuffer(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_BUFFER_OBJECT_H_
