/* shmport.h: libshmport's C ABI (C11; usable from C++ and from any language
 * with a C foreign-function interface). docs/c-api.md is the guide; this
 * header is the reference.
 *
 *   shmport_session_options o;
 *   shmport_session_options_init(&o);
 *   o.name = "worker-1";
 *   shmport_session* s;
 *   if (shmport_session_connect(&o, &s) != SHMPORT_OK)
 *     fprintf(stderr, "%s\n", shmport_last_error());
 *
 * Conventions, true of every function unless its comment says otherwise:
 * - It returns a shmport_status. On failure the message is in
 *   shmport_last_error() (this thread) and, when the port or session itself
 *   failed the call (a send, a receive, an open...), also in
 *   shmport_port_last_error() / shmport_session_last_error().
 * - Thread-safety is stated per section below: sessions and ports may be
 *   used from several threads at once; a buffer, message or tracking
 *   belongs to one thread at a time (it may be handed to another); the
 *   *_init functions and the version and error functions are safe from any
 *   thread.
 * - A NULL or invalid argument gives SHMPORT_INVALID_ARGUMENT with a message
 *   naming it; nothing is dereferenced first. On failure a handle
 *   out-parameter (shmport_x** out) is set to NULL (if `out` is not NULL)
 *   and other out-parameters are left as they were.
 * - Handles (shmport_session, shmport_port, shmport_buffer, shmport_message,
 *   shmport_tracking, and the topics' shmport_publisher,
 *   shmport_subscriber, shmport_sample_buffer, shmport_sample) are owned
 *   by the caller from the call that returns them until the call that
 *   frees or consumes them. *_free(NULL), shmport_message_release(NULL)
 *   and shmport_sample_release(NULL) do nothing and return SHMPORT_OK.
 *   Using a handle after it was freed or consumed, or freeing it twice, is
 *   undefined behaviour (as with free()); closing a port twice is fine.
 * - Durations are int64_t milliseconds (names end in _ms) or nanoseconds
 *   (_ns). SHMPORT_INFINITE waits forever; 0 does not wait; any other
 *   negative value is SHMPORT_INVALID_ARGUMENT (except
 *   SHMPORT_DEFAULT_TIMEOUT where a function says it takes it).
 * - Strings passed in are NUL-terminated UTF-8 and copied; the library
 *   keeps no pointer to them after the call returns.
 */
#ifndef SHMPORT_SHMPORT_H_
#define SHMPORT_SHMPORT_H_

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define SHMPORT_EXPORT __attribute__((visibility("default")))
#else
#define SHMPORT_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ---------------------------------------------------------- */

#define SHMPORT_VERSION_MAJOR 0
#define SHMPORT_VERSION_MINOR 1
#define SHMPORT_VERSION_PATCH 0
#define SHMPORT_VERSION_STRING "0.1.0"
/* One integer for comparisons: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define SHMPORT_VERSION                                          \
  (SHMPORT_VERSION_MAJOR * 10000 + SHMPORT_VERSION_MINOR * 100 + \
   SHMPORT_VERSION_PATCH)

/* The version of the library actually linked ("0.1.0"), which may be newer
 * than SHMPORT_VERSION_STRING of the header compiled against. A static
 * string; never NULL. Any thread. */
SHMPORT_EXPORT const char* shmport_version(void);

/* ---- Status codes and errors ------------------------------------------ */

/* The gRPC / absl::StatusCode numbers, one to one. */
typedef enum shmport_status {
  SHMPORT_OK = 0,
  SHMPORT_CANCELLED = 1,
  SHMPORT_UNKNOWN = 2,
  SHMPORT_INVALID_ARGUMENT = 3,
  SHMPORT_DEADLINE_EXCEEDED = 4,
  SHMPORT_NOT_FOUND = 5,
  SHMPORT_ALREADY_EXISTS = 6,
  SHMPORT_PERMISSION_DENIED = 7,
  SHMPORT_RESOURCE_EXHAUSTED = 8,
  SHMPORT_FAILED_PRECONDITION = 9,
  SHMPORT_ABORTED = 10,
  SHMPORT_OUT_OF_RANGE = 11,
  SHMPORT_UNIMPLEMENTED = 12,
  SHMPORT_INTERNAL = 13,
  SHMPORT_UNAVAILABLE = 14,
  SHMPORT_DATA_LOSS = 15,
  SHMPORT_UNAUTHENTICATED = 16
} shmport_status;

/* The message of the last call on this thread that did not return
 * SHMPORT_OK ("UNAVAILABLE: the peer closed the connection"); "" if none
 * has failed. Successful calls leave it unchanged (like errno). The string
 * belongs to the library and stays valid until the next shmport call on
 * this thread; copy it to keep it. Never NULL. Any thread (each has its
 * own). */
SHMPORT_EXPORT const char* shmport_last_error(void);

/* "OK", "UNAVAILABLE", ...; "UNKNOWN_STATUS" for a number outside the
 * enum. A static string. Any thread. */
