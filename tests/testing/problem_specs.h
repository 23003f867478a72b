// A dense ProblemSpec in one line, for tests.
#pragma once

#include <cstdint>
#include <string_view>

#include "gemmtune/problem.h"

namespace gemmtune::testing {

// layout: "nn", "nt", "tn" or "tt" (A then B; 't' = stored transposed, that
// is column-major). Batched ops get `batch` batches; others ignore it.
inline ProblemSpec spec(Op op, std::int64_t m, std::int64_t n, std::int64_t k, DType dtype = DType::f32,
                        std::string_view layout = "nn", std::int64_t batch = 1) {
  ProblemSpec s;
  s.op = op;
  s.m = m;
  s.n = n;
  s.k = k;
  s.dtype = dtype;
  s.transpose_a = layout.size() == 2 && layout[0] == 't';
  s.transpose_b = layout.size() == 2 && layout[1] == 't';
  s.batch = is_batched(op) ? batch : 1;
  return s;
}

}  // namespace gemmtune::testing
