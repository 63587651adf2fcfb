/* c_api_topic_test: the topics of <shmport/shmport.h> driven from C against
 * a real shmportd. A publisher session and subscriber sessions of this
 * process meet through the daemon; each test is one behaviour, including
 * the error paths and the lifetime rules. A failed CHECK prints the line
 * and the library's last error; the exit code is the number of failed
 * tests. */
#define _GNU_SOURCE
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmport/shmport.h"
#include "tests/c_api/c_check.h"
#include "tests/c_api/daemon_fixture.h"

static const char* address; /* the daemon's, for every session */

static shmport_session* connect_as(const char* name) {
  shmport_session_options o;
  shmport_session_options_init(&o);
  o.name = name;
  o.address = address;
  shmport_session* s = NULL;
  CHECK_OK(shmport_session_connect(&o, &s));
  return s;
}

static shmport_publisher_stats publisher_stats(const shmport_publisher* p) {
  shmport_publisher_stats s;
  memset(&s, 0, sizeof(s));
  s.struct_size = sizeof(s);
  CHECK_OK(shmport_publisher_stats_get(p, &s));
  return s;
}

static shmport_subscriber_stats subscriber_stats(const shmport_subscriber* p) {
  shmport_subscriber_stats s;
  memset(&s, 0, sizeof(s));
  s.struct_size = sizeof(s);
  CHECK_OK(shmport_subscriber_stats_get(p, &s));
  return s;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A bounded condition wait on the publisher's stats (subscriptions are
 * made and releases arrive asynchronously): polls every millisecond for up
 * to 20 s until `field` of them equals `want`; 1 when it did. */
static int wait_for_stat(const shmport_publisher* p,
                         size_t field, /* offsetof a uint64_t field */
                         uint64_t want) {
  const double until = now_s() + 20;
  for (;;) {
    const shmport_publisher_stats s = publisher_stats(p);
    uint64_t value;
    memcpy(&value, (const char*)&s + field, sizeof(value));
    if (value == want) return 1;
    if (now_s() > until) return 0;
    const struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

static int wait_for_subscriptions(const shmport_publisher* p, uint64_t n) {
  return wait_for_stat(p, offsetof(shmport_publisher_stats, subscriptions), n);
}

static int wait_for_no_chunks_in_use(const shmport_publisher* p) {
  return wait_for_stat(p, offsetof(shmport_publisher_stats, chunks_in_use), 0);
}

/* A publisher and a subscriber of topic "<prefix>.t", each with its own
 * session, the subscription made. */
typedef struct topic_ends {
  shmport_session* ps; /* the publisher's */
  shmport_session* ss; /* the subscriber's */
  shmport_publisher* p;
  shmport_subscriber* sub;
} topic_ends;

static int open_topic(const char* prefix, const shmport_subscriber_options* so,
                      topic_ends* t) {
  char name[64];
  char topic[64];
  memset(t, 0, sizeof(*t));
  snprintf(name, sizeof(name), "%s-pub", prefix);
  t->ps = connect_as(name);
  snprintf(name, sizeof(name), "%s-sub", prefix);
  t->ss = connect_as(name);
  snprintf(topic, sizeof(topic), "%s.t", prefix);
  return t->ps != NULL && t->ss != NULL &&
         shmport_session_subscribe(t->ss, topic, so, &t->sub) == SHMPORT_OK &&
         shmport_session_publish(t->ps, topic, NULL, &t->p) == SHMPORT_OK &&
         wait_for_subscriptions(t->p, 1);
}

static void close_topic(topic_ends* t) {
  CHECK_OK(shmport_subscriber_free(t->sub));
  CHECK_OK(shmport_publisher_free(t->p));
  CHECK_OK(shmport_session_free(t->ps));
  CHECK_OK(shmport_session_free(t->ss));
}

static void fill(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = (unsigned char)(i * 31 + seed);
}

static int matches(const unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != (unsigned char)(i * 31 + seed)) return 0;
  }
  return 1;
}

/* Allocates `size` bytes, fills them with `seed`'s pattern, publishes;
 * the sequence number, or 0 on failure. */
static uint64_t publish_pattern(shmport_publisher* p, size_t size,
                                unsigned seed) {
  shmport_sample_buffer* b = NULL;
  if (shmport_publisher_allocate(p, size, 10000, &b) != SHMPORT_OK) return 0;
  void* data = NULL;
  size_t got = 0;
  CHECK_OK(shmport_sample_buffer_data(b, &data, &got));
  CHECK(got == size);
  fill(data, size, seed);
  uint64_t sequence = 0;
  if (shmport_publisher_publish(p, b, &sequence) != SHMPORT_OK) return 0;
  return sequence;
}

