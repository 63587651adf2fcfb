/* c_api_test: <shmport/shmport.h> driven from C against a real shmportd.
 * Two sessions in this process talk through the daemon; each test is one
 * behaviour of the C ABI, including its error paths. A failed CHECK prints
 * the line and the library's last error; the exit code is the number of
 * failed tests. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shmport/shmport.h"
#include "tests/c_api/c_check.h"
#include "tests/c_api/daemon_fixture.h"

static const char* address; /* the daemon's, for every session */

static shmport_status connect_as(const char* name, shmport_session** out) {
  shmport_session_options o;
  shmport_session_options_init(&o);
  o.name = name;
  o.address = address;
  return shmport_session_connect(&o, out);
}

/* Two sessions of this process and a port between them. */
typedef struct pair {
  shmport_session* a;
  shmport_session* b;
  shmport_port* pa; /* a's end, opened */
  shmport_port* pb; /* b's end, accepted */
} pair;

static int open_pair(const char* prefix,
                     const shmport_open_port_options* options, pair* p) {
  char a[64];
  char b[64];
  snprintf(a, sizeof(a), "%s-a", prefix);
  snprintf(b, sizeof(b), "%s-b", prefix);
  memset(p, 0, sizeof(*p));
  if (connect_as(a, &p->a) != SHMPORT_OK) return 0;
  if (connect_as(b, &p->b) != SHMPORT_OK) return 0;
  if (shmport_session_open_port(p->a, b, options, &p->pa) != SHMPORT_OK) {
    return 0;
  }
  return shmport_session_accept_port(p->b, 10000, &p->pb) == SHMPORT_OK;
}

static void close_pair(pair* p) {
  CHECK_OK(shmport_port_free(p->pa));
  CHECK_OK(shmport_port_free(p->pb));
  CHECK_OK(shmport_session_free(p->a));
  CHECK_OK(shmport_session_free(p->b));
}

/* Fills `n` bytes with a pattern that depends on `seed` and the offset. */
static void fill(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = (unsigned char)(i * 31 + seed);
}

static int matches(const unsigned char* p, size_t n, unsigned seed,
                   size_t offset) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != (unsigned char)((i + offset) * 31 + seed)) return 0;
  }
  return 1;
}

static shmport_port_stats stats_of(const shmport_port* port) {
  shmport_port_stats s;
  memset(&s, 0, sizeof(s));
  s.struct_size = sizeof(s);
  CHECK_OK(shmport_port_stats_get(port, &s));
  return s;
}

/* ---- Tests ------------------------------------------------------------ */

static void VersionAndStatusNamesMatchTheHeader(void) {
  CHECK(strcmp(shmport_version(), SHMPORT_VERSION_STRING) == 0);
  CHECK(SHMPORT_VERSION == SHMPORT_VERSION_MAJOR * 10000 +
                               SHMPORT_VERSION_MINOR * 100 +
                               SHMPORT_VERSION_PATCH);
  CHECK(SHMPORT_UNAVAILABLE == 14 && SHMPORT_DEADLINE_EXCEEDED == 4);
  CHECK(strcmp(shmport_status_name(SHMPORT_OK), "OK") == 0);
  CHECK(strcmp(shmport_status_name(SHMPORT_UNAVAILABLE), "UNAVAILABLE") == 0);
  CHECK(strcmp(shmport_status_name(SHMPORT_UNAUTHENTICATED),
               "UNAUTHENTICATED") == 0);
  CHECK(strcmp(shmport_status_name((shmport_status)99), "UNKNOWN_STATUS") == 0);
}

