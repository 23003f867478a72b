// Compiled with AVX-512 flags (see CMakeLists.txt); peak.cpp calls these
// only after checking the CPU has the instruction set.
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstring>

#include "peak_kernels.h"

namespace gemmtune::bench {
namespace {

constexpr long kIterations = 20'000'000;

// 12 independent accumulators cover FMA latency x throughput on current cores.
template <typename Vec, typename Step>
double run_loop(int threads, double ops_per_step, Step step, Vec init) {
  auto start = std::chrono::steady_clock::now();
  volatile float sink = 0;
#pragma omp parallel num_threads(threads)
  {
    Vec acc[12];
    for (auto& a : acc) a = init;
    for (long i = 0; i < kIterations; ++i) {
      for (auto& a : acc) a = step(a);
    }
    // Read every accumulator so none of the chains can be optimized away.
    float lanes = 0;
    for (const auto& a : acc) {
      float lane;
      std::memcpy(&lane, &a, sizeof(float));
      lanes += lane;
    }
#pragma omp critical
    sink = sink + lanes;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ops_per_step * 12.0 * static_cast<double>(kIterations) * threads / seconds / 1e9;
}

}  // namespace

double f32_zmm(int threads) {
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-7f);
  return run_loop<__m512>(threads, 32, [&](__m512 a) { return _mm512_fmadd_ps(a, x, y); }, _mm512_set1_ps(1.0f));
}

double f32_ymm(int threads) {
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-7f);
  return run_loop<__m256>(threads, 16, [&](__m256 a) { return _mm256_fmadd_ps(a, x, y); }, _mm256_set1_ps(1.0f));
}

double bf16_dot(int threads) {
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3c00);
  // 32 bf16 products summed in pairs into 16 f32 lanes: 64 operations.
  return run_loop<__m512>(threads, 64, [&](__m512 a) { return _mm512_dpbf16_ps(a, x, y); }, _mm512_set1_ps(0.0f));
}

double int8_dot(int threads) {
  const __m512i x = _mm512_set1_epi8(1), y = _mm512_set1_epi8(1);
  // 64 u8*s8 products summed in fours into 16 int32 lanes: 128 operations.
  return run_loop<__m512i>(threads, 128, [&](__m512i a) { return _mm512_dpbusd_epi32(a, x, y); },
                           _mm512_setzero_si512());
}

}  // namespace gemmtune::bench
