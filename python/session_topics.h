// Session.publish and Session.subscribe: topics from Python.
#ifndef SHMPORT_PYTHON_SESSION_TOPICS_H_
#define SHMPORT_PYTHON_SESSION_TOPICS_H_

#include <pybind11/pybind11.h>

#include "python/session_object.h"

namespace shmport::python {

// Adds publish() and subscribe() to Session and shmport.SlowSubscriber to
// `module`.
void DefineTopicMethods(pybind11::module_& module,
                        pybind11::class_<SessionObject>& session);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_SESSION_TOPICS_H_