static void NullHandlesAreInvalidArgumentsNamedInTheMessage(void) {
  shmport_session* s = (shmport_session*)1; /* must be overwritten */
  CHECK_INVALID(shmport_session_connect(NULL, &s));
  CHECK(s == NULL);
  CHECK_ERROR_MENTIONS("shmport_session_connect: options is NULL");
  CHECK_INVALID(shmport_session_connect(NULL, NULL));
  shmport_port* port = NULL;
  CHECK_INVALID(shmport_session_open_port(NULL, "x", NULL, &port));
  CHECK_ERROR_MENTIONS("session is NULL");
  CHECK_INVALID(shmport_session_accept_port(NULL, 0, &port));
  CHECK_INVALID(shmport_session_reconnect(NULL));
  CHECK_INVALID(shmport_session_unregister(NULL));
  CHECK_INVALID(shmport_session_process_id(NULL, NULL));
  CHECK_INVALID(shmport_session_health(NULL));
  CHECK_INVALID(shmport_session_last_error(NULL, NULL, 0, NULL));
  CHECK_INVALID(shmport_port_close(NULL));
  CHECK_INVALID(shmport_port_fd(NULL, NULL));
  CHECK_INVALID(shmport_port_closed_reason(NULL, NULL, NULL));
  CHECK_INVALID(shmport_port_info_get(NULL, NULL));
  CHECK_INVALID(shmport_port_stats_get(NULL, NULL));
  CHECK_INVALID(shmport_port_last_error(NULL, NULL, 0, NULL));
  shmport_buffer* buffer = NULL;
  CHECK_INVALID(shmport_port_allocate(NULL, 10, 0, &buffer));
  CHECK_ERROR_MENTIONS("shmport_port_allocate: port is NULL");
  CHECK_INVALID(shmport_port_try_allocate(NULL, 10, &buffer));
  CHECK_INVALID(shmport_port_send(NULL, 1, NULL, 0));
  CHECK_INVALID(shmport_port_send_many(NULL, 1, NULL, 0, 0));
  CHECK_INVALID(shmport_port_send_copy(NULL, 1, "x", 1, 0));
  CHECK_INVALID(shmport_port_send_tracked(NULL, 1, NULL, 0, NULL));
  CHECK_INVALID(shmport_port_receive(NULL, 0, NULL));
  shmport_message* message = NULL;
  CHECK_INVALID(shmport_port_try_receive(NULL, &message));
  CHECK_INVALID(shmport_buffer_data(NULL, NULL, NULL));
  CHECK_INVALID(shmport_buffer_capacity(NULL, NULL));
  CHECK_INVALID(shmport_buffer_resize(NULL, 0));
  CHECK_INVALID(shmport_tracking_cancel(NULL, NULL));
  CHECK_INVALID(shmport_tracking_stream(NULL, NULL));
  CHECK_INVALID(shmport_message_data(NULL, NULL, NULL));
  CHECK_INVALID(shmport_message_size(NULL, NULL));
  CHECK_INVALID(shmport_message_fragment_count(NULL, NULL));
  CHECK_INVALID(shmport_message_fragment(NULL, 0, NULL, NULL));
  CHECK_INVALID(shmport_message_stream(NULL, NULL, NULL));
  CHECK_INVALID(shmport_message_copy_to(NULL, NULL, 0));
  CHECK_INVALID(shmport_port_options_init(NULL));
  CHECK_INVALID(shmport_session_options_init(NULL));
  CHECK_INVALID(shmport_open_port_options_init(NULL));
  /* Freeing NULL is a no-op, as free(NULL) is. */
  CHECK_OK(shmport_session_free(NULL));
  CHECK_OK(shmport_port_free(NULL));
  CHECK_OK(shmport_buffer_free(NULL));
  CHECK_OK(shmport_tracking_free(NULL));
  CHECK_OK(shmport_message_release(NULL));
}