SHMPORT_EXPORT const char* shmport_status_name(shmport_status status);

/* Durations: wait forever. */
#define SHMPORT_INFINITE ((int64_t)-1)

/* ---- Handles ---------------------------------------------------------- */

/* A registration with shmportd (a C++ shmport::Session). */
typedef struct shmport_session shmport_session;
/* One end of a port (shmport::Port). */
typedef struct shmport_port shmport_port;
/* Memory to fill and send (shmport::Buffer). */
typedef struct shmport_buffer shmport_buffer;
/* A received message (shmport::Message). */
typedef struct shmport_message shmport_message;
/* A tracked, cancellable send (shmport::Tracking). */
typedef struct shmport_tracking shmport_tracking;
/* The publishing end of a topic (shmport::Publisher). */
typedef struct shmport_publisher shmport_publisher;
/* The subscribing end of a topic (shmport::Subscriber). */
typedef struct shmport_subscriber shmport_subscriber;
/* A sample being written (shmport::SampleBuffer). */
typedef struct shmport_sample_buffer shmport_sample_buffer;
/* A received sample (shmport::Sample). */
typedef struct shmport_sample shmport_sample;

/* ---- Options ---------------------------------------------------------- *
 * Each options struct opens with struct_size, which its *_init function
 * sets to sizeof the struct of the header you compiled against. Fields
 * added in later versions go at the end: an older program passes a smaller
 * struct_size and gets the defaults for the fields it does not know; a
 * newer program on an older library works as long as the fields the
 * library does not know are zero (else SHMPORT_INVALID_ARGUMENT). Always
 * call *_init first, then set what you need. */

/* shmport::PortOptions: how this end of a port behaves. */
typedef struct shmport_port_options {
  size_t struct_size;
  /* Geometry of the segments this end creates (a Session replaces it by
   * what the daemon grants): chunk_size a power of two in [4 KiB, 4 MiB],
   * chunk_count in [1, 4096]. Default 16 KiB x 1024. */
  uint32_t chunk_size;
  uint32_t chunk_count;
  uint32_t max_segments;       /* default 8 */
  uint32_t inline_threshold;   /* payloads below travel inline; default 1024 */
  uint32_t max_peer_segments;  /* refuse a peer declaring more; default 64 */
  uint64_t max_peer_bytes;     /* ... or more bytes; default 4 GiB */
  int64_t hello_timeout_ms;    /* HELLO exchange; default 5000 */
  int64_t send_timeout_ms;     /* socket full; default 30000 */
  int64_t allocate_timeout_ms; /* SHMPORT_DEFAULT_TIMEOUT of allocate;
                                * default 10000 */
  int64_t idle_segment_timeout_ms; /* unmap idle extra segments; 5000 */
  uint32_t ring_capacity;          /* bytes, 0: no ring; default 256 KiB */
  int64_t receive_spin_ns;         /* busy-poll before sleeping; 0 */
  int64_t adaptive_spin_ns;        /* see port.h; default 50000 */
} shmport_port_options;

/* Fills *options with the defaults. Returns SHMPORT_INVALID_ARGUMENT for
 * NULL. Any thread. */
SHMPORT_EXPORT shmport_status
shmport_port_options_init(shmport_port_options* options);

/* One label of a session (ListProcesses shows them). */
typedef struct shmport_label {
  const char* key;   /* 1..63 characters */
  const char* value; /* 0..255 characters */
} shmport_label;

/* Called on the session's link thread when the daemon closes a port that
 * was already handed out. `reason` is valid during the call only. Must not
 * block and must not free the session. */
typedef void (*shmport_port_closed_fn)(void* context, uint64_t port_id,
                                       const char* reason);

/* shmport::SessionOptions. */
typedef struct shmport_session_options {
  size_t struct_size;
  /* Required: 1..64 characters from [A-Za-z0-9._-], starting with a letter
   * or digit; unique among the daemon's live processes. */
  const char* name;
  /* NULL or "": $SHMPORT_ADDRESS, else the default socket (like shmportctl). */
  const char* address;
  const shmport_label* labels; /* label_count of them (at most 32) */
  size_t label_count;
  int64_t rpc_timeout_ms;    /* each control-plane call; default 5000 */
  int64_t attach_timeout_ms; /* broker link after Register; default 5000 */
  int64_t stats_interval_ms; /* counters to the daemon; default 1000;
                              * 0 or SHMPORT_INFINITE: never */
  /* Options for every port of this session; NULL: the defaults. Copied. */
  const shmport_port_options* port_options;
  shmport_port_closed_fn on_port_closed; /* NULL: none */
  void* on_port_closed_context;
} shmport_session_options;

SHMPORT_EXPORT shmport_status
shmport_session_options_init(shmport_session_options* options);

