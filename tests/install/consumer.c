/* The C consumer of an installed libshmport (tests/install), compiled out
 * of the tree with cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags
 * --libs shmport): opens a port to EXCHANGE_PEER and runs the exchange
 * (exchange.h) through the C ABI, zero-copy both ways, checking every byte
 * of every reply. Exit 0 when all EXCHANGE_MESSAGES came back right.
 *   consumer [NAME]    (the daemon at $SHMPORT_ADDRESS) */
#include <stdio.h>

#include "exchange.h"
#include "shmport/shmport.h"

static int fail(const char* what, uint32_t i) {
  fprintf(stderr, "consumer: message %u: %s: %s\n", (unsigned)i, what,
          shmport_last_error());
  return 0;
}

/* The reply's fragments, in order, checked against message i's reply. */
static int check_reply(const shmport_message* reply, uint32_t i) {
  size_t size = 0, count = 0, offset = 0;
  uint32_t stream = 0;
  shmport_message_size(reply, &size);
  shmport_message_stream(reply, &stream, NULL);
  if (stream != i || size != exchange_size(i)) {
    fprintf(stderr, "consumer: reply %u: stream %u, %zu bytes; want %zu\n",
            (unsigned)i, (unsigned)stream, size, exchange_size(i));
    return 0;
  }
  shmport_message_fragment_count(reply, &count);
  for (size_t f = 0; f < count; ++f) {
    const void* data = NULL;
    size_t n = 0;
    shmport_message_fragment(reply, f, &data, &n);
    long long bad = exchange_check(data, n, offset, i, EXCHANGE_REPLY);
    if (bad >= 0) {
      fprintf(stderr, "consumer: reply %u: byte %lld of %zu is wrong\n",
              (unsigned)i, bad, size);
      return 0;
    }
    offset += n;
  }
  return 1;
}

/* Sends message i, zero-copy, and checks the peer's reply to it. */
static int round_trip(shmport_port* port, uint32_t i) {
  size_t size = exchange_size(i);
  shmport_buffer* buffer = NULL;
  if (shmport_port_allocate(port, size, SHMPORT_DEFAULT_TIMEOUT, &buffer) !=
      SHMPORT_OK) {
    return fail("allocate", i);
  }
  void* data = NULL;
  shmport_buffer_data(buffer, &data, NULL);
  exchange_fill(data, size, i, EXCHANGE_REQUEST);
  if (shmport_port_send(port, i, buffer, 0) != SHMPORT_OK) {
    return fail("send", i);
  }
  shmport_message* reply = NULL;
  if (shmport_port_receive(port, 30000, &reply) != SHMPORT_OK) {
    return fail("receive", i);
  }
  int ok = check_reply(reply, i);
  shmport_message_release(reply);
  return ok;
}

int main(int argc, char** argv) {
  shmport_session_options options;
  shmport_session_options_init(&options);
  options.name = argc > 1 ? argv[1] : "c-consumer";
  shmport_session* session = NULL;
  if (shmport_session_connect(&options, &session) != SHMPORT_OK) {
    return !fail("connect", 0);
  }
  shmport_open_port_options open;
  shmport_open_port_options_init(&open);
  open.wait_for_peer_ms = 30000;
  shmport_port* port = NULL;
  if (shmport_session_open_port(session, EXCHANGE_PEER, &open, &port) !=
      SHMPORT_OK) {
    shmport_session_free(session);
    return !fail("open port", 0);
  }
  unsigned long long bytes = 0;
  uint32_t i = 0;
  for (; i < EXCHANGE_MESSAGES && round_trip(port, i); ++i) {
    bytes += exchange_size(i);
  }
  shmport_port_free(port);
  shmport_session_free(session);
  if (i < EXCHANGE_MESSAGES) return 1;
  printf("%s: %u messages, %llu bytes each way, every byte checked\n",
         options.name, EXCHANGE_MESSAGES, bytes);
  return 0;
}
