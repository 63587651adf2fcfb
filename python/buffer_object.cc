#include "python/buffer_object.h"

#include <pybind11/pybind11.h>

namespace shmport::python {

void DefineBuffer(pybind11::module_& module) {
  DefineWritableBuffer<BufferObject>(
      module, "Buffer",
      "Memory to fill and send (port.allocate). Supports the buffer "
      "protocol, writable: memoryview(buf)[:] = data, "
      "numpy.frombuffer(buf, dtype)[...] = values.",
      "sent");
}

}  // namespace shmport::python
