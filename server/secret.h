// Secrets: session tokens and the admin token.
#ifndef SHMPORT_SERVER_SECRET_H_
#define SHMPORT_SERVER_SECRET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shmport::server {

// 32 bytes from getrandom(2), as 64 lowercase hex digits. Errors only if
// the kernel's random source fails.
absl::StatusOr<std::string> NewSecret();

// Compares in time independent of where the two differ, so that a client
// cannot guess a token byte by byte from response times.
bool SecretsEqual(absl::string_view a, absl::string_view b);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_SECRET_H_
