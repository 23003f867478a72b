// One semantics for special values in every backend, CPU and GPU alike:
// alpha = 0 drops the product (NaN/Inf in A, B or the scales never reach
// C), beta = 0 drops the bias (its NaN/Inf never reach C), relu keeps NaN,
// and Inf/NaN otherwise propagate as the exact reference (PyTorch's
// formulas) says. The table of cases and the checker are shared by the CPU
// conformance suite (tests/conformance) and the GPU suite (tests/gpu), so a
// backend on either device is held to the same table.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "gemmtune/backend.h"
#include "measure/inputs.h"
#include "runtime/device_runtime.h"

namespace gemmtune::testing {

struct SpecialValueCase {
  std::string name;  // letters, digits and '_'
  Problem problem;   // on the CPU; callers move it to their device
  // Writes NaN/Inf into the random host inputs.
  std::function<void(const Problem&, measure::HostData&)> poison;
  // What the case pins down beyond "equals the reference", checked on the
  // reference itself: "every element finite", "row 0 NaN".
  std::string rule;
};

// The table: f32 and bf16, mm/addmm/bmm/mixed_mm, row and full bias, every
// activation.
const std::vector<SpecialValueCase>& special_value_cases();

// Random inputs (seeded) with the case's special values, for `p` (the
// case's problem, possibly moved to another device).
measure::HostData special_value_inputs(const SpecialValueCase&, const Problem& p, std::uint64_t seed);

// Uploads `host` to `rt`, runs `kernel` once, copies C back and compares it
// element by element with the host reference on the same inputs: NaN where
// the reference is NaN, the same infinity where it is infinite, finite
// values within the output dtype's tolerance.
::testing::AssertionResult matches_reference_with_special_values(const Problem& p, Kernel& kernel,
                                                                 runtime::DeviceRuntime& rt,
                                                                 const measure::HostData& host);

}  // namespace gemmtune::testing
