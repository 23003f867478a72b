// One built kernel, end to end on the CPU: fresh random inputs, the exact
// reference, one run, the tuner's own verification (every element).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "gemmtune/backend.h"

namespace gemmtune::testing {

::testing::AssertionResult kernel_matches_reference(const Problem&, Kernel&, std::uint64_t seed);

}  // namespace gemmtune::testing
