// FMA-bound loops that measure the machine's arithmetic peak: independent
// accumulator chains, no memory traffic. Each returns a value that depends on
// every iteration so nothing is optimized away.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gemmtune::bench {

// Operations (2 per multiply-add) per iteration of each loop.
inline constexpr double kF32OpsPerIter = 12 * 16 * 2;    // 12 zmm FMAs
inline constexpr double kAvx2OpsPerIter = 12 * 8 * 2;    // 12 ymm FMAs
inline constexpr double kBf16OpsPerIter = 12 * 32 * 2;   // 12 vdpbf16ps
inline constexpr double kInt8OpsPerIter = 12 * 64 * 2;   // 12 vpdpbusd

double loop_f32_avx512(std::int64_t iters);
double loop_f32_avx2(std::int64_t iters);
double loop_bf16_avx512(std::int64_t iters);
double loop_int8_vnni(std::int64_t iters);

// GFLOP/s (GOP/s for int8) of `loop` run on `threads` threads at once.
double peak_gops(double (*loop)(std::int64_t), double ops_per_iter, int threads);

struct PeakResult {
  std::string name;  // "f32 fma zmm (AVX-512)", "bf16 vdpbf16ps", "int8 vpdpbusd"
  int threads = 1;
  double gflops = 0;
};

// Every loop this CPU supports, on 1 thread and on `threads`.
std::vector<PeakResult> measure_peaks(int threads);

}  // namespace gemmtune::bench
