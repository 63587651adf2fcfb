/* The exchange the installed-library tests run (tests/install): message i
 * of EXCHANGE_MESSAGES has exchange_size(i) bytes (0 B to 8 MiB), and its
 * bytes are a function of (i, direction, position), so that every byte the
 * other end got can be checked, including its place in the message. Both
 * directions (the consumer's requests, the peer's replies) use it. Plain
 * C11 and C++: the C consumer, the CMake consumer and the Bazel-built peer
 * include this one file. */
#ifndef SHMPORT_TESTS_INSTALL_EXCHANGE_H_
#define SHMPORT_TESTS_INSTALL_EXCHANGE_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EXCHANGE_MESSAGES 1000u
#define EXCHANGE_MAX_SIZE ((size_t)8 << 20)
#define EXCHANGE_PEER "install-peer"
#define EXCHANGE_REQUEST 0u
#define EXCHANGE_REPLY 1u

/* splitmix64's finalizer. */
static inline uint64_t exchange_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Message 0 is empty, message 1 is the largest; the others spread over
 * every power of two from 1 B to 8 MiB (and the sizes between). */
static inline size_t exchange_size(uint32_t i) {
  if (i == 0) return 0;
  if (i == 1) return EXCHANGE_MAX_SIZE;
  uint64_t h = exchange_mix(i);
  unsigned bits = (unsigned)(h % 24);
  size_t size =
      ((size_t)1 << bits) + (size_t)((h >> 8) % ((uint64_t)1 << bits));
  return size < EXCHANGE_MAX_SIZE ? size : EXCHANGE_MAX_SIZE;
}

/* The 8 bytes at word `w` of message i in `direction`. */
static inline uint64_t exchange_word(uint32_t i, uint32_t direction, size_t w) {
  return exchange_mix(((uint64_t)i << 40) ^ ((uint64_t)direction << 39) ^
                      (uint64_t)w);
}

static inline void exchange_fill(uint8_t* data, size_t size, uint32_t i,
                                 uint32_t direction) {
  size_t w = 0;
  for (; (w + 1) * 8 <= size; ++w) {
    uint64_t word = exchange_word(i, direction, w);
    memcpy(data + w * 8, &word, 8);
  }
  if (w * 8 < size) {
    uint64_t tail = exchange_word(i, direction, w);
    memcpy(data + w * 8, &tail, size - w * 8);
  }
}

/* Checks `size` bytes that sit at `offset` in message i: the position of
 * the first wrong byte (from the message's start), or -1 if all are right. */
static inline long long exchange_check(const uint8_t* data, size_t size,
                                       size_t offset, uint32_t i,
                                       uint32_t direction) {
  for (size_t p = 0; p < size;) {
    size_t at = offset + p;
    uint64_t word = exchange_word(i, direction, at / 8);
    size_t n = 8 - at % 8;
    if (n > size - p) n = size - p;
    if (memcmp(data + p, (const uint8_t*)&word + at % 8, n) != 0) {
      for (size_t k = 0; k < n; ++k) {
        if (data[p + k] != ((const uint8_t*)&word)[at % 8 + k]) {
          return (long long)(at + k);
        }
      }
    }
    p += n;
  }
  return -1;
}

#ifdef __cplusplus
/* Checks every fragment of a shmport::Message (a template, so that this
 * header needs no shmport header): -1 when all bytes are right. */
template <typename Message>
long long ExchangeCheckMessage(const Message& message, uint32_t i,
                               uint32_t direction) {
  size_t offset = 0;
  for (size_t f = 0; f < message.fragment_count(); ++f) {
    auto fragment = message.fragment(f);
    long long bad =
        exchange_check(fragment.data(), fragment.size(), offset, i, direction);
    if (bad >= 0) return bad;
    offset += fragment.size();
  }
  return -1;
}
#endif

#endif /* SHMPORT_TESTS_INSTALL_EXCHANGE_H_ */
