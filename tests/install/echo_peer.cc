// The C++ peer of the installed-library tests (tests/install): registers
// as EXCHANGE_PEER, takes one port, checks every byte of each of the
// EXCHANGE_MESSAGES requests (exchange.h) and answers each with its reply,
// zero-copy, then waits for the consumer to close the port. Exit 0 when
// all requests were right and the consumer closed the port afterwards.
//   echo_peer    (the daemon at $SHMPORT_ADDRESS)
#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "exchange.h"
#include "shmport/session.h"

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "echo_peer: %s\n", status.ToString().c_str());
  return 1;
}

// Takes request i, checks it, and sends the reply.
absl::Status Answer(shmport::Port& port, uint32_t i) {
  auto request = port.Receive(absl::Seconds(30));
  if (!request.ok()) return request.status();
  const size_t size = exchange_size(i);
  if (request->stream() != i || request->size() != size) {
    return absl::DataLossError(
        absl::StrFormat("request %u: stream %u, %zu bytes; want %zu", i,
                        request->stream(), request->size(), size));
  }
  if (long long bad = ExchangeCheckMessage(*request, i, EXCHANGE_REQUEST);
      bad >= 0) {
    return absl::DataLossError(
        absl::StrFormat("request %u: byte %lld of %zu is wrong", i, bad, size));
  }
  *request = shmport::Message();  // its chunks go back before the reply
  auto buffer = port.Allocate(size);
  if (!buffer.ok()) return buffer.status();
  exchange_fill(buffer->data(), size, i, EXCHANGE_REPLY);
  return port.Send(i, std::move(*buffer));
}

}  // namespace

int main() {
  auto session = shmport::Session::Connect({.name = EXCHANGE_PEER});
  if (!session.ok()) return Fail(session.status());
  auto port = (*session)->AcceptPort(absl::Seconds(60));
  if (!port.ok()) return Fail(port.status());
  for (uint32_t i = 0; i < EXCHANGE_MESSAGES; ++i) {
    if (absl::Status status = Answer(**port, i); !status.ok()) {
      return Fail(status);
    }
  }
  // The consumer closes the port once it has checked the last reply.
  auto after = (*port)->Receive(absl::Seconds(30));
  if (after.ok() || !absl::IsUnavailable(after.status())) {
    return Fail(absl::FailedPreconditionError(
        "the consumer sent more than " + std::to_string(EXCHANGE_MESSAGES) +
        " messages, or did not close: " +
        (after.ok() ? std::string("a message") : after.status().ToString())));
  }
  std::printf("echo_peer: %u requests checked and answered\n",
              EXCHANGE_MESSAGES);
  return 0;
}
