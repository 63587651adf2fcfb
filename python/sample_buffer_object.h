// shmport.SampleBuffer: a sample of a topic that Python fills before
// publisher.publish().
#ifndef SHMPORT_PYTHON_SAMPLE_BUFFER_OBJECT_H_
#define SHMPORT_PYTHON_SAMPLE_BUFFER_OBJECT_H_

#include <pybind11/pybind11.h>

#include <utility>

#include "python/writable_buffer.h"
#include "shmport/topic.h"

namespace shmport::python {

// Owns one shmport::SampleBuffer until it is published, exported writable
// through the buffer protocol. Publish refuses (BufferError) a buffer that
// still has views: every subscriber reads those bytes in place, so they
// must not change afterwards. Dropped unpublished, it returns its chunks;
// it outlives its Publisher (then it can only be filled and dropped).
class SampleBufferObject : public WritableBuffer<SampleBuffer> {
 public:
  explicit SampleBufferObject(SampleBuffer buffer)
      : WritableBuffer(std::move(buffer), {.type = "shmport.SampleBuffer",
                                           .verb = "publish",
                                           .past = "published",
                                           .new_owner = "the subscribers"}) {}
};

void DefineSampleBuffer(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_SAMPLE_BUFFER_OBJECT_H_