static void OptionStructsGrowOnlyWithZeros(void) {
  /* A newer caller's bigger struct: fine while the unknown tail is zero. */
  struct {
    shmport_session_options known;
    uint64_t future_field;
  } bigger;
  memset(&bigger, 0, sizeof(bigger));
  shmport_session_options_init(&bigger.known);
  bigger.known.struct_size = sizeof(bigger);
  bigger.known.name = "bad name"; /* refused by the daemon, not by us */
  bigger.known.address = address;
  shmport_session* s = NULL;
  CHECK_STATUS(shmport_session_connect(&bigger.known, &s),
               SHMPORT_INVALID_ARGUMENT);
  CHECK(strstr(shmport_last_error(), "struct_size") == NULL);
  bigger.future_field = 7;
  CHECK_INVALID(shmport_session_connect(&bigger.known, &s));
  CHECK_ERROR_MENTIONS("knows only");

  shmport_session_options small;
  shmport_session_options_init(&small);
  small.struct_size = (size_t)1 << 40; /* uninitialised, say: not read */
  small.name = "x";
  CHECK_INVALID(shmport_session_connect(&small, &s));
  CHECK_ERROR_MENTIONS("struct_size");
  small.struct_size = sizeof(size_t);
  small.name = "x";
  CHECK_INVALID(shmport_session_connect(&small, &s));
  CHECK_ERROR_MENTIONS("struct_size");

  shmport_session_options o;
  shmport_session_options_init(&o);
  o.address = address;
  CHECK_INVALID(shmport_session_connect(&o, &s));
  CHECK_ERROR_MENTIONS("name is NULL");
  o.name = "neg";
  o.rpc_timeout_ms = -5;
  CHECK_INVALID(shmport_session_connect(&o, &s));
  CHECK_ERROR_MENTIONS("rpc_timeout_ms is -5");
  o.rpc_timeout_ms = 5000;
  shmport_label labels[1] = {{"k", NULL}};
  o.labels = labels;
  o.label_count = 1;
  CHECK_INVALID(shmport_session_connect(&o, &s));
  CHECK_ERROR_MENTIONS("labels[0]");
  CHECK(s == NULL);
}

static void ConnectErrorsCarryTheDaemonsCodes(void) {
  shmport_session_options o;
  shmport_session_options_init(&o);
  o.name = "nobody";
  o.address = "unix:/tmp/shmport-c-api-test-no-daemon/control.sock";
  o.rpc_timeout_ms = 2000;
  shmport_session* s = NULL;
  CHECK_STATUS(shmport_session_connect(&o, &s), SHMPORT_UNAVAILABLE);
  CHECK(s == NULL);
  shmport_session* first = NULL;
  REQUIRE(connect_as("taken", &first) == SHMPORT_OK);
  CHECK_STATUS(connect_as("taken", &s), SHMPORT_ALREADY_EXISTS);
  CHECK_ERROR_MENTIONS("taken");
  uint64_t id = 0;
  CHECK_OK(shmport_session_process_id(first, &id));
  CHECK(id != 0);
  CHECK_OK(shmport_session_health(first));
  shmport_port* port = NULL;
  CHECK_STATUS(shmport_session_open_port(first, "no-such-process", NULL, &port),
               SHMPORT_NOT_FOUND);
  char text[256];
  size_t length = 0;
  CHECK_OK(shmport_session_last_error(first, text, sizeof(text), &length));
  CHECK(strstr(text, "no-such-process") != NULL && length == strlen(text));
  CHECK_STATUS(shmport_session_accept_port(first, 20, &port),
               SHMPORT_DEADLINE_EXCEEDED);
  CHECK_INVALID(shmport_session_accept_port(first, -7, &port));
  CHECK_OK(shmport_session_unregister(first));
  CHECK_OK(shmport_session_unregister(first)); /* idempotent */
  CHECK_STATUS(shmport_session_open_port(first, "x", NULL, &port),
               SHMPORT_FAILED_PRECONDITION);
  CHECK(port == NULL);
  CHECK_OK(shmport_session_free(first));
}

static void ZeroCopySendArrivesInPlaceWithStreamAndLastFlag(void) {
  pair p;
  REQUIRE(open_pair("zc", NULL, &p));
  shmport_port_info info;
  info.struct_size = sizeof(info);
  CHECK_OK(shmport_port_info_get(p.pa, &info));
  CHECK(strcmp(info.peer_name, "zc-b") == 0);
  CHECK(info.port_id != 0 && info.peer_pid == getpid());
  CHECK(info.peer_uid == (int64_t)getuid());
  CHECK(info.peer_chunk_size >= 4096 && info.peer_chunk_count > 0);

  const size_t n = 256 * 1024;
  shmport_buffer* buffer = NULL;
  REQUIRE(shmport_port_allocate(p.pa, n, SHMPORT_DEFAULT_TIMEOUT, &buffer) ==
          SHMPORT_OK);
  void* data = NULL;
  size_t size = 0;
  CHECK_OK(shmport_buffer_data(buffer, &data, &size));
  REQUIRE(size == n && data != NULL);
  fill(data, n, 7);
  CHECK_OK(shmport_port_send(p.pa, 42, buffer, 1));

  shmport_message* m = NULL;
  REQUIRE(shmport_port_receive(p.pb, 10000, &m) == SHMPORT_OK);
  const void* got = NULL;
  size_t got_size = 0;
  uint32_t stream = 0;
  int last = 0;
  CHECK_OK(shmport_message_data(m, &got, &got_size));
  CHECK_OK(shmport_message_stream(m, &stream, &last));
  CHECK(got_size == n && matches(got, n, 7, 0));
  CHECK(stream == 42 && last == 1);
  CHECK(stats_of(p.pa).chunks_in_use > 0); /* read in place, not copied */
  CHECK_OK(shmport_message_release(m));
  CHECK(stats_of(p.pa).chunks_in_use == 0);
  shmport_port_stats s = stats_of(p.pb);
  CHECK(s.messages_received == 1 && s.bytes_received == n);
  CHECK(s.segments_in >= 1 && s.closed == 0);
  close_pair(&p);
}

