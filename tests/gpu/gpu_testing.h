// Helpers of the GPU suites: problem builders and a skip that always says
// why (no driver, no device) when there is no GPU.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "gemmtune/problem.h"
#include "runtime/cuda/cuda_runtime.h"
#include "testing/problem_specs.h"

namespace gemmtune::gpu_testing {

inline cuda::CudaRuntime& device() { return cuda::cuda_device(0); }

// What the tuner hands a backend for a problem on cuda:0.
inline TuningContext context(SearchSpace space = SearchSpace::standard) {
  TuningContext ctx;
  ctx.search_space = space;
  ctx.device = &device();
  return ctx;
}

// Skips the test (printing the reason) unless cuda:0 is usable.
#define GEMMTUNE_REQUIRE_GPU()                                                             \
  do {                                                                                     \
    if (!::gemmtune::gpu_testing::device().availability().available)                       \
      GTEST_SKIP() << "no GPU: " << ::gemmtune::gpu_testing::device().availability().why; \
  } while (0)

struct Shape {
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
};

// A dense problem on cuda:0 from the few fields a case varies.
inline Problem gpu_problem(Op op, DType dtype, Shape shape, const char* layout = "nn") {
  ProblemSpec s = testing::spec(op, shape.m, shape.n, shape.k, dtype, layout, shape.batch);
  s.device = Device{DeviceKind::cuda, 0};
  return make_problem(s);
}

}  // namespace gemmtune::gpu_testing
