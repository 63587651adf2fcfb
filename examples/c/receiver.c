/* receiver: the C ABI's hello pair (see sender.c). Registers as
 * "c-receiver", waits for a port, prints what arrives and answers each
 * message, until the sender closes the port.
 *   bazel run //examples/c:receiver   (with `make run`'s daemon) */
#include <stdio.h>
#include <string.h>

#include "shmport/shmport.h"

static int fail(const char* what) {
  fprintf(stderr, "receiver: %s: %s\n", what, shmport_last_error());
  return 1;
}

int main(void) {
  shmport_session_options options;
  shmport_session_options_init(&options);
  options.name = "c-receiver"; /* address NULL: found like shmportctl */
  shmport_session* session = NULL;
  if (shmport_session_connect(&options, &session) != SHMPORT_OK) {
    return fail("connect");
  }
  printf("c-receiver: registered, waiting for a port\n");
  fflush(stdout);
  shmport_port* port = NULL;
  if (shmport_session_accept_port(session, 60000, &port) != SHMPORT_OK) {
    shmport_session_free(session);
    return fail("accept");
  }
  shmport_message* message = NULL;
  /* UNAVAILABLE ends the loop: the sender closed the port. */
  while (shmport_port_receive(port, 60000, &message) == SHMPORT_OK) {
    const void* data = NULL;
    size_t size = 0;
    uint32_t stream = 0;
    shmport_message_data(message, &data, &size); /* the sender's memory */
    shmport_message_stream(message, &stream, NULL);
    printf("c-receiver: %zu bytes on stream %u: \"%.*s\"\n", size,
           (unsigned)stream, (int)(size < 24 ? size : 24),
           data ? (const char*)data : "");
    shmport_message_release(message); /* its chunks go back to the sender */
    char reply[32];
    snprintf(reply, sizeof(reply), "got %zu", size);
    shmport_port_send_copy(port, stream, reply, strlen(reply), 0);
  }
  shmport_status code = SHMPORT_OK;
  const char* why = "";
  shmport_port_closed_reason(port, &code, &why);
  printf("c-receiver: port closed (%s: %s)\n", shmport_status_name(code), why);
  shmport_port_free(port);
  shmport_session_free(session);
  return 0;
}
