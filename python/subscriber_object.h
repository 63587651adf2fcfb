// shmport.Subscriber: the subscribing end of a topic, from Python.
#ifndef SHMPORT_PYTHON_SUBSCRIBER_OBJECT_H_
#define SHMPORT_PYTHON_SUBSCRIBER_OBJECT_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <utility>

#include "python/closable.h"
#include "python/session_object.h"
#include "shmport/session.h"
#include "shmport/topic.h"

namespace shmport::python {

// Holds the Subscriber until close() (or `with` ends, or collection),
// sharing its Session as PublisherObject does. A receive blocked on
// another thread keeps its own reference and notices close() within one
// wait slice (250 ms), raising FailedPrecondition. Receive from one thread
// at a time (the GIL cannot serialise a call that released it); stats()
// and fileno() from any. close() ends the subscription; Samples of it stay
// valid.
class SubscriberObject : public Closable<Subscriber> {
 public:
  SubscriberObject(std::shared_ptr<Session> session,
                   std::unique_ptr<Subscriber> subscriber)
      : Closable(SharingSession(std::move(session), std::move(subscriber)),
                 "shmport.Subscriber") {}
};

void DefineSubscriber(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_SUBSCRIBER_OBJECT_H_
