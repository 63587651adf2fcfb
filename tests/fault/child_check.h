// Checks inside a forked child. A child must not touch gtest's state: it
// reports a failed check on stderr (the test log) and returns a non-zero
// exit code, which the parent asserts ("exit 0").
#ifndef SHMPORT_TESTS_FAULT_CHILD_CHECK_H_
#define SHMPORT_TESTS_FAULT_CHILD_CHECK_H_

#include <cstdio>
#include <string>

// Use only in a function returning the child's exit code (an int).
#define CHILD_CHECK(condition, context)                                      \
  do {                                                                       \
    if (!(condition)) {                                                      \
      std::fprintf(stderr, "%s:%d: child check failed: %s (%s)\n", __FILE__, \
                   __LINE__, #condition, std::string(context).c_str());      \
      return __LINE__ % 250 + 1;                                             \
    }                                                                        \
  } while (0)

#endif  // SHMPORT_TESTS_FAULT_CHILD_CHECK_H_