/* shmport::OpenPortOptions: what to ask the daemon for (0: its default). */
typedef struct shmport_open_port_options {
  size_t struct_size;
  uint32_t chunk_size;
  uint32_t chunk_count;
  uint32_t max_segments;
  uint32_t inline_threshold;
  /* Keep retrying while the peer is not registered or not attached yet.
   * 0: one attempt. */
  int64_t wait_for_peer_ms;
} shmport_open_port_options;

SHMPORT_EXPORT shmport_status
shmport_open_port_options_init(shmport_open_port_options* options);

/* ---- Session ---------------------------------------------------------- *
 * Thread-safety: every session function may be called from any thread,
 * concurrently, except shmport_session_free, which must not race with any
 * other call on the same session. */

/* Registers with shmportd and attaches the broker link. On SHMPORT_OK,
 * *out is a new session the caller owns (shmport_session_free). Errors:
 * UNAVAILABLE (no daemon at the address), INVALID_ARGUMENT (bad name or
 * labels), ALREADY_EXISTS (name taken), PERMISSION_DENIED,
 * RESOURCE_EXHAUSTED. */
SHMPORT_EXPORT shmport_status shmport_session_connect(
    const shmport_session_options* options, shmport_session** out);

/* Ends the registration and frees the session. Ports it gave out stay open
 * and valid; publishers and subscribers share the session, and the
 * registration lasts until they are freed too ("Topics"). NULL: nothing. */
SHMPORT_EXPORT shmport_status shmport_session_free(shmport_session* session);

/* Opens a port to the process named `name_or_id` (digits only: a process
 * id) and returns it ready (HELLO exchanged). `options` may be NULL. On
 * SHMPORT_OK the caller owns *out. Errors: NOT_FOUND, INVALID_ARGUMENT
 * (yourself), FAILED_PRECONDITION (peer not attached), PERMISSION_DENIED,
 * RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED (handshake). */
SHMPORT_EXPORT shmport_status shmport_session_open_port(
    shmport_session* session, const char* name_or_id,
    const shmport_open_port_options* options, shmport_port** out);

/* The next port another process opened to this one, waiting up to
 * `timeout_ms`. On SHMPORT_OK the caller owns *out. Errors:
 * DEADLINE_EXCEEDED (none came), UNAVAILABLE (daemon gone). */
SHMPORT_EXPORT shmport_status shmport_session_accept_port(
    shmport_session* session, int64_t timeout_ms, shmport_port** out);

/* Registers again with the daemon now at the address (after a restart). */
SHMPORT_EXPORT shmport_status
shmport_session_reconnect(shmport_session* session);

/* Ends the registration now; later calls fail with FAILED_PRECONDITION.
 * Idempotent. The session must still be freed. */
SHMPORT_EXPORT shmport_status
shmport_session_unregister(shmport_session* session);

/* The daemon's id for this process (changes on reconnect). */
SHMPORT_EXPORT shmport_status
shmport_session_process_id(const shmport_session* session, uint64_t* out);

/* SHMPORT_OK while the daemon is reachable, else why not (the message is
 * in shmport_last_error()). */
SHMPORT_EXPORT shmport_status
shmport_session_health(const shmport_session* session);

/* Copies the message of the last failed call on this session into `out`
 * (at most out_size bytes, NUL-terminated; "" if none failed) and sets
 * *length (may be NULL) to its full length, as snprintf would. `out` may
 * be NULL when out_size is 0. */
SHMPORT_EXPORT shmport_status shmport_session_last_error(
    const shmport_session* session, char* out, size_t out_size, size_t* length);

/* ---- Port ------------------------------------------------------------- *
 * Thread-safety: as shmport::Port. Any function may be called from any
 * thread: sends are serialised among themselves, receives among
 * themselves, and one thread may send while another receives;
 * shmport_port_close may be called from any thread to wake blocked calls.
 * shmport_port_free must not race with any other call on the port. */

/* Who the other end must be (shmport::PeerIdentity). */
typedef struct shmport_peer {
  int32_t pid; /* 0: any pid */
  int64_t uid; /* -1: any uid */
} shmport_peer;

/* A port over a connected AF_UNIX SOCK_SEQPACKET socket, without a daemon
 * (both ends made with socketpair, say): performs the HELLO exchange with
 * the kernel-checked `peer`. Takes ownership of `socket` whatever the
 * result (it is closed on failure). `options` may be NULL. On SHMPORT_OK
 * the caller owns *out. Errors: UNAVAILABLE, DEADLINE_EXCEEDED (no HELLO),
 * PERMISSION_DENIED (credentials), FAILED_PRECONDITION. */
SHMPORT_EXPORT shmport_status shmport_port_open_socket(
    int socket, const shmport_peer* peer, const shmport_port_options* options,
    shmport_port** out);

/* Closes the port now (sends BYE); calls blocked on it wake with
 * UNAVAILABLE. The handle stays valid (its calls then fail with
 * UNAVAILABLE) until shmport_port_free. Idempotent. */
SHMPORT_EXPORT shmport_status shmport_port_close(shmport_port* port);

/* Closes the port (if open) and frees the handle. Buffers, messages and
 * trackings of the port stay valid: each keeps its mappings alive until it
 * is freed. NULL: nothing. */
