// One choice of one backend, end to end on the CPU: build, run on random
// inputs (twice, with different data), verify against the exact reference.
// Shared by the conformance suite's focused backend tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "gemmtune/backend.h"
#include "measure/inputs.h"
#include "measure/verify.h"
#include "runtime/device_runtime.h"

namespace gemmtune::conformance {

inline ::testing::AssertionResult builds_runs_and_verifies(const Backend& backend, const Problem& p,
                                                           const Choice& choice, const TuningContext& ctx,
                                                           std::uint64_t seed = 12345) {
  runtime::DeviceRuntime& rt = runtime::cpu_runtime();
  auto kernel = backend.build(p, choice, ctx);
  if (!kernel) return ::testing::AssertionFailure() << "build: " << kernel.error().to_string();
  for (std::uint64_t s = seed; s < seed + 2; ++s) {
    measure::HostData host = measure::make_host_data(p, s);
    auto set = measure::upload(rt, p, host);
    if (!set) return ::testing::AssertionFailure() << "upload: " << set.error().to_string();
    auto reference = measure::make_reference(rt, p, set.value().args(), VerifyMode::full, s);
    if (!reference) return ::testing::AssertionFailure() << "reference: " << reference.error().to_string();
    Status status = kernel.value()->run(set.value().args(), RunContext{});
    if (!status) return ::testing::AssertionFailure() << "run: " << status.error().to_string();
    auto verdict = measure::verify_output(rt, p, set.value(), reference.value());
    if (!verdict) return ::testing::AssertionFailure() << verdict.error().to_string();
  }
  return ::testing::AssertionSuccess() << choice.name << " verified";
}

}  // namespace gemmtune::conformance
