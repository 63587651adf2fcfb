// hello_receiver: registers as "hello-receiver", waits for a port, prints
// what arrives and answers each message, until the sender closes the port.
// The README's tour; see hello_sender.cc for the other side.
#include <algorithm>
#include <cstdio>
#include <string>

#include "shmport/session.h"

int main() {
  // Finds shmportd like shmportctl does: $SHMPORT_ADDRESS, else the default
  // socket under $XDG_RUNTIME_DIR or /tmp/shmport-$UID.
  auto session = shmport::Session::Connect({.name = "hello-receiver"});
  if (!session.ok()) {
    std::fprintf(stderr, "hello_receiver: %s\n",
                 session.status().ToString().c_str());
    return 1;
  }
  std::printf("hello-receiver: registered, waiting for a port\n");
  std::fflush(stdout);
  auto port = (*session)->AcceptPort(absl::Seconds(60));
  if (!port.ok()) {
    std::fprintf(stderr, "hello_receiver: %s\n",
                 port.status().ToString().c_str());
    return 1;
  }
  for (;;) {
    // The message's bytes are the sender's shared memory, read in place;
    // its chunks go back to the sender when `message` is dropped.
    auto message = (*port)->Receive(absl::Seconds(60));
    if (!message.ok()) break;  // UNAVAILABLE: the sender closed the port
    const auto bytes = message->data();
    std::printf("hello-receiver: %zu bytes from %s (%s): \"%.*s\"\n",
                message->size(), (*port)->peer().name.c_str(),
                message->in_shared_memory() ? "shared memory" : "inline",
                static_cast<int>(std::min<size_t>(bytes.size(), 24)),
                reinterpret_cast<const char*>(bytes.data()));
    const std::string reply = "got " + std::to_string(message->size());
    (void)(*port)->SendCopy(
        message->stream(),
        {reinterpret_cast<const uint8_t*>(reply.data()), reply.size()});
  }
  std::printf("hello-receiver: port closed (%s)\n",
              (*port)->closed_reason().ToString().c_str());
  return 0;
}