SHMPORT_EXPORT shmport_status shmport_port_free(shmport_port* port);

/* The socket, for poll/epoll/select loops: readable when a message, an
 * acknowledgement or the peer's close is waiting; then call
 * shmport_port_try_receive until it gives no message. Never read from it.
 * Valid until shmport_port_free; owned by the port. */
SHMPORT_EXPORT shmport_status shmport_port_fd(const shmport_port* port,
                                              int* fd);

/* Why the port closed: *code is SHMPORT_OK while it is open, else the code
 * (usually UNAVAILABLE), and *message (may be NULL) says why ("peer closed
 * the connection"; "" while open). The message stays valid until the next
 * shmport call on this thread. */
SHMPORT_EXPORT shmport_status shmport_port_closed_reason(
    const shmport_port* port, shmport_status* code, const char** message);

/* What a port knows about itself and its peer. */
typedef struct shmport_port_info {
  size_t struct_size; /* set by the caller: sizeof(shmport_port_info) */
  uint64_t port_id;   /* the daemon's id; 0 outside a session */
  uint64_t peer_process_id;
  int32_t peer_pid;
  int64_t peer_uid;
  /* The peer's registered name ("" outside a session), valid until
   * shmport_port_free. */
  const char* peer_name;
  uint32_t peer_chunk_size; /* the geometry the peer declared */
  uint32_t peer_chunk_count;
} shmport_port_info;

/* Fills the fields of *info that fit in info->struct_size. */
SHMPORT_EXPORT shmport_status shmport_port_info_get(const shmport_port* port,
                                                    shmport_port_info* info);

/* A snapshot of the port's counters (shmport::PortStats). */
typedef struct shmport_port_stats {
  size_t struct_size; /* set by the caller: sizeof(shmport_port_stats) */
  uint64_t messages_sent;
  uint64_t bytes_sent;
  uint64_t messages_received;
  uint64_t bytes_received;
  uint32_t segments_out;       /* segments this end created and maps */
  uint32_t segments_in;        /* peer segments this end maps */
  uint32_t chunks_in_use;      /* busy chunks in this end's segments */
  uint32_t tracking_in_flight; /* tracking slots not yet settled */
  uint64_t oosm_waits;         /* times a sender waited for memory */
  uint64_t protocol_errors;
  uint64_t cancels_won;
  uint64_t cancels_lost;
  uint64_t cancelled_dropped;
  uint64_t sent_via_ring;
  uint64_t ring_fallbacks;
  uint64_t receive_spins;
  uint64_t receive_spin_hits;
  int32_t closed; /* 1 once the port closed */
} shmport_port_stats;

/* Fills the fields of *stats that fit in stats->struct_size. Works after
 * shmport_port_close too. */
SHMPORT_EXPORT shmport_status shmport_port_stats_get(const shmport_port* port,
                                                     shmport_port_stats* stats);

/* As shmport_session_last_error, for the last failed call on this port
 * (from any thread). */
SHMPORT_EXPORT shmport_status shmport_port_last_error(const shmport_port* port,
                                                      char* out,
                                                      size_t out_size,
                                                      size_t* length);

/* ---- Sending ---------------------------------------------------------- *
 * The shmport_port_* calls follow the port's rules above; the
 * shmport_buffer_* and shmport_tracking_* calls, the handle's: one thread
 * at a time. */

/* For shmport_port_allocate: the port's allocate_timeout_ms; for
 * shmport_publisher_allocate: 10 s. */
#define SHMPORT_DEFAULT_TIMEOUT ((int64_t)-2)

/* A buffer of exactly `size` bytes (inline below the inline threshold,
 * else chunks of shared memory), waiting up to `timeout_ms` (or
 * SHMPORT_DEFAULT_TIMEOUT) for the receiver to free memory. On SHMPORT_OK
 * the caller owns *out until it is sent or freed. Errors: INVALID_ARGUMENT
 * (larger than a segment: use shmport_port_send_copy), DEADLINE_EXCEEDED,
 * UNAVAILABLE (closed), RESOURCE_EXHAUSTED (memfd or mmap failed). */
SHMPORT_EXPORT shmport_status shmport_port_allocate(shmport_port* port,
                                                    size_t size,
                                                    int64_t timeout_ms,
                                                    shmport_buffer** out);

/* Never blocks: RESOURCE_EXHAUSTED when memory is short (the port's fd
 * turns readable once the receiver frees some; shmport_port_try_receive
 * then takes the acknowledgement in). */
SHMPORT_EXPORT shmport_status shmport_port_try_allocate(shmport_port* port,
                                                        size_t size,
                                                        shmport_buffer** out);

/* The writable bytes: *data (size bytes; may be NULL) and *size (may be
 * NULL). Valid until the buffer is sent or freed. A buffer belongs to one
 * thread at a time. */
SHMPORT_EXPORT shmport_status shmport_buffer_data(const shmport_buffer* buffer,
                                                  void** data, size_t* size);