/* 1 when `s` holds `size` bytes of `seed`'s pattern with `sequence`. */
static int sample_is(const shmport_sample* s, size_t size, unsigned seed,
                     uint64_t sequence) {
  const void* data = NULL;
  size_t got = 0;
  uint64_t seq = 0;
  CHECK_OK(shmport_sample_data(s, &data, &got));
  CHECK_OK(shmport_sample_sequence(s, &seq));
  return got == size && seq == sequence && matches(data, size, seed);
}

/* ---- Tests ------------------------------------------------------------ */

static void OptionsInitFillsTheCppDefaults(void) {
  shmport_publisher_options po;
  CHECK_OK(shmport_publisher_options_init(&po));
  CHECK(po.struct_size == sizeof(po));
  CHECK(po.chunk_size == 64 * 1024 && po.chunk_count == 256);
  CHECK(po.max_segments == 4 && po.inline_threshold == 1024);
  CHECK(po.history == 0 && po.max_held_bytes == 0);
  CHECK(po.max_block_ms == SHMPORT_INFINITE);
  shmport_subscriber_options so;
  CHECK_OK(shmport_subscriber_options_init(&so));
  CHECK(so.struct_size == sizeof(so));
  CHECK(so.slow_subscriber == SHMPORT_BLOCK_PUBLISHER);
  CHECK(so.queue_depth == 16 && so.history == 0);
  CHECK(so.max_segments == 16 && so.max_mapped_bytes == (1ull << 30));
  CHECK_INVALID(shmport_publisher_options_init(NULL));
  CHECK_INVALID(shmport_subscriber_options_init(NULL));
}

static void BadArgumentsAreInvalidAndNamed(void) {
  shmport_session* s = connect_as("tbad");
  REQUIRE(s != NULL);
  shmport_publisher* p = (shmport_publisher*)&p; /* must be reset */
  CHECK_INVALID(shmport_session_publish(NULL, "t", NULL, &p));
  CHECK(p == NULL);
  CHECK_ERROR_MENTIONS("shmport_session_publish: session is NULL");
  CHECK_INVALID(shmport_session_publish(s, NULL, NULL, &p));
  CHECK_ERROR_MENTIONS("topic is NULL");
  CHECK_INVALID(shmport_session_publish(s, "t", NULL, NULL));
  CHECK_INVALID(shmport_session_publish(s, "bad topic!", NULL, &p));
  CHECK(p == NULL);
  shmport_subscriber_options so;
  shmport_subscriber_options_init(&so);
  shmport_subscriber* sub = NULL;
  so.slow_subscriber = 7;
  CHECK_INVALID(shmport_session_subscribe(s, "tbad.t", &so, &sub));
  CHECK_ERROR_MENTIONS("slow_subscriber 7");
  CHECK(sub == NULL);
  shmport_subscriber_options_init(&so);
  so.queue_depth = 0;
  CHECK_INVALID(shmport_session_subscribe(s, "tbad.t", &so, &sub));
  CHECK_ERROR_MENTIONS("queue_depth is 0");
  shmport_subscriber_options_init(&so);
  so.struct_size = 1 << 20; /* an uninitialised struct */
  CHECK_INVALID(shmport_session_subscribe(s, "tbad.t", &so, &sub));
  CHECK_ERROR_MENTIONS("struct_size");
  shmport_publisher_options po;
  shmport_publisher_options_init(&po);
  po.max_block_ms = -5;
  CHECK_INVALID(shmport_session_publish(s, "tbad.t", &po, &p));
  CHECK_ERROR_MENTIONS("max_block_ms is -5");
  shmport_publisher_options_init(&po);
  po.chunk_size = 1000; /* not a power of two */
  CHECK_INVALID(shmport_session_publish(s, "tbad.t", &po, &p));
  char text[256];
  size_t length = 0;
  CHECK_OK(shmport_session_last_error(s, text, sizeof(text), &length));
  CHECK(strstr(text, "chunk_size") != NULL);
  CHECK_OK(shmport_session_free(s));
}

