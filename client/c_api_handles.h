// What the C ABI's opaque handles (include/shmport/shmport.h) are: each
// one owns the C++ object it stands for. A buffer, message or tracking
// holds its port's mappings through the C++ object (shared_ptr), so it
// outlives the shmport_port it came from.
#ifndef SHMPORT_CLIENT_C_API_HANDLES_H_
#define SHMPORT_CLIENT_C_API_HANDLES_H_

#include <memory>

#include "client/c_api_errors.h"
#include "shmport/buffer.h"
#include "shmport/message.h"
#include "shmport/port.h"
#include "shmport/session.h"
#include "shmport/tracking.h"

struct shmport_session {
  std::unique_ptr<shmport::Session> session;
  mutable shmport::c_api::ErrorSlot error;  // shmport_session_last_error
};

struct shmport_port {
  std::unique_ptr<shmport::Port> port;
  mutable shmport::c_api::ErrorSlot error;  // shmport_port_last_error
};

struct shmport_buffer {
  shmport::Buffer buffer;
};

struct shmport_message {
  shmport::Message message;
};

struct shmport_tracking {
  shmport::Tracking tracking;
};

#endif  // SHMPORT_CLIENT_C_API_HANDLES_H_