/* The most the buffer can be resized to. */
SHMPORT_EXPORT shmport_status
shmport_buffer_capacity(const shmport_buffer* buffer, size_t* capacity);

/* Sets the size to `size` (<= capacity; OUT_OF_RANGE otherwise, unchanged).
 * The bytes already written stay. */
SHMPORT_EXPORT shmport_status shmport_buffer_resize(shmport_buffer* buffer,
                                                    size_t size);

/* Frees a buffer that will not be sent (its chunks go back). NULL:
 * nothing. */
SHMPORT_EXPORT shmport_status shmport_buffer_free(shmport_buffer* buffer);

/* Sends `buffer` as one message of `stream` (zero-copy for shared memory);
 * `last` non-zero sets the LAST flag. Consumes the buffer whatever the
 * result, even when `port` is NULL: do not use or free it afterwards.
 * Errors: UNAVAILABLE (closed), DEADLINE_EXCEEDED (the peer stopped
 * reading for send_timeout_ms), INVALID_ARGUMENT (a buffer of another
 * port). */
SHMPORT_EXPORT shmport_status shmport_port_send(shmport_port* port,
                                                uint32_t stream,
                                                shmport_buffer* buffer,
                                                int last);

/* Sends buffers[0..count) as one message whose fragments arrive in order.
 * Consumes every non-NULL buffer whatever the result. A NULL entry is
 * INVALID_ARGUMENT (nothing is sent). */
SHMPORT_EXPORT shmport_status shmport_port_send_many(shmport_port* port,
                                                     uint32_t stream,
                                                     shmport_buffer** buffers,
                                                     size_t count, int last);

/* Copies `size` bytes from `data` (NULL allowed when size is 0) into new
 * buffers and sends them as one message (several fragments when larger
 * than a segment). The caller keeps `data`. */
SHMPORT_EXPORT shmport_status shmport_port_send_copy(shmport_port* port,
                                                     uint32_t stream,
                                                     const void* data,
                                                     size_t size, int last);

/* Sends `buffer` as a message the sender may withdraw with
 * shmport_tracking_cancel. Consumes the buffer whatever the result. On
 * SHMPORT_OK the caller owns *out (shmport_tracking_free; freeing does
 * not cancel). */
SHMPORT_EXPORT shmport_status shmport_port_send_tracked(shmport_port* port,
                                                        uint32_t stream,
                                                        shmport_buffer* buffer,
                                                        int last,
                                                        shmport_tracking** out);

/* Withdraws a tracked message: *cancelled = 1 when the peer will drop it
 * unseen, 0 when the peer had already claimed it (or it was cancelled
 * before). UNAVAILABLE: the port closed first (the peer may or may not
 * have processed it). May race with the peer, not with itself: a tracking
 * belongs to one thread at a time. */
SHMPORT_EXPORT shmport_status
shmport_tracking_cancel(shmport_tracking* tracking, int* cancelled);

/* The stream the tracked message was sent on. */
SHMPORT_EXPORT shmport_status
shmport_tracking_stream(const shmport_tracking* tracking, uint32_t* stream);

/* Frees the handle (does not cancel). NULL: nothing. */
SHMPORT_EXPORT shmport_status shmport_tracking_free(shmport_tracking* tracking);

/* ---- Receiving -------------------------------------------------------- *
 * The shmport_port_* calls follow the port's rules above; the
 * shmport_message_* calls, the message's: one thread at a time (any
 * thread may release it, even after the port is gone). */

/* The next message, waiting up to `timeout_ms` (SHMPORT_INFINITE allowed).
 * On SHMPORT_OK the caller owns *out until shmport_message_release.
 * Errors: DEADLINE_EXCEEDED, UNAVAILABLE (closed: shmport_port_closed_reason
 * says why; messages that had arrived are handed out first). */
SHMPORT_EXPORT shmport_status shmport_port_receive(shmport_port* port,
                                                   int64_t timeout_ms,
                                                   shmport_message** out);

/* Never blocks: SHMPORT_OK with *out a message, or with *out NULL when
 * nothing is ready (which arms the fd: the next message makes it
 * readable). An event loop calls this until *out is NULL, then waits on
 * shmport_port_fd. Errors as shmport_port_receive, but never
 * DEADLINE_EXCEEDED. */
SHMPORT_EXPORT shmport_status shmport_port_try_receive(shmport_port* port,
                                                       shmport_message** out);

/* The first fragment, which is the whole payload when the message has one
 * fragment (always, for messages sent with shmport_port_send of one
 * buffer): *data (may be NULL; NULL for an empty message) and *size (may
 * be NULL). Read-only: the bytes are the sender's shared memory, valid
 * until shmport_message_release, even after the port is closed or freed.
 * A message belongs to one thread at a time. */
SHMPORT_EXPORT shmport_status shmport_message_data(
    const shmport_message* message, const void** data, size_t* size);