static void SendCopyOfMoreThanASegmentArrivesInFragments(void) {
  shmport_open_port_options o;
  shmport_open_port_options_init(&o);
  o.chunk_size = 4096;
  o.chunk_count = 16; /* 64 KiB segments */
  pair p;
  REQUIRE(open_pair("frag", &o, &p));
  const size_t n = 200 * 1024;
  unsigned char* bytes = malloc(n);
  fill(bytes, n, 3);
  CHECK_OK(shmport_port_send_copy(p.pa, 5, bytes, n, 0));
  free(bytes);
  shmport_message* m = NULL;
  REQUIRE(shmport_port_receive(p.pb, 10000, &m) == SHMPORT_OK);
  size_t count = 0;
  size_t total = 0;
  CHECK_OK(shmport_message_fragment_count(m, &count));
  CHECK_OK(shmport_message_size(m, &total));
  CHECK(count >= 4 && total == n);
  size_t offset = 0;
  for (size_t i = 0; i < count; ++i) {
    const void* f = NULL;
    size_t f_size = 0;
    CHECK_OK(shmport_message_fragment(m, i, &f, &f_size));
    CHECK(f_size <= 64 * 1024 && matches(f, f_size, 3, offset));
    offset += f_size;
  }
  CHECK(offset == n);
  CHECK_STATUS(shmport_message_fragment(m, count, NULL, NULL),
               SHMPORT_OUT_OF_RANGE);
  unsigned char* copy = malloc(n);
  CHECK_STATUS(shmport_message_copy_to(m, copy, n - 1), SHMPORT_OUT_OF_RANGE);
  CHECK_OK(shmport_message_copy_to(m, copy, n));
  CHECK(matches(copy, n, 3, 0));
  free(copy);
  CHECK_OK(shmport_message_release(m));
  close_pair(&p);
}

static void SendManyGivesOneFragmentPerBufferInOrder(void) {
  pair p;
  REQUIRE(open_pair("many", NULL, &p));
  shmport_buffer* buffers[2] = {NULL, NULL};
  const size_t sizes[2] = {32 * 1024, 48 * 1024};
  for (int i = 0; i < 2; ++i) {
    REQUIRE(shmport_port_allocate(p.pa, sizes[i], 1000, &buffers[i]) ==
            SHMPORT_OK);
    void* data = NULL;
    CHECK_OK(shmport_buffer_data(buffers[i], &data, NULL));
    fill(data, sizes[i], (unsigned)i);
  }
  CHECK_OK(shmport_port_send_many(p.pa, 9, buffers, 2, 0));
  shmport_message* m = NULL;
  REQUIRE(shmport_port_receive(p.pb, 10000, &m) == SHMPORT_OK);
  size_t count = 0;
  CHECK_OK(shmport_message_fragment_count(m, &count));
  REQUIRE(count == 2);
  for (size_t i = 0; i < 2; ++i) {
    const void* f = NULL;
    size_t f_size = 0;
    CHECK_OK(shmport_message_fragment(m, i, &f, &f_size));
    CHECK(f_size == sizes[i] && matches(f, f_size, (unsigned)i, 0));
  }
  CHECK_OK(shmport_message_release(m));
  /* A NULL entry: nothing is sent, the other buffers are consumed. */
  shmport_buffer* with_null[2] = {NULL, NULL};
  REQUIRE(shmport_port_allocate(p.pa, 8192, 1000, &with_null[0]) == SHMPORT_OK);
  CHECK_INVALID(shmport_port_send_many(p.pa, 9, with_null, 2, 0));
  CHECK(stats_of(p.pa).chunks_in_use == 0);
  CHECK_INVALID(shmport_port_send_many(p.pa, 9, NULL, 2, 0));
  close_pair(&p);
}