static void PublisherCallsRejectBadArguments(void) {
  shmport_session* s = connect_as("tpargs");
  REQUIRE(s != NULL);
  shmport_publisher_options po;
  shmport_publisher_options_init(&po);
  po.chunk_size = 4096;
  po.chunk_count = 16;
  shmport_publisher* p = NULL;
  REQUIRE(shmport_session_publish(s, "tpargs.t", &po, &p) == SHMPORT_OK);
  shmport_publisher* again = NULL;
  CHECK_STATUS(shmport_session_publish(s, "tpargs.t", NULL, &again),
               SHMPORT_ALREADY_EXISTS);
  CHECK(again == NULL);
  shmport_sample_buffer* b = NULL;
  CHECK_INVALID(shmport_publisher_allocate(p, 16, -7, &b));
  CHECK_ERROR_MENTIONS("timeout_ms is -7");
  CHECK_INVALID(shmport_publisher_allocate(p, 1 << 20, 0, &b));
  CHECK(b == NULL);
  char text[256];
  CHECK_OK(shmport_publisher_last_error(p, text, sizeof(text), NULL));
  CHECK(strstr(text, "exceeds a segment") != NULL);
  CHECK_INVALID(shmport_publisher_allocate(NULL, 16, 0, &b));
  CHECK_INVALID(shmport_publisher_try_allocate(p, 16, NULL));
  CHECK_INVALID(shmport_publisher_publish(p, NULL, NULL));
  REQUIRE(shmport_publisher_allocate(p, 8192, 0, &b) == SHMPORT_OK);
  CHECK_INVALID(shmport_publisher_publish(NULL, b, NULL)); /* consumed */
  CHECK(publisher_stats(p).chunks_in_use == 0);
  REQUIRE(shmport_publisher_allocate(p, 8192, 0, &b) == SHMPORT_OK);
  size_t capacity = 0;
  CHECK_OK(shmport_sample_buffer_capacity(b, &capacity));
  CHECK(capacity == 8192);
  CHECK_STATUS(shmport_sample_buffer_resize(b, capacity + 1),
               SHMPORT_OUT_OF_RANGE);
  CHECK_OK(shmport_sample_buffer_resize(b, 10));
  CHECK_OK(shmport_sample_buffer_free(b));
  CHECK_OK(shmport_sample_buffer_free(NULL));
  CHECK(publisher_stats(p).chunks_in_use == 0);
  shmport_subscription_stats bad = {0};
  size_t count = 0;
  CHECK_INVALID(shmport_publisher_subscriptions_get(p, &bad, 1, &count));
  CHECK_ERROR_MENTIONS("struct_size");
  CHECK_OK(shmport_publisher_subscriptions_get(p, NULL, 0, &count));
  CHECK(count == 0);
  shmport_publisher* q = NULL; /* a buffer of q is not p's to publish */
  REQUIRE(shmport_session_publish(s, "tpargs.u", &po, &q) == SHMPORT_OK);
  REQUIRE(shmport_publisher_allocate(q, 8192, 0, &b) == SHMPORT_OK);
  CHECK(publisher_stats(q).chunks_in_use == 2);
  CHECK_INVALID(shmport_publisher_publish(p, b, NULL));
  CHECK_ERROR_MENTIONS("not one of this publisher's");
  CHECK(publisher_stats(q).chunks_in_use == 0); /* consumed: back to q */
  CHECK(publisher_stats(p).samples_published == 0);
  CHECK_OK(shmport_publisher_free(q));
  const char* topic = NULL;
  CHECK_OK(shmport_publisher_topic(p, &topic));
  CHECK(topic != NULL && strcmp(topic, "tpargs.t") == 0);
  CHECK_OK(shmport_publisher_free(p));
  CHECK_OK(shmport_publisher_free(NULL));
  CHECK_OK(shmport_session_free(s));
}

static void SubscriberCallsRejectBadArguments(void) {
  shmport_session* s = connect_as("tsargs");
  REQUIRE(s != NULL);
  shmport_subscriber* sub = NULL;
  REQUIRE(shmport_session_subscribe(s, "tsargs.t", NULL, &sub) == SHMPORT_OK);
  shmport_sample* m = (shmport_sample*)&m;
  CHECK_INVALID(shmport_subscriber_receive(sub, -3, &m));
  CHECK(m == NULL);
  CHECK_ERROR_MENTIONS("timeout_ms is -3");
  CHECK_INVALID(shmport_subscriber_receive(NULL, 0, &m));
  CHECK_STATUS(shmport_subscriber_receive(sub, 20, &m),
               SHMPORT_DEADLINE_EXCEEDED);
  CHECK(m == NULL);
  CHECK_OK(shmport_subscriber_try_receive(sub, &m)); /* nothing ready */
  CHECK(m == NULL);
  CHECK_INVALID(shmport_sample_data(NULL, NULL, NULL));
  CHECK_INVALID(shmport_sample_sequence(NULL, NULL));
  CHECK_OK(shmport_sample_release(NULL));
  int fd = -1;
  CHECK_OK(shmport_subscriber_fd(sub, &fd));
  CHECK(fd >= 0);
  CHECK_INVALID(shmport_subscriber_fd(sub, NULL));
  CHECK_INVALID(shmport_subscriber_stats_get(sub, NULL));
  shmport_subscriber_stats tiny;
  tiny.struct_size = 1;
  CHECK_INVALID(shmport_subscriber_stats_get(sub, &tiny));
  CHECK_OK(shmport_subscriber_free(sub));
  CHECK_OK(shmport_subscriber_free(NULL));
  CHECK_OK(shmport_session_free(s));
}

