// One choice of one backend, end to end on the CPU: build, run on random
// inputs (twice, with different data), verify against the exact reference.
// Shared by the conformance suite's focused backend tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "gemmtune/backend.h"
#include "testing/check_kernel.h"

namespace gemmtune::conformance {

inline ::testing::AssertionResult builds_runs_and_verifies(const Backend& backend, const Problem& p,
                                                           const Choice& choice, const TuningContext& ctx,
                                                           std::uint64_t seed = 12345) {
  auto kernel = backend.build(p, choice, ctx);
  if (!kernel) return ::testing::AssertionFailure() << "build: " << kernel.error().to_string();
  for (std::uint64_t s = seed; s < seed + 2; ++s) {
    auto result = testing::kernel_matches_reference(p, *kernel.value(), s);
    if (!result) return result;
  }
  return ::testing::AssertionSuccess() << choice.name << " verified";
}

}  // namespace gemmtune::conformance
