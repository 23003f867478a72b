// Helpers for the CPP backend tests: build a choice, run it on fresh random
// inputs and compare every output element (and the untouched gaps of a
// strided output) with the exact reference.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpp/config.h"
#include "backends/cpp/cpp_backend.h"
#include "gemmtune/backend.h"
#include "gemmtune/problem.h"

namespace gemmtune::cpp_test {

// The backend on this machine's CPU.
const Backend& backend();
bool cpu_has_avx512();

TuningContext context(int threads = 2, SearchSpace space = SearchSpace::standard);

// Runs one choice and checks it in full against the reference.
::testing::AssertionResult matches_reference(const Problem&, const Choice&, const TuningContext&,
                                             std::uint64_t seed = 7);
// Runs every choice enumerate() offers (or a sample of every `stride`-th).
::testing::AssertionResult every_choice_matches(const Problem&, const TuningContext&, int stride = 1);
// Builds a choice by name (as the tuner does for a cached winner).
Choice choice_named(const std::string& name);

// A dense problem from a spec, validated.
Problem problem_of(const ProblemSpec&);
// Stretches a problem's strides: every operand and the output get gaps between
// rows and columns (a general, non row/column-major layout) when `general`,
// else only padded leading dimensions.
Problem with_padded_strides(Problem, bool general);

}  // namespace gemmtune::cpp_test