/* The payload's total size (every fragment). */
SHMPORT_EXPORT shmport_status
shmport_message_size(const shmport_message* message, size_t* size);

/* How many fragments (0 for an empty message). */
SHMPORT_EXPORT shmport_status
shmport_message_fragment_count(const shmport_message* message, size_t* count);

/* Fragment `index` (< fragment count; OUT_OF_RANGE otherwise), as
 * shmport_message_data. */
SHMPORT_EXPORT shmport_status
shmport_message_fragment(const shmport_message* message, size_t index,
                         const void** data, size_t* size);

/* The stream and the sender's LAST flag (*last 1 or 0); either pointer may
 * be NULL. */
SHMPORT_EXPORT shmport_status shmport_message_stream(
    const shmport_message* message, uint32_t* stream, int* last);

/* Copies the whole payload, fragments in order, into out[0..size). `size`
 * must be at least the message's size (OUT_OF_RANGE otherwise, nothing
 * copied). */
SHMPORT_EXPORT shmport_status
shmport_message_copy_to(const shmport_message* message, void* out, size_t size);

/* Frees the message: its chunks go back to the sender. Safe after the port
 * was closed or freed. NULL: nothing. */
SHMPORT_EXPORT shmport_status shmport_message_release(shmport_message* message);

/* ---- Topics ----------------------------------------------------------- *
 * One publisher, many subscribers, each sample written once into the
 * publisher's shared memory and read in place by every subscriber
 * (shmport/topic.h; docs/architecture.md "Topics").
 *
 * Lifetimes: a publisher or subscriber keeps its session alive, so
 * shmport_session_free may come first; the registration with the daemon
 * then ends when the session and all its publishers and subscribers are
 * freed. A sample buffer outlives its publisher and a sample its
 * subscriber (each keeps the memory it points into mapped until it is
 * freed or released). A buffer of a freed publisher can only be read,
 * written and freed; releasing a sample of a freed subscriber just unmaps
 * (the publisher dropped the subscription's holds when it ended).
 *
 * Thread-safety: a publisher's functions may be called from any thread,
 * concurrently; a subscriber receives from one thread at a time, and its
 * stats, fd and error functions may be called from any thread. *_free
 * must not race with any other call on the handle. A sample buffer or a
 * sample belongs to one thread at a time (it may be handed to another). */

/* What a subscription does when its subscriber falls behind
 * (shmport::SlowSubscriber). */
typedef enum shmport_slow_subscriber {
  /* The publisher's allocate waits (bounded by its timeout) until the
   * subscriber has taken its queue. */
  SHMPORT_BLOCK_PUBLISHER = 0,
  /* At most queue_depth samples wait; a newer one replaces the oldest, and
   * the subscriber's samples_missed counts them. */
  SHMPORT_DROP_OLDEST = 1
} shmport_slow_subscriber;

/* shmport::PublisherOptions. The daemon may clamp the geometry and the
 * history to its limits. */
typedef struct shmport_publisher_options {
  size_t struct_size;
  /* Each segment's chunks (a power of two in [4 KiB, 4 MiB] x [1, 4096]);
   * a sample takes a run of chunks of one segment, so the largest sample
   * is chunk_size * chunk_count bytes. Default 64 KiB x 256. */
  uint32_t chunk_size;
  uint32_t chunk_count;
  uint32_t max_segments;     /* made as the pool fills, [1, 256]; 4 */
  uint32_t inline_threshold; /* samples up to this size travel inline in
                              * the socket (a copy per subscriber); 1024 */
  uint32_t history;          /* the last samples kept for late joiners; 0 */
  /* Cut off (RESOURCE_EXHAUSTED) a subscription holding more bytes of
   * chunks than this; 0: no bound. */
  uint64_t max_held_bytes;
  /* Cut off (DEADLINE_EXCEEDED) a SHMPORT_BLOCK_PUBLISHER subscription
   * that keeps allocate waiting this long; default SHMPORT_INFINITE. */
  int64_t max_block_ms;
} shmport_publisher_options;

SHMPORT_EXPORT shmport_status
shmport_publisher_options_init(shmport_publisher_options* options);

/* shmport::SubscriberOptions. */
typedef struct shmport_subscriber_options {
  size_t struct_size;
  /* A shmport_slow_subscriber; default SHMPORT_BLOCK_PUBLISHER. */
  int32_t slow_subscriber;
  /* Samples in flight to this subscriber and not yet released; also the
   * SHMPORT_DROP_OLDEST queue. At least 1; default 16. */
  uint32_t queue_depth;
  uint32_t history; /* past samples to ask for on joining; 0 */
  /* Against a hostile publisher: the segments mapped per publisher (16)
   * and their bytes (1 GiB); a publisher announcing more is dropped. */
  uint32_t max_segments;
  uint64_t max_mapped_bytes;
} shmport_subscriber_options;

SHMPORT_EXPORT shmport_status
shmport_subscriber_options_init(shmport_subscriber_options* options);