/* Subscriber 1 blocks in receive; subscriber 2 is an event loop (poll on
 * its fd, then try_receive until nothing). Inline and shared samples. */
static void TwoSubscribersReadEverySampleInOrderAndInPlace(void) {
  shmport_session* ps = connect_as("tfan-pub");
  shmport_session* s1 = connect_as("tfan-sub1");
  shmport_session* s2 = connect_as("tfan-sub2");
  REQUIRE(ps != NULL && s1 != NULL && s2 != NULL);
  shmport_subscriber* sub[2] = {NULL, NULL};
  REQUIRE(shmport_session_subscribe(s1, "tfan.t", NULL, &sub[0]) == SHMPORT_OK);
  REQUIRE(shmport_session_subscribe(s2, "tfan.t", NULL, &sub[1]) == SHMPORT_OK);
  shmport_publisher* p = NULL;
  REQUIRE(shmport_session_publish(ps, "tfan.t", NULL, &p) == SHMPORT_OK);
  REQUIRE(wait_for_subscriptions(p, 2));
  int fd = -1;
  CHECK_OK(shmport_subscriber_fd(sub[1], &fd));
  const int n = 64;
  size_t bytes = 0;
  for (int k = 0; k < n; ++k) {
    const size_t size = k % 2 ? 200000 + (size_t)k : 100 + (size_t)k;
    const uint64_t seq = publish_pattern(p, size, (unsigned)k);
    REQUIRE(seq != 0);
    bytes += size;
    shmport_sample* a = NULL;
    REQUIRE(shmport_subscriber_receive(sub[0], 10000, &a) == SHMPORT_OK);
    CHECK(sample_is(a, size, (unsigned)k, seq));
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    shmport_sample* b = NULL;
    while (b == NULL && poll(&pfd, 1, 10000) == 1) {
      CHECK_OK(shmport_subscriber_try_receive(sub[1], &b));
    }
    REQUIRE(b != NULL);
    CHECK(sample_is(b, size, (unsigned)k, seq));
    const void* da = NULL;
    const void* db = NULL;
    shmport_sample_data(a, &da, NULL);
    shmport_sample_data(b, &db, NULL);
    /* A shared sample is the same pages for both: a chunk stays in use. */
    if (size > 1024) CHECK(publisher_stats(p).chunks_in_use > 0);
    CHECK(da != db); /* two mappings (or two inline copies) */
    CHECK_OK(shmport_sample_release(a));
    CHECK_OK(shmport_sample_release(b));
  }
  const shmport_publisher_stats ps_stats = publisher_stats(p);
  CHECK(ps_stats.samples_published == (uint64_t)n);
  CHECK(ps_stats.subscriptions == 2 && ps_stats.segments >= 1);
  for (int i = 0; i < 2; ++i) {
    const shmport_subscriber_stats st = subscriber_stats(sub[i]);
    CHECK(st.samples_received == (uint64_t)n && st.bytes_received == bytes);
    CHECK(st.samples_missed == 0 && st.segments_mapped >= 1);
  }
  CHECK(wait_for_no_chunks_in_use(p)); /* every sample came back */
  shmport_subscription_stats subs[4];
  subs[0].struct_size = sizeof(subs[0]);
  size_t count = 0;
  CHECK_OK(shmport_publisher_subscriptions_get(p, subs, 4, &count));
  CHECK(count == 2);
  for (size_t i = 0; i < count && i < 4; ++i) {
    CHECK(subs[i].struct_size == sizeof(subs[0]));
    CHECK(subs[i].samples_delivered == (uint64_t)n);
    CHECK(subs[i].samples_released == (uint64_t)n && subs[i].lag == 0);
  }
  CHECK_OK(shmport_subscriber_free(sub[0]));
  CHECK_OK(shmport_subscriber_free(sub[1]));
  CHECK_OK(shmport_publisher_free(p));
  CHECK_OK(shmport_session_free(ps));
  CHECK_OK(shmport_session_free(s1));
  CHECK_OK(shmport_session_free(s2));
}

