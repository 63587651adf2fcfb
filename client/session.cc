// Session: the public face of internal::SessionCore (client/session_core.h).
#include "shmport/session.h"

#include <utility>

#include "client/session_core.h"
#include "common/log.h"

namespace shmport {

absl::StatusOr<std::unique_ptr<Session>> Session::Connect(
    const SessionOptions& options) {
  auto core = internal::SessionCore::Connect(options);
  if (!core.ok()) return core.status();
  return std::unique_ptr<Session>(new Session(*std::move(core)));
}

Session::Session(std::unique_ptr<internal::SessionCore> core)
    : core_(std::move(core)) {}

Session::~Session() = default;

absl::StatusOr<std::unique_ptr<Port>> Session::OpenPort(
    absl::string_view name_or_id, const OpenPortOptions& options) {
  return core_->OpenPort(name_or_id, options);
}

absl::StatusOr<std::unique_ptr<Port>> Session::AcceptPort(
    absl::Duration timeout) {
  return core_->AcceptPort(timeout);
}

absl::Status Session::Reconnect() { return core_->Reconnect(); }
absl::Status Session::Unregister() { return core_->Unregister(); }
uint64_t Session::process_id() const { return core_->process_id(); }
const std::string& Session::name() const { return core_->name(); }
const std::string& Session::address() const { return core_->address(); }
absl::Status Session::health() const { return core_->health(); }

void Session::SetLogSink(LogSink sink) {
  if (!sink) {
    shmport::SetLogSink(nullptr);
    return;
  }
  shmport::SetLogSink(
      [sink = std::move(sink)](LogLevel level, absl::string_view line) {
        sink(static_cast<LogSeverity>(level), line);
      });
}

}  // namespace shmport