/* Makes this process the publisher of `topic` (1..128 characters from
 * [A-Za-z0-9._/-]). `options` may be NULL (the defaults). On SHMPORT_OK
 * the caller owns *out (shmport_publisher_free). Errors: ALREADY_EXISTS
 * (the topic has a publisher, named), PERMISSION_DENIED, RESOURCE_EXHAUSTED
 * (a daemon limit), INVALID_ARGUMENT (topic, options), UNAVAILABLE. */
SHMPORT_EXPORT shmport_status shmport_session_publish(
    shmport_session* session, const char* topic,
    const shmport_publisher_options* options, shmport_publisher** out);

/* Subscribes to `topic`, which need not have a publisher yet: samples come
 * from each publisher the topic gets, one at a time. `options` may be
 * NULL. On SHMPORT_OK the caller owns *out (shmport_subscriber_free).
 * Errors as shmport_session_publish's, without ALREADY_EXISTS. */
SHMPORT_EXPORT shmport_status shmport_session_subscribe(
    shmport_session* session, const char* topic,
    const shmport_subscriber_options* options, shmport_subscriber** out);

/* ---- Publishing ------------------------------------------------------- */

/* Ends every subscription (subscribers keep the samples they hold) and
 * frees the handle. Sample buffers of it stay valid until freed. NULL:
 * nothing. */
SHMPORT_EXPORT shmport_status
shmport_publisher_free(shmport_publisher* publisher);

/* A buffer of exactly `size` bytes, waiting up to `timeout_ms`
 * (SHMPORT_DEFAULT_TIMEOUT: 10 s, as in C++) for free chunks and for
 * SHMPORT_BLOCK_PUBLISHER subscribers to take their queues. On SHMPORT_OK
 * the caller owns *out until it is published or freed. Errors:
 * DEADLINE_EXCEEDED (naming what it waited for), INVALID_ARGUMENT (larger
 * than a segment), RESOURCE_EXHAUSTED (memfd or mmap failed). */
SHMPORT_EXPORT shmport_status
shmport_publisher_allocate(shmport_publisher* publisher, size_t size,
                           int64_t timeout_ms, shmport_sample_buffer** out);

/* Never blocks: DEADLINE_EXCEEDED at once when memory or a subscriber's
 * queue is full (shmport_publisher_fd turns readable when chunks come
 * back). */
SHMPORT_EXPORT shmport_status shmport_publisher_try_allocate(
    shmport_publisher* publisher, size_t size, shmport_sample_buffer** out);

/* The writable bytes: *data (may be NULL) and *size (may be NULL), valid
 * until the buffer is published or freed. */
SHMPORT_EXPORT shmport_status shmport_sample_buffer_data(
    const shmport_sample_buffer* buffer, void** data, size_t* size);

/* The most the buffer can be resized to. */
SHMPORT_EXPORT shmport_status shmport_sample_buffer_capacity(
    const shmport_sample_buffer* buffer, size_t* capacity);

/* Sets the size to `size` (<= capacity; OUT_OF_RANGE otherwise,
 * unchanged). */
SHMPORT_EXPORT shmport_status
shmport_sample_buffer_resize(shmport_sample_buffer* buffer, size_t size);

/* Frees a buffer that will not be published (its chunks go back). Safe
 * after the publisher was freed. NULL: nothing. */
SHMPORT_EXPORT shmport_status
shmport_sample_buffer_free(shmport_sample_buffer* buffer);

/* Hands `buffer` to every subscription (zero-copy) and sets *sequence (may
 * be NULL) to its sequence number. Consumes the buffer whatever the
 * result, even when `publisher` is NULL. Errors: INVALID_ARGUMENT (a
 * buffer of another publisher, which then just goes back to its pool). */
SHMPORT_EXPORT shmport_status
shmport_publisher_publish(shmport_publisher* publisher,
                          shmport_sample_buffer* buffer, uint64_t* sequence);

/* An eventfd, readable when chunks returned to the pool (a failed
 * try_allocate may then succeed); read 8 bytes from it to clear it. Owned
 * by the publisher; valid until shmport_publisher_free. */
SHMPORT_EXPORT shmport_status
shmport_publisher_fd(const shmport_publisher* publisher, int* fd);

/* The topic's name, valid until shmport_publisher_free. */
SHMPORT_EXPORT shmport_status
shmport_publisher_topic(const shmport_publisher* publisher, const char** topic);

/* A snapshot of the publisher's counters (shmport::PublisherStats). */
typedef struct shmport_publisher_stats {
  size_t struct_size; /* set by the caller: sizeof(shmport_publisher_stats) */
  uint64_t samples_published;
  uint64_t chunks_in_use; /* held by a buffer, a subscription or history */
  uint64_t segments;
  uint64_t subscriptions_cut_off; /* by the publisher, with a reason */
  uint64_t subscriptions;         /* live ones right now */
} shmport_publisher_stats;

/* Fills the fields of *stats that fit in stats->struct_size. */
SHMPORT_EXPORT shmport_status shmport_publisher_stats_get(
    const shmport_publisher* publisher, shmport_publisher_stats* stats);

