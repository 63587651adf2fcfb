// The C ABI's sessions and ports (include/shmport/shmport.h); the data path
// (buffers, sends, messages) is in c_api_data.cc.
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/c_api_errors.h"
#include "client/c_api_handles.h"
#include "client/c_api_options.h"
#include "shmport/port.h"
#include "shmport/session.h"
#include "shmport/shmport.h"

static_assert(std::string_view(shmport::kClientVersion) ==
                  "libshmport/" SHMPORT_VERSION_STRING,
              "shmport.h's version and session.h's kClientVersion differ");

using shmport::c_api::Fail;
using shmport::c_api::InvalidArgument;

namespace {

// Hands a new port to the caller, or records why there is none.
shmport_status ReturnPort(absl::StatusOr<std::unique_ptr<shmport::Port>> port,
                          shmport::c_api::ErrorSlot* slot, shmport_port** out) {
  if (!port.ok()) {
    return slot != nullptr ? Fail(port.status(), *slot) : Fail(port.status());
  }
  *out = new shmport_port{.port = std::move(*port)};
  return SHMPORT_OK;
}

}  // namespace

extern "C" {

// --- Session ---

shmport_status shmport_session_connect(const shmport_session_options* options,
                                       shmport_session** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(options);
  absl::StatusOr<shmport::SessionOptions> o =
      shmport::c_api::ToSessionOptions(*options);
  if (!o.ok()) return Fail(o.status());
  absl::StatusOr<std::unique_ptr<shmport::Session>> session =
      shmport::Session::Connect(*o);
  if (!session.ok()) return Fail(session.status());
  *out = new shmport_session{.session = std::move(*session)};
  return SHMPORT_OK;
}

shmport_status shmport_session_free(shmport_session* session) {
  delete session;
  return SHMPORT_OK;
}

shmport_status shmport_session_open_port(
    shmport_session* session, const char* name_or_id,
    const shmport_open_port_options* options, shmport_port** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(session);
  SHMPORT_C_REQUIRE(name_or_id);
  absl::StatusOr<shmport::OpenPortOptions> o =
      shmport::c_api::ToOpenPortOptions(options);
  if (!o.ok()) return Fail(o.status(), session->error);
  return ReturnPort(session->session->OpenPort(name_or_id, *o), &session->error,
                    out);
}

shmport_status shmport_session_accept_port(shmport_session* session,
                                           int64_t timeout_ms,
                                           shmport_port** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(session);
  absl::StatusOr<absl::Duration> timeout =
      shmport::c_api::ToDuration(timeout_ms, absl::Milliseconds(1),
                                 "shmport_session_accept_port: timeout_ms");
  if (!timeout.ok()) return Fail(timeout.status(), session->error);
  return ReturnPort(session->session->AcceptPort(*timeout), &session->error,
                    out);
}

shmport_status shmport_session_reconnect(shmport_session* session) {
  SHMPORT_C_REQUIRE(session);
  absl::Status s = session->session->Reconnect();
  return s.ok() ? SHMPORT_OK : Fail(s, session->error);
}

shmport_status shmport_session_unregister(shmport_session* session) {
  SHMPORT_C_REQUIRE(session);
  absl::Status s = session->session->Unregister();
  return s.ok() ? SHMPORT_OK : Fail(s, session->error);
}

shmport_status shmport_session_process_id(const shmport_session* session,
                                          uint64_t* out) {
  SHMPORT_C_REQUIRE(session);
  SHMPORT_C_REQUIRE(out);
  *out = session->session->process_id();
  return SHMPORT_OK;
}

shmport_status shmport_session_health(const shmport_session* session) {
  SHMPORT_C_REQUIRE(session);
  absl::Status s = session->session->health();
  return s.ok() ? SHMPORT_OK : Fail(s, session->error);
}

shmport_status shmport_session_last_error(const shmport_session* session,
                                          char* out, size_t out_size,
                                          size_t* length) {
  SHMPORT_C_REQUIRE(session);
  return session->error.CopyTo(__func__, out, out_size, length);
}

// --- Port ---

shmport_status shmport_port_open_socket(int socket, const shmport_peer* peer,
                                        const shmport_port_options* options,
                                        shmport_port** out) {
  shmport::UniqueFd fd(socket);  // ours whatever happens
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(peer);
  if (socket < 0) {
    return InvalidArgument(__func__, absl::StrCat("socket is ", socket));
  }
  absl::StatusOr<shmport::PortOptions> o =
      shmport::c_api::ToPortOptions(options);
  if (!o.ok()) return Fail(o.status());
  shmport::PeerIdentity identity;
  identity.pid = peer->pid;
  identity.uid = static_cast<uid_t>(peer->uid);
  return ReturnPort(shmport::Port::Open(std::move(fd), identity, *o), nullptr,
                    out);
}

shmport_status shmport_port_close(shmport_port* port) {
  SHMPORT_C_REQUIRE(port);
  port->port->Close();
  return SHMPORT_OK;
}

shmport_status shmport_port_free(shmport_port* port) {
  delete port;
  return SHMPORT_OK;
}

shmport_status shmport_port_fd(const shmport_port* port, int* fd) {
  SHMPORT_C_REQUIRE(port);
  SHMPORT_C_REQUIRE(fd);
  *fd = port->port->fd();
  return SHMPORT_OK;
}

shmport_status shmport_port_closed_reason(const shmport_port* port,
                                          shmport_status* code,
                                          const char** message) {
  SHMPORT_C_REQUIRE(port);
  SHMPORT_C_REQUIRE(code);
  const absl::Status reason = port->port->closed_reason();
  *code = static_cast<shmport_status>(reason.code());
  if (message != nullptr) {
    *message = shmport::c_api::ThreadLocalString(std::string(reason.message()));
  }
  return SHMPORT_OK;
}

shmport_status shmport_port_info_get(const shmport_port* port,
                                     shmport_port_info* info) {
  SHMPORT_C_REQUIRE(port);
  SHMPORT_C_REQUIRE(info);
  const shmport::Port& p = *port->port;
  const shmport::PeerIdentity& peer = p.peer();
  shmport_port_info full = {};
  full.port_id = p.port_id();
  full.peer_process_id = peer.process_id;
  full.peer_pid = peer.pid;
  full.peer_uid = peer.uid == static_cast<uid_t>(-1) ? -1 : peer.uid;
  full.peer_name = peer.name.c_str();
  full.peer_chunk_size = p.peer_geometry().chunk_size;
  full.peer_chunk_count = p.peer_geometry().chunk_count;
  absl::Status s = shmport::c_api::WriteStruct(full, info, "shmport_port_info");
  return s.ok() ? SHMPORT_OK : Fail(s);
}

shmport_status shmport_port_stats_get(const shmport_port* port,
                                      shmport_port_stats* stats) {
  SHMPORT_C_REQUIRE(port);
  SHMPORT_C_REQUIRE(stats);
  absl::Status s =
      shmport::c_api::WriteStruct(shmport::c_api::ToCStats(port->port->stats()),
                                  stats, "shmport_port_stats");
  return s.ok() ? SHMPORT_OK : Fail(s);
}

shmport_status shmport_port_last_error(const shmport_port* port, char* out,
                                       size_t out_size, size_t* length) {
  SHMPORT_C_REQUIRE(port);
  return port->error.CopyTo(__func__, out, out_size, length);
}

}  // extern "C"
