// shmport.Session: a process's registration with shmportd, from Python.
#ifndef SHMPORT_PYTHON_SESSION_OBJECT_H_
#define SHMPORT_PYTHON_SESSION_OBJECT_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <utility>

#include "python/closable.h"
#include "shmport/session.h"

namespace shmport::python {

// Holds the Session until close() (or `with` ends, or collection), as
// Closable says: close() never destroys a Session under a blocked
// accept_port. close() ends the registration (the daemon closes this
// process's ports in its registry); ports already open keep working.
// Publishers and subscribers of the session share it: with any still
// open, the registration lasts until they are closed too.
class SessionObject : public Closable<Session> {
 public:
  explicit SessionObject(std::unique_ptr<Session> session)
      : Closable(std::move(session), "shmport.Session") {}
};

// `endpoint` (a Publisher or Subscriber, which must not outlive its
// Session) as a shared_ptr whose deleter holds `session` until the
// endpoint is gone: its registration ends only then.
template <typename T>
std::shared_ptr<T> SharingSession(std::shared_ptr<Session> session,
                                  std::unique_ptr<T> endpoint) {
  return std::shared_ptr<T>(endpoint.release(),
                            [session = std::move(session)](T* t) { delete t; });
}

void DefineSession(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_SESSION_OBJECT_H_
