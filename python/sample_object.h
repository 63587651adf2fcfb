// shmport.Sample: a received sample of a topic, readable in place through
// the buffer protocol.
#ifndef SHMPORT_PYTHON_SAMPLE_OBJECT_H_
#define SHMPORT_PYTHON_SAMPLE_OBJECT_H_

#include <pybind11/pybind11.h>

#include <utility>

#include "python/releasable.h"
#include "shmport/topic.h"

namespace shmport::python {

// Owns one shmport::Sample: a read-only view of the publisher's shared
// memory (the same pages every subscriber reads) or an inline copy.
// Lifetime as Releasable's: release() (or the end of `with`) gives the
// sample back to the publisher now, or when the last view goes; it
// outlives its Subscriber.
class SampleObject {
 public:
  explicit SampleObject(Sample sample)
      : held_(std::move(sample), "shmport.Sample") {}
  SampleObject(SampleObject&&) = default;

  const Sample& Get() const { return held_.Get(); }
  Releasable<Sample>& held() { return held_; }
  const Releasable<Sample>& held() const { return held_; }

  // Buffer protocol (buffer_slots.h): the bytes, read-only.
  int GetBuffer(PyObject* self, Py_buffer* view, int flags) {
    return held_.Export(self, view, flags,
                        [](const Sample& s) { return s.data(); });
  }
  void ReleaseBuffer() { held_.ReleaseBuffer(); }

 private:
  Releasable<Sample> held_;
};

void DefineSample(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_SAMPLE_OBJECT_H_
