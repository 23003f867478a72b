// A separate, vectorized bias + activation pass over a row-major f32 matrix
// (the "library matmul, then an elementwise op" baseline), using the same
// AVX-512 activation code as the CPP epilogue so only the fusion differs.
#pragma once

#include <cstdint>

namespace cpu_kernels_bench {

// act: 0 none, 1 relu, 2 gelu, 3 silu. Rows [row_begin, row_end).
void bias_act_pass_avx512(float* c, std::int64_t row_begin, std::int64_t row_end, std::int64_t n, std::int64_t ldc,
                          const float* bias, float beta, int act);

}  // namespace cpu_kernels_bench