static void BufferResizeStaysWithinCapacity(void) {
  pair p;
  REQUIRE(open_pair("resize", NULL, &p));
  shmport_buffer* b = NULL;
  REQUIRE(shmport_port_allocate(p.pa, 20000, 1000, &b) == SHMPORT_OK);
  size_t capacity = 0;
  CHECK_OK(shmport_buffer_capacity(b, &capacity));
  CHECK(capacity >= 20000);
  CHECK_STATUS(shmport_buffer_resize(b, capacity + 1), SHMPORT_OUT_OF_RANGE);
  CHECK_ERROR_MENTIONS("capacity");
  CHECK_OK(shmport_buffer_resize(b, 100));
  void* data = NULL;
  size_t size = 0;
  CHECK_OK(shmport_buffer_data(b, &data, &size));
  CHECK(size == 100);
  memcpy(data, "resized", 8);
  CHECK_OK(shmport_port_send(p.pa, 1, b, 0));
  shmport_message* m = NULL;
  REQUIRE(shmport_port_receive(p.pb, 10000, &m) == SHMPORT_OK);
  const void* got = NULL;
  CHECK_OK(shmport_message_data(m, &got, &size));
  CHECK(size == 100 && strcmp(got, "resized") == 0);
  CHECK_OK(shmport_message_release(m));
  /* An unsent buffer's chunks go back when it is freed. */
  CHECK(stats_of(p.pa).chunks_in_use == 0); /* the shrunk buffer's tail */
  REQUIRE(shmport_port_allocate(p.pa, 64 * 1024, 1000, &b) == SHMPORT_OK);
  CHECK(stats_of(p.pa).chunks_in_use == 4);
  CHECK_OK(shmport_buffer_free(b));
  CHECK(stats_of(p.pa).chunks_in_use == 0);
  close_pair(&p);
}

