#include "python/sample_buffer_object.h"

#include <pybind11/pybind11.h>

namespace shmport::python {

void DefineSampleBuffer(pybind11::module_& module) {
  DefineWritableBuffer<SampleBufferObject>(
      module, "SampleBuffer",
      "A sample to fill and publish (publisher.allocate), in the "
      "publisher's shared memory. Supports the buffer protocol, writable: "
      "memoryview(buf)[:] = data, numpy.frombuffer(buf, dtype)[...] = x.",
      "published");
}

}  // namespace shmport::python
