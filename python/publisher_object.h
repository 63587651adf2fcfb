// shmport.Publisher: the publishing end of a topic, from Python.
#ifndef SHMPORT_PYTHON_PUBLISHER_OBJECT_H_
#define SHMPORT_PYTHON_PUBLISHER_OBJECT_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <utility>

#include "python/closable.h"
#include "python/session_object.h"
#include "shmport/session.h"
#include "shmport/topic.h"

namespace shmport::python {

// Holds the Publisher until close() (or `with` ends, or collection), as
// Closable says: close() never destroys it under a blocked allocate. It
// shares its Session (which it must not outlive, session.h): the
// session's registration lasts until both are closed. close() ends every
// subscription (subscribers keep the samples they hold); SampleBuffers of
// it stay valid. Every method of Publisher is thread-safe.
class PublisherObject : public Closable<Publisher> {
 public:
  PublisherObject(std::shared_ptr<Session> session,
                  std::unique_ptr<Publisher> publisher)
      : Closable(SharingSession(std::move(session), std::move(publisher)),
                 "shmport.Publisher") {}
};

void DefinePublisher(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_PUBLISHER_OBJECT_H_
