// SHMPORT_FUZZ_CHECK: the assertion of fuzz targets. A failed check prints
// what was wrong and aborts, which libFuzzer records as a crash (and saves the
// input) and which fails the replay test that ran the input.
//
// Not gtest's EXPECT: the same target body runs inside libFuzzer, where there
// is no test framework, and must stop at the first broken invariant.
#ifndef SHMPORT_TESTS_FUZZ_FUZZ_CHECK_H_
#define SHMPORT_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace shmport::fuzz {

// Collects the message of one failed check; aborts when destroyed, at the
// end of the statement that made it.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": SHMPORT_FUZZ_CHECK(" << condition
            << ") failed: ";
  }
  [[noreturn]] ~CheckFailure() {
    std::fprintf(stderr, "%s\n", stream_.str().c_str());
    std::fflush(stderr);
    std::abort();
  }
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;

  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

}  // namespace shmport::fuzz

// Usage: SHMPORT_FUZZ_CHECK(a == b) << "a=" << a << " b=" << b;
// The loop body runs at most once: the temporary aborts at the semicolon.
#define SHMPORT_FUZZ_CHECK(condition) \
  while (!(condition))                \
  ::shmport::fuzz::CheckFailure(__FILE__, __LINE__, #condition).stream()

#endif  // SHMPORT_TESTS_FUZZ_FUZZ_CHECK_H_