static void ReceiveTimesOutAndTryReceiveGivesNothing(void) {
  pair p;
  REQUIRE(open_pair("timeout", NULL, &p));
  shmport_message* m = (shmport_message*)1;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_STATUS(shmport_port_receive(p.pb, 50, &m), SHMPORT_DEADLINE_EXCEEDED);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const double waited =
      (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK(waited >= 0.045);
  CHECK(m == NULL);
  char text[128];
  CHECK_OK(shmport_port_last_error(p.pb, text, sizeof(text), NULL));
  CHECK(strstr(text, "DEADLINE_EXCEEDED") != NULL);
  CHECK_OK(shmport_port_try_receive(p.pb, &m));
  CHECK(m == NULL);
  CHECK_INVALID(shmport_port_receive(p.pb, -3, &m));
  CHECK_ERROR_MENTIONS("timeout_ms is -3");
  CHECK_INVALID(shmport_port_allocate(p.pa, 10, -3, NULL));
  close_pair(&p);
}

static void TheFdTurnsReadableForAnEventLoop(void) {
  pair p;
  REQUIRE(open_pair("fd", NULL, &p));
  int fd = -1;
  CHECK_OK(shmport_port_fd(p.pb, &fd));
  REQUIRE(fd >= 0);
  shmport_message* m = NULL;
  CHECK_OK(shmport_port_try_receive(p.pb, &m)); /* arms the fd */
  CHECK(m == NULL);
  CHECK_OK(shmport_port_send_copy(p.pa, 3, "ping", 4, 0));
  for (int i = 0; i < 100 && m == NULL; ++i) {
    struct pollfd pfd = {fd, POLLIN, 0};
    CHECK(poll(&pfd, 1, 10000) == 1);
    CHECK_OK(shmport_port_try_receive(p.pb, &m));
  }
  REQUIRE(m != NULL);
  const void* got = NULL;
  size_t size = 0;
  CHECK_OK(shmport_message_data(m, &got, &size));
  CHECK(size == 4 && memcmp(got, "ping", 4) == 0);
  CHECK_OK(shmport_message_release(m));
  close_pair(&p);
}

static void TrackedSendIsCancelledOnlyBeforeThePeerClaimsIt(void) {
  pair p;
  REQUIRE(open_pair("track", NULL, &p));
  shmport_buffer* b = NULL;
  shmport_tracking* t = NULL;
  REQUIRE(shmport_port_allocate(p.pa, 8192, 1000, &b) == SHMPORT_OK);
  REQUIRE(shmport_port_send_tracked(p.pa, 11, b, 0, &t) == SHMPORT_OK);
  uint32_t stream = 0;
  CHECK_OK(shmport_tracking_stream(t, &stream));
  CHECK(stream == 11);
  int cancelled = -1;
  CHECK_OK(shmport_tracking_cancel(t, &cancelled));
  CHECK(cancelled == 1);
  CHECK_OK(shmport_tracking_free(t));
  /* The cancelled one is dropped unseen; a plain one behind it arrives. */
  CHECK_OK(shmport_port_send_copy(p.pa, 12, "after", 5, 0));
  shmport_message* m = NULL;
  REQUIRE(shmport_port_receive(p.pb, 10000, &m) == SHMPORT_OK);
  uint32_t got_stream = 0;
  CHECK_OK(shmport_message_stream(m, &got_stream, NULL));
  CHECK(got_stream == 12);
  CHECK_OK(shmport_message_release(m));
  CHECK(stats_of(p.pb).cancelled_dropped == 1);

  REQUIRE(shmport_port_allocate(p.pa, 8192, 1000, &b) == SHMPORT_OK);
  REQUIRE(shmport_port_send_tracked(p.pa, 13, b, 0, &t) == SHMPORT_OK);
  REQUIRE(shmport_port_receive(p.pb, 10000, &m) == SHMPORT_OK);
  CHECK_OK(shmport_tracking_cancel(t, &cancelled));
  CHECK(cancelled == 0); /* the receiver had claimed it */
  CHECK_OK(shmport_message_release(m));
  CHECK_OK(shmport_tracking_free(t));
  /* NULL port or out: the buffer is still consumed. */
  REQUIRE(shmport_port_allocate(p.pa, 8192, 1000, &b) == SHMPORT_OK);
  CHECK_INVALID(shmport_port_send_tracked(p.pa, 1, b, 0, NULL));
  REQUIRE(shmport_port_allocate(p.pa, 8192, 1000, &b) == SHMPORT_OK);
  CHECK_INVALID(shmport_port_send(NULL, 1, b, 0));
  CHECK(stats_of(p.pa).chunks_in_use == 0);
  close_pair(&p);
}

static void AllocateWhenMemoryIsShortFailsOrTimesOut(void) {
  shmport_open_port_options o;
  shmport_open_port_options_init(&o);
  o.chunk_size = 4096;
  o.chunk_count = 4;
  o.max_segments = 1;
  pair p;
  REQUIRE(open_pair("short", &o, &p));
  shmport_buffer* all = NULL;
  REQUIRE(shmport_port_allocate(p.pa, 4 * 4096, 1000, &all) == SHMPORT_OK);
  shmport_buffer* more = NULL;
  CHECK_STATUS(shmport_port_try_allocate(p.pa, 4096, &more),
               SHMPORT_RESOURCE_EXHAUSTED);
  CHECK_STATUS(shmport_port_allocate(p.pa, 4096, 30, &more),
               SHMPORT_DEADLINE_EXCEEDED);
  CHECK(more == NULL);
  CHECK_STATUS(shmport_port_allocate(p.pa, 5 * 4096, 30, &more),
               SHMPORT_INVALID_ARGUMENT); /* larger than a segment */
  CHECK_OK(shmport_buffer_free(all));
  CHECK_OK(shmport_port_try_allocate(p.pa, 4096, &more));
  CHECK_OK(shmport_buffer_free(more));
  close_pair(&p);
}

static void AClosedPortFailsWithUnavailableAndSaysWhy(void) {
  pair p;
  REQUIRE(open_pair("closed", NULL, &p));
  shmport_status code = SHMPORT_UNKNOWN;
  const char* why = NULL;
  CHECK_OK(shmport_port_closed_reason(p.pa, &code, &why));
  CHECK(code == SHMPORT_OK && strcmp(why, "") == 0);
  CHECK_OK(shmport_port_send_copy(p.pa, 1, "before close", 12, 0));
  CHECK_OK(shmport_port_close(p.pa));
  CHECK_OK(shmport_port_close(p.pa)); /* idempotent */
  CHECK_STATUS(shmport_port_send_copy(p.pa, 1, "x", 1, 0), SHMPORT_UNAVAILABLE);
  shmport_buffer* b = NULL;
  CHECK_STATUS(shmport_port_allocate(p.pa, 100, 0, &b), SHMPORT_UNAVAILABLE);
  /* What had arrived is handed out before UNAVAILABLE. */
  shmport_message* m = NULL;
  REQUIRE(shmport_port_receive(p.pb, 10000, &m) == SHMPORT_OK);
  CHECK_OK(shmport_message_release(m));
  CHECK_STATUS(shmport_port_receive(p.pb, 10000, &m), SHMPORT_UNAVAILABLE);
  CHECK_OK(shmport_port_closed_reason(p.pb, &code, &why));
  CHECK(code == SHMPORT_UNAVAILABLE && strlen(why) > 0);
  CHECK(stats_of(p.pb).closed == 1);
  close_pair(&p);
}

static void MessagesAndBuffersOutliveTheirPort(void) {
  pair p;
  REQUIRE(open_pair("outlive", NULL, &p));
  const size_t n = 100 * 1024;
  shmport_buffer* b = NULL;
  REQUIRE(shmport_port_allocate(p.pa, n, 1000, &b) == SHMPORT_OK);
  void* data = NULL;
  CHECK_OK(shmport_buffer_data(b, &data, NULL));
  fill(data, n, 9);
  CHECK_OK(shmport_port_send(p.pa, 1, b, 0));
  shmport_message* m = NULL;
  REQUIRE(shmport_port_receive(p.pb, 10000, &m) == SHMPORT_OK);
  shmport_buffer* unsent = NULL;
  REQUIRE(shmport_port_allocate(p.pa, n, 1000, &unsent) == SHMPORT_OK);
  /* Both ports and both sessions go; the message and buffer stay valid. */
  close_pair(&p);
  const void* got = NULL;
  size_t size = 0;
  CHECK_OK(shmport_message_data(m, &got, &size));
  CHECK(size == n && matches(got, n, 9, 0));
  CHECK_OK(shmport_message_release(m));
  CHECK_OK(shmport_buffer_data(unsent, &data, NULL));
  memset(data, 1, n); /* still mapped */
  CHECK_OK(shmport_buffer_free(unsent));
}

/* A port over a socketpair, no daemon: both ends open on two threads. */
typedef struct open_job {
  int fd;
  shmport_port* port;
  shmport_status status;
} open_job;

static void* open_end(void* arg) {
  open_job* job = arg;
  shmport_peer peer = {getpid(), (int64_t)getuid()};
  job->status = shmport_port_open_socket(job->fd, &peer, NULL, &job->port);
  return NULL;
}

static void APortOverASocketpairNeedsNoDaemon(void) {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
  open_job a = {fds[0], NULL, SHMPORT_UNKNOWN};
  open_job b = {fds[1], NULL, SHMPORT_UNKNOWN};
  pthread_t thread;
  REQUIRE(pthread_create(&thread, NULL, open_end, &a) == 0);
  open_end(&b);
  pthread_join(thread, NULL);
  CHECK(a.status == SHMPORT_OK && b.status == SHMPORT_OK);
  REQUIRE(a.port != NULL && b.port != NULL);
  CHECK_OK(shmport_port_send_copy(a.port, 2, "direct", 6, 1));
  shmport_message* m = NULL;
  REQUIRE(shmport_port_receive(b.port, 10000, &m) == SHMPORT_OK);
  size_t size = 0;
  CHECK_OK(shmport_message_size(m, &size));
  CHECK(size == 6);
  CHECK_OK(shmport_message_release(m));
  CHECK_OK(shmport_port_free(a.port));
  CHECK_OK(shmport_port_free(b.port));

  shmport_port* port = NULL;
  shmport_peer anyone = {0, -1};
  CHECK_INVALID(shmport_port_open_socket(-1, &anyone, NULL, &port));
  shmport_port_options o;
  shmport_port_options_init(&o);
  o.send_timeout_ms = -9;
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
  close(fds[1]);
  CHECK_INVALID(shmport_port_open_socket(fds[0], &anyone, &o, &port));
  CHECK_ERROR_MENTIONS("send_timeout_ms");
  CHECK(fcntl(fds[0], F_GETFD) == -1); /* taken and closed anyway */
}

/* ---- on_port_closed --------------------------------------------------- */

typedef struct closed_notice {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t port_id;
} closed_notice;

static void on_closed(void* context, uint64_t port_id, const char* reason) {
  closed_notice* n = context;
  (void)reason;
  pthread_mutex_lock(&n->mu);
  n->port_id = port_id;
  pthread_cond_signal(&n->cv);
  pthread_mutex_unlock(&n->mu);
}

static void ThePortClosedCallbackHearsTheDaemon(void) {
  closed_notice notice = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                          0};
  shmport_session_options o;
  shmport_session_options_init(&o);
  o.name = "cb-a";
  o.address = address;
  o.on_port_closed = on_closed;
  o.on_port_closed_context = &notice;
  shmport_session *a = NULL, *b = NULL;
  REQUIRE(shmport_session_connect(&o, &a) == SHMPORT_OK);
  REQUIRE(connect_as("cb-b", &b) == SHMPORT_OK);
  shmport_port* port = NULL;
  REQUIRE(shmport_session_open_port(a, "cb-b", NULL, &port) == SHMPORT_OK);
  shmport_port_info info;
  info.struct_size = sizeof(info);
  CHECK_OK(shmport_port_info_get(port, &info));
  CHECK_OK(shmport_session_unregister(b)); /* the daemon closes b's ports */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&notice.mu);
  while (notice.port_id == 0 &&
         pthread_cond_timedwait(&notice.cv, &notice.mu, &until) == 0) {
  }
  const uint64_t heard = notice.port_id;
  pthread_mutex_unlock(&notice.mu);
  CHECK(heard == info.port_id);
  CHECK_OK(shmport_port_free(port));
  CHECK_OK(shmport_session_free(a)); /* no callback after this returns */
  CHECK_OK(shmport_session_free(b));
}

