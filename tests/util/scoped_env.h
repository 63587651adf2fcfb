// ScopedEnv: sets (or, with nullptr, unsets) an environment variable for
// one test and restores it afterwards. Not thread-safe: setenv never is.
#ifndef SHMPORT_TESTS_UTIL_SCOPED_ENV_H_
#define SHMPORT_TESTS_UTIL_SCOPED_ENV_H_

#include <stdlib.h>

#include <optional>
#include <string>

namespace shmport::testing {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    if (value == nullptr) {
      ::unsetenv(name);
    } else {
      ::setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_UTIL_SCOPED_ENV_H_
