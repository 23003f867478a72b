// FMA-bound loops that measure the machine's arithmetic peak: independent
// accumulator chains, no memory traffic. Each returns a value that depends on
// every iteration so nothing is optimized away.
#pragma once

#include <cstdint>

namespace cpu_kernels_bench {

// Operations (2 per multiply-add) per iteration of each loop.
inline constexpr double kF32OpsPerIter = 12 * 16 * 2;    // 12 zmm FMAs
inline constexpr double kAvx2OpsPerIter = 12 * 8 * 2;    // 12 ymm FMAs
inline constexpr double kBf16OpsPerIter = 12 * 32 * 2;   // 12 vdpbf16ps
inline constexpr double kInt8OpsPerIter = 12 * 64 * 2;   // 12 vpdpbusd

double loop_f32_avx512(std::int64_t iters);
double loop_f32_avx2(std::int64_t iters);
double loop_bf16_avx512(std::int64_t iters);
double loop_int8_vnni(std::int64_t iters);

// A separate, vectorized bias + activation pass over a row-major f32 matrix
// (the "library matmul, then an elementwise op" baseline), using the same
// AVX-512 activation code as the CPP epilogue so only the fusion differs.
// act: 0 none, 1 relu, 2 gelu, 3 silu. Rows [row_begin, row_end).
void bias_act_pass_avx512(float* c, std::int64_t row_begin, std::int64_t row_end, std::int64_t n, std::int64_t ldc,
                          const float* bias, float beta, int act);

}  // namespace cpu_kernels_bench
