// Failpoints: faults injected into chosen choices' runs, so that the fault
// handling of the tuner (and of its measuring workers) can be tested from the
// outside, on any backend, with the product as shipped.
//
//   GEMMTUNE_FAILPOINTS="BACKEND/CHOICE_GLOB=ACTION[;BACKEND/CHOICE_GLOB=ACTION...]"
//
// BACKEND is a backend name or a glob over names (case-insensitive: "CPP",
// "*"); CHOICE_GLOB is a glob over choice names (fnmatch: * ? [...]). The
// first rule that matches a choice applies. Actions, applied on every run of
// the choice's kernel while it is measured:
//   crash            raise SIGSEGV (the process dies)
//   abort            abort() (SIGABRT)
//   hang             never return
//   throw            throw an exception out of run()
//   wrong            run, then put a wrong value into the last output element
//   nan              run, then put NaN into the last output element (integer
//                    outputs get a wrong value: they have no NaN)
//   slow:MS          sleep MS milliseconds (0 < MS <= 3600000), then run
//   illegal_address  run with the output pointer replaced by an unmapped
//                    address: a GPU kernel faults (illegal address, the CUDA
//                    context is lost), a CPU kernel crashes (SIGSEGV)
// A malformed value is a ConfigError naming the rule, raised when the tuner
// is made, before any work.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gemmtune/backend.h"

namespace gemmtune::measure {

enum class FailAction : std::uint8_t { crash, abort, hang, throw_exception, wrong, nan, slow, illegal_address };

struct FailRule {
  std::string backend_glob;  // upper case
  std::string choice_glob;
  FailAction action = FailAction::crash;
  double slow_ms = 0;
  std::string text;  // the rule as written: "CPP/cpp_avx2_*=crash"
};

class Failpoints {
 public:
  Failpoints() = default;
  // Parses the variable's text; `source` names it in errors
  // ("GEMMTUNE_FAILPOINTS"). A BACKEND without glob characters must be one
  // of `backends`. Throws ConfigError.
  static Failpoints parse(std::string_view text, std::string_view source, const std::vector<std::string>& backends);

  bool empty() const { return rules_.empty(); }
  const std::string& text() const { return text_; }
  // The first rule that matches, or null.
  const FailRule* match(std::string_view backend, std::string_view choice) const;

 private:
  std::vector<FailRule> rules_;
  std::string text_;
};

// `kernel` with `rule` applied to each of its runs. `problem` tells where its
// output lives; `device` copies the output element that wrong/nan change.
std::unique_ptr<Kernel> with_failpoint(std::unique_ptr<Kernel> kernel, const FailRule& rule, const Problem& problem,
                                       runtime::DeviceRuntime& device);

}  // namespace gemmtune::measure
