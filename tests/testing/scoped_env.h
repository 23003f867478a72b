// Sets (or, with a null value, unsets) an environment variable for a scope
// and restores the previous state afterwards, so tests of GEMMTUNE_* do not
// depend on, or leak into, the developer's environment.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace gemmtune::testing {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_.c_str(), old_->c_str(), 1);
    else unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace gemmtune::testing
