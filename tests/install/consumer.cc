// The C++ consumer of an installed libshmport (tests/install), built out
// of the tree by CMake with find_package(shmport): opens a port to
// EXCHANGE_PEER and runs the exchange (exchange.h), zero-copy both ways,
// checking every byte of every reply. Also the sender of the out-of-tree
// Bazel workspace. Exit 0 when all EXCHANGE_MESSAGES came back right.
//   consumer [NAME]    (the daemon at $SHMPORT_ADDRESS)
#include <cstdio>
#include <string>
#include <utility>

#include "exchange.h"
#include "shmport/session.h"

namespace {

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "consumer: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

// Sends message i and checks the peer's reply to it.
absl::Status RoundTrip(shmport::Port& port, uint32_t i) {
  const size_t size = exchange_size(i);
  auto buffer = port.Allocate(size);
  if (!buffer.ok()) return buffer.status();
  exchange_fill(buffer->data(), size, i, EXCHANGE_REQUEST);
  if (absl::Status sent = port.Send(i, std::move(*buffer)); !sent.ok()) {
    return sent;
  }
  auto reply = port.Receive(absl::Seconds(30));
  if (!reply.ok()) return reply.status();
  const std::string what = "reply " + std::to_string(i) + ": ";
  if (reply->stream() != i || reply->size() != size) {
    return absl::DataLossError(
        what + "stream " + std::to_string(reply->stream()) + ", " +
        std::to_string(reply->size()) + " bytes; want " + std::to_string(size));
  }
  if (long long bad = ExchangeCheckMessage(*reply, i, EXCHANGE_REPLY);
      bad >= 0) {
    return absl::DataLossError(what + "byte " + std::to_string(bad) + " of " +
                               std::to_string(size) + " is wrong");
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  const char* name = argc > 1 ? argv[1] : "cmake-consumer";
  auto session = shmport::Session::Connect({.name = name});
  if (!session.ok()) return Fail("connect", session.status());
  auto port =
      (*session)->OpenPort(EXCHANGE_PEER, {.wait_for_peer = absl::Seconds(30)});
  if (!port.ok()) return Fail("open port", port.status());
  unsigned long long bytes = 0;
  for (uint32_t i = 0; i < EXCHANGE_MESSAGES; ++i) {
    if (absl::Status status = RoundTrip(**port, i); !status.ok()) {
      return Fail("exchange", status);
    }
    bytes += exchange_size(i);
  }
  std::printf("%s: %u messages, %llu bytes each way, every byte checked\n",
              name, EXCHANGE_MESSAGES, bytes);
  return 0;
}