/* A SHMPORT_DROP_OLDEST subscriber that reads nothing while 40 samples
 * are published gets the last ones and is told how many it missed. */
static void DropOldestCountsWhatTheSubscriberMissed(void) {
  shmport_subscriber_options so;
  shmport_subscriber_options_init(&so);
  so.slow_subscriber = SHMPORT_DROP_OLDEST;
  so.queue_depth = 2;
  topic_ends t;
  REQUIRE(open_topic("tdrop", &so, &t));
  shmport_publisher* p = t.p;
  shmport_subscriber* sub = t.sub;
  const uint64_t n = 40;
  uint64_t last = 0;
  for (uint64_t k = 0; k < n; ++k) {
    last = publish_pattern(p, 4096, (unsigned)k);
    REQUIRE(last != 0); /* never blocks: the subscriber drops instead */
  }
  uint64_t received = 0;
  uint64_t seq = 0;
  uint64_t previous = 0;
  while (seq != last) {
    shmport_sample* m = NULL;
    REQUIRE(shmport_subscriber_receive(sub, 10000, &m) == SHMPORT_OK);
    CHECK_OK(shmport_sample_sequence(m, &seq));
    CHECK(seq > previous); /* in order, with gaps */
    previous = seq;
    ++received;
    CHECK_OK(shmport_sample_release(m));
  }
  const shmport_subscriber_stats st = subscriber_stats(sub);
  CHECK(received < n);
  CHECK(st.samples_received == received);
  CHECK(st.samples_missed == n - received);
  shmport_subscription_stats one;
  one.struct_size = sizeof(one);
  size_t count = 0;
  CHECK_OK(shmport_publisher_subscriptions_get(p, &one, 1, &count));
  CHECK(count == 1 && one.samples_dropped == n - received);
  CHECK(wait_for_no_chunks_in_use(p));
  close_topic(&t);
}

/* The lifetime rule: a sample outlives its subscriber and session, a
 * sample buffer its publisher, a publisher its session. */
static void SamplesAndBuffersOutliveTheirEnds(void) {
  topic_ends t;
  REQUIRE(open_topic("tlife", NULL, &t));
  shmport_publisher* p = t.p;
  CHECK_OK(shmport_session_free(t.ps)); /* the publisher keeps it alive */
  const uint64_t seq = publish_pattern(p, 300000, 5);
  REQUIRE(seq != 0);
  shmport_sample* m = NULL;
  REQUIRE(shmport_subscriber_receive(t.sub, 10000, &m) == SHMPORT_OK);
  CHECK(publisher_stats(p).chunks_in_use > 0);
  CHECK_OK(shmport_subscriber_free(t.sub));
  CHECK_OK(shmport_session_free(t.ss));
  CHECK(sample_is(m, 300000, 5, seq)); /* still mapped */
  CHECK(wait_for_no_chunks_in_use(p)); /* the subscription's holds went */
  CHECK_OK(shmport_sample_release(m));
  shmport_sample_buffer* b = NULL;
  REQUIRE(shmport_publisher_allocate(p, 300000, 0, &b) == SHMPORT_OK);
  CHECK(publisher_stats(p).chunks_in_use > 0);
  CHECK_OK(shmport_publisher_free(p));
  void* data = NULL;
  CHECK_OK(shmport_sample_buffer_data(b, &data, NULL));
  fill(data, 300000, 9); /* still mapped and writable */
  CHECK(matches(data, 300000, 9));
  CHECK_OK(shmport_sample_buffer_free(b));
}

/* ---- Runner ----------------------------------------------------------- */

int main(void) {
  address = shmport_test_daemon_start();
  if (address == NULL) return 100;
  const test_case tests[] = {
      TEST_CASE(OptionsInitFillsTheCppDefaults),
      TEST_CASE(BadArgumentsAreInvalidAndNamed),
      TEST_CASE(PublisherCallsRejectBadArguments),
      TEST_CASE(SubscriberCallsRejectBadArguments),
      TEST_CASE(TwoSubscribersReadEverySampleInOrderAndInPlace),
      TEST_CASE(DropOldestCountsWhatTheSubscriberMissed),
      TEST_CASE(SamplesAndBuffersOutliveTheirEnds),
  };
  const int failed = shmport_test_run(tests, sizeof(tests) / sizeof(tests[0]));
  shmport_test_daemon_stop();
  return failed;
}