/* One live subscription, as the publisher sees it
 * (shmport::TopicSubscriptionStats). */
typedef struct shmport_subscription_stats {
  size_t struct_size;
  uint64_t subscription_id;
  uint64_t samples_delivered;
  uint64_t samples_released;
  uint64_t samples_dropped; /* SHMPORT_DROP_OLDEST: replaced, not sent */
  uint64_t lag;             /* queued or held, not yet released */
  uint64_t held_chunks;
  uint64_t held_bytes;
} shmport_subscription_stats;

/* Fills out[0..capacity) with the live subscriptions and sets *count to
 * how many there are (which may exceed capacity, as snprintf). The caller
 * sets out[0].struct_size to sizeof(shmport_subscription_stats): it is the
 * stride of the array, and each entry written gets the fields that fit.
 * `out` may be NULL when capacity is 0. */
SHMPORT_EXPORT shmport_status shmport_publisher_subscriptions_get(
    const shmport_publisher* publisher, shmport_subscription_stats* out,
    size_t capacity, size_t* count);

/* As shmport_port_last_error, for the last failed call on this publisher. */
SHMPORT_EXPORT shmport_status
shmport_publisher_last_error(const shmport_publisher* publisher, char* out,
                             size_t out_size, size_t* length);

/* ---- Subscribing ------------------------------------------------------ */

/* Ends the subscription and frees the handle. Samples of it stay valid
 * until released. NULL: nothing. */
SHMPORT_EXPORT shmport_status
shmport_subscriber_free(shmport_subscriber* subscriber);

/* The next sample, waiting up to `timeout_ms` (SHMPORT_INFINITE allowed).
 * On SHMPORT_OK the caller owns *out until shmport_sample_release.
 * Errors: DEADLINE_EXCEEDED (none came); once each, the publisher's reason
 * for cutting this subscriber off (RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED)
 * or the protocol violation for which it dropped a publisher. */
SHMPORT_EXPORT shmport_status shmport_subscriber_receive(
    shmport_subscriber* subscriber, int64_t timeout_ms, shmport_sample** out);

/* Never blocks: SHMPORT_OK with *out a sample, or with *out NULL when
 * nothing is ready. An event loop calls it until *out is NULL, then waits
 * for shmport_subscriber_fd. Errors as shmport_subscriber_receive, but
 * never DEADLINE_EXCEEDED for want of a sample. */
SHMPORT_EXPORT shmport_status shmport_subscriber_try_receive(
    shmport_subscriber* subscriber, shmport_sample** out);

/* An epoll fd, readable when a receive may have something. Never read
 * from it. Owned by the subscriber; valid until shmport_subscriber_free. */
SHMPORT_EXPORT shmport_status
shmport_subscriber_fd(const shmport_subscriber* subscriber, int* fd);

/* The topic's name, valid until shmport_subscriber_free. */
SHMPORT_EXPORT shmport_status shmport_subscriber_topic(
    const shmport_subscriber* subscriber, const char** topic);

/* A snapshot of the subscriber's counters (shmport::SubscriberStats). */
typedef struct shmport_subscriber_stats {
  size_t struct_size; /* set by the caller: sizeof(...) */
  uint64_t samples_received;
  uint64_t samples_missed; /* told by publishers (SHMPORT_DROP_OLDEST) */
  uint64_t bytes_received;
  uint64_t segments_mapped; /* right now */
  uint64_t subscriptions_opened;
} shmport_subscriber_stats;

/* Fills the fields of *stats that fit in stats->struct_size. */
SHMPORT_EXPORT shmport_status shmport_subscriber_stats_get(
    const shmport_subscriber* subscriber, shmport_subscriber_stats* stats);

/* As shmport_port_last_error, for the last failed call on this
 * subscriber. */
SHMPORT_EXPORT shmport_status
shmport_subscriber_last_error(const shmport_subscriber* subscriber, char* out,
                              size_t out_size, size_t* length);

/* The sample's bytes: *data (may be NULL; NULL for an empty sample) and
 * *size (may be NULL). Read-only: the publisher's shared memory (the same
 * pages every subscriber reads) or an inline copy, valid until
 * shmport_sample_release, even after the subscriber was freed. */
SHMPORT_EXPORT shmport_status shmport_sample_data(const shmport_sample* sample,
                                                  const void** data,
                                                  size_t* size);

/* The publisher's sequence number: consecutive unless samples were missed
 * or a new publisher took the topic. */
SHMPORT_EXPORT shmport_status
shmport_sample_sequence(const shmport_sample* sample, uint64_t* sequence);

/* Gives the sample back to the publisher (its chunks return once every
 * subscriber did) and frees the handle. Safe after the subscriber was
 * freed. NULL: nothing. */
SHMPORT_EXPORT shmport_status shmport_sample_release(shmport_sample* sample);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SHMPORT_SHMPORT_H_ */
