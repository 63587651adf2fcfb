#include "tests/c_api/c_check.h"

#include <stdio.h>

static int test_failed; /* the running test's */

int shmport_test_fail(const char* file, int line, const char* kind,
                      const char* cond) {
  fprintf(stderr, "%s:%d: %s(%s) failed; last error: %s\n", file, line, kind,
          cond, shmport_last_error());
  test_failed = 1;
  return 0;
}

int shmport_test_run(const test_case* tests, size_t count) {
  int failed = 0;
  for (size_t i = 0; i < count; ++i) {
    test_failed = 0;
    printf("[ RUN      ] %s\n", tests[i].name);
    fflush(stdout);
    tests[i].run();
    printf("%s %s\n", test_failed ? "[  FAILED  ]" : "[       OK ]",
           tests[i].name);
    failed += test_failed;
  }
  printf("%d of %zu tests failed\n", failed, count);
  return failed;
}
