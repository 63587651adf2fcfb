/* c_check.h: the checks and the runner of the tests written in C
 * (c_api_test.c, c_api_topic_test.c). A failed CHECK prints the line and
 * the library's last error; shmport_test_run's result is the number of
 * failed tests. */
#ifndef SHMPORT_TESTS_C_API_C_CHECK_H_
#define SHMPORT_TESTS_C_API_C_CHECK_H_

#include <stddef.h>
#include <string.h>

#include "shmport/shmport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reports a failed CHECK or REQUIRE with the library's last error and
 * marks the running test failed; 0. */
int shmport_test_fail(const char* file, int line, const char* kind,
                      const char* cond);

/* Each evaluates `cond` once. REQUIRE also ends the test; what it held is
 * reclaimed by the process's exit, which fails anyway. */
#define CHECK(cond) \
  ((void)((cond) || shmport_test_fail(__FILE__, __LINE__, "CHECK", #cond)))
#define REQUIRE(cond)                                                 \
  do {                                                                \
    if (!((cond) ||                                                   \
          shmport_test_fail(__FILE__, __LINE__, "REQUIRE", #cond))) { \
      return;                                                         \
    }                                                                 \
  } while (0)
#define CHECK_STATUS(expr, code) CHECK((expr) == (code))
#define CHECK_OK(expr) CHECK_STATUS(expr, SHMPORT_OK)
#define CHECK_INVALID(expr) CHECK_STATUS(expr, SHMPORT_INVALID_ARGUMENT)
#define CHECK_ERROR_MENTIONS(text) \
  CHECK(strstr(shmport_last_error(), (text)) != NULL)

typedef struct test_case {
  const char* name;
  void (*run)(void);
} test_case;

#define TEST_CASE(f) \
  { #f, f }

/* Runs tests[0..count) in order, printing gtest-like lines; the number of
 * failed tests. */
int shmport_test_run(const test_case* tests, size_t count);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SHMPORT_TESTS_C_API_C_CHECK_H_ */