/* ---- Runner ----------------------------------------------------------- */

int main(void) {
  address = shmport_test_daemon_start();
  if (address == NULL) return 100;
  const test_case tests[] = {
      TEST_CASE(VersionAndStatusNamesMatchTheHeader),
      TEST_CASE(NullHandlesAreInvalidArgumentsNamedInTheMessage),
      TEST_CASE(OptionStructsGrowOnlyWithZeros),
      TEST_CASE(ConnectErrorsCarryTheDaemonsCodes),
      TEST_CASE(ZeroCopySendArrivesInPlaceWithStreamAndLastFlag),
      TEST_CASE(SendCopyOfMoreThanASegmentArrivesInFragments),
      TEST_CASE(SendManyGivesOneFragmentPerBufferInOrder),
      TEST_CASE(BufferResizeStaysWithinCapacity),
      TEST_CASE(ReceiveTimesOutAndTryReceiveGivesNothing),
      TEST_CASE(TheFdTurnsReadableForAnEventLoop),
      TEST_CASE(TrackedSendIsCancelledOnlyBeforeThePeerClaimsIt),
      TEST_CASE(AllocateWhenMemoryIsShortFailsOrTimesOut),
      TEST_CASE(AClosedPortFailsWithUnavailableAndSaysWhy),
      TEST_CASE(MessagesAndBuffersOutliveTheirPort),
      TEST_CASE(APortOverASocketpairNeedsNoDaemon),
      TEST_CASE(ThePortClosedCallbackHearsTheDaemon),
  };
  const int failed = shmport_test_run(tests, sizeof(tests) / sizeof(tests[0]));
  shmport_test_daemon_stop();
  return failed;
}
