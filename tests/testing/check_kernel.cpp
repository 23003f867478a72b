#include "testing/check_kernel.h"

#include "measure/inputs.h"
#include "measure/verify.h"
#include "runtime/device_runtime.h"

namespace gemmtune::testing {

::testing::AssertionResult kernel_matches_reference(const Problem& p, Kernel& kernel, std::uint64_t seed) {
  auto& rt = runtime::cpu_runtime();
  const measure::HostData host = measure::make_host_data(p, seed);
  auto set = measure::upload(rt, host);
  if (!set) return ::testing::AssertionFailure() << "upload: " << set.error().to_string();
  auto reference = measure::make_reference(rt, p, set.value().args(), VerifyMode::full, seed);
  if (!reference) return ::testing::AssertionFailure() << "reference: " << reference.error().to_string();
  if (Status s = kernel.run(set.value().args(), RunContext{}); !s)
    return ::testing::AssertionFailure() << describe(p) << ": run: " << s.error().to_string();
  auto verdict = measure::verify_output(rt, p, set.value(), reference.value());
  if (!verdict) return ::testing::AssertionFailure() << describe(p) << ": " << verdict.error().to_string();
  return ::testing::AssertionSuccess();
}

}  // namespace gemmtune::testing
