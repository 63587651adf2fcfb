// shmport.Session: a process's registration with shmportd, from Python.
#ifndef SHMPORT_PYTHON_SESSION_OBJECT_H_
#define SHMPORT_PYTHON_SESSION_OBJECT_H_

#include <pybind11/pybind11.h>

#include <memory>

#include "shmport/session.h"

namespace shmport::python {

// Holds the Session until close() (or `with` ends, or collection). A call
// in progress on another thread keeps its own reference, so close() never
// destroys a Session under a blocked accept_port; that call finishes
// first. After close(), methods raise FailedPrecondition.
class SessionObject {
 public:
  explicit SessionObject(std::unique_ptr<Session> session)
      : session_(std::move(session)) {}

  std::shared_ptr<Session> Get() const;
  // Ends the registration (the daemon closes this process's ports in its
  // registry); ports already open keep working. Idempotent.
  void Close();
  bool closed() const { return session_ == nullptr; }

 private:
  std::shared_ptr<Session> session_;
};

void DefineSession(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_SESSION_OBJECT_H_
