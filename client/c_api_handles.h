// What the C ABI's opaque handles (include/shmport/shmport.h) are: each
// one owns the C++ object it stands for. A buffer, message or tracking
// holds its port's mappings through the C++ object (shared_ptr), so it
// outlives the shmport_port it came from; a sample buffer or sample
// likewise outlives its publisher or subscriber. A publisher or subscriber
// shares its session, which the C++ one must not outlive (session.h).
#ifndef SHMPORT_CLIENT_C_API_HANDLES_H_
#define SHMPORT_CLIENT_C_API_HANDLES_H_

#include <memory>

#include "client/c_api_errors.h"
#include "shmport/buffer.h"
#include "shmport/message.h"
#include "shmport/port.h"
#include "shmport/session.h"
#include "shmport/topic.h"
#include "shmport/tracking.h"

struct shmport_session {
  // Shared with the session's publishers and subscribers.
  std::shared_ptr<shmport::Session> session;
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

// Members are destroyed in reverse order: the publisher before the session.
struct shmport_publisher {
  std::shared_ptr<shmport::Session> session;
  std::unique_ptr<shmport::Publisher> publisher;
  mutable shmport::c_api::ErrorSlot error;  // shmport_publisher_last_error
};

struct shmport_subscriber {
  std::shared_ptr<shmport::Session> session;
  std::unique_ptr<shmport::Subscriber> subscriber;
  mutable shmport::c_api::ErrorSlot error;  // shmport_subscriber_last_error
};

struct shmport_sample_buffer {
  shmport::SampleBuffer buffer;
};

struct shmport_sample {
  shmport::Sample sample;
};

#endif  // SHMPORT_CLIENT_C_API_HANDLES_H_
