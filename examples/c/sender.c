/* sender: registers as "c-sender", opens a port to "c-receiver" and sends
 * a small message (copied) and 1 MiB written in place into shared memory,
 * printing each reply.
 *   bazel run //examples/c:sender   (after //examples/c:receiver) */
#include <stdio.h>
#include <string.h>

#include "shmport/shmport.h"

static int fail(const char* what) {
  fprintf(stderr, "sender: %s: %s\n", what, shmport_last_error());
  return 1;
}

static int print_reply(shmport_port* port) {
  shmport_message* reply = NULL;
  if (shmport_port_receive(port, 10000, &reply) != SHMPORT_OK) return 0;
  const void* data = NULL;
  size_t size = 0;
  shmport_message_data(reply, &data, &size);
  printf("c-sender: c-receiver replied \"%.*s\"\n", (int)size,
         data ? (const char*)data : "");
  shmport_message_release(reply);
  return 1;
}

int main(void) {
  shmport_session_options options;
  shmport_session_options_init(&options);
  options.name = "c-sender";
  shmport_session* session = NULL;
  if (shmport_session_connect(&options, &session) != SHMPORT_OK) {
    return fail("connect");
  }
  shmport_open_port_options open;
  shmport_open_port_options_init(&open);
  open.wait_for_peer_ms = 10000; /* the receiver may still be starting */
  shmport_port* port = NULL;
  if (shmport_session_open_port(session, "c-receiver", &open, &port) !=
      SHMPORT_OK) {
    shmport_session_free(session);
    return fail("open port");
  }
  const char hello[] = "hello from C";
  int ok =
      shmport_port_send_copy(port, 1, hello, strlen(hello), 0) == SHMPORT_OK &&
      print_reply(port);
  shmport_buffer* buffer = NULL; /* 1 MiB: chunks of a memfd, no copy */
  ok = ok && shmport_port_allocate(port, 1 << 20, SHMPORT_DEFAULT_TIMEOUT,
                                   &buffer) == SHMPORT_OK;
  if (ok) {
    void* data = NULL;
    size_t size = 0;
    shmport_buffer_data(buffer, &data, &size);
    memset(data, 'x', size); /* written once */
    ok = shmport_port_send(port, 1, buffer, 1) == SHMPORT_OK && /* consumed */
         print_reply(port);
  }
  if (!ok) fail("exchange");
  shmport_port_free(port); /* sends BYE: the receiver sees the port close */
  shmport_session_free(session);
  return ok ? 0 : 1;
}
