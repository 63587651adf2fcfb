// hello_sender: registers as "hello-sender", opens a port to
// "hello-receiver" and sends two messages: a small one (inline, copied
// through the socket) and 1 MiB written straight into shared memory.
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/time/time.h"
#include "shmport/session.h"

int main() {
  auto session = shmport::Session::Connect({.name = "hello-sender"});
  if (!session.ok()) {
    std::fprintf(stderr, "hello_sender: %s\n",
                 session.status().ToString().c_str());
    return 1;
  }
  // The receiver may still be starting: wait for it up to 10 s.
  auto port = (*session)->OpenPort("hello-receiver",
                                   {.wait_for_peer = absl::Seconds(10)});
  if (!port.ok()) {
    std::fprintf(stderr, "hello_sender: %s\n",
                 port.status().ToString().c_str());
    return 1;
  }
  const std::string hello = "hello, shared memory";
  auto small = (*port)->Allocate(hello.size());  // below 1 KiB: inline
  auto large = (*port)->Allocate(1 << 20);       // 1 MiB: chunks of a memfd
  if (!small.ok() || !large.ok()) return 1;
  std::memcpy(small->data(), hello.data(), hello.size());
  std::memset(large->data(), 'x', large->size());  // written once, in place
  for (auto* buffer : {&*small, &*large}) {
    if (auto sent = (*port)->Send(/*stream=*/1, std::move(*buffer));
        !sent.ok()) {
      std::fprintf(stderr, "hello_sender: %s\n", sent.ToString().c_str());
      return 1;
    }
    auto reply = (*port)->Receive(absl::Seconds(10));
    if (!reply.ok()) return 1;
    std::printf("hello-sender: %s replied \"%s\"\n",
                (*port)->peer().name.c_str(), reply->ToString().c_str());
  }
  return 0;  // dropping the port sends BYE: the receiver sees it close
}
