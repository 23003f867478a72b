#include "peak_loops.h"

#include <immintrin.h>

#include "backends/cpp/kernels/simd_avx512.h"
#include "backends/cpp/kernels/epilogue.h"

namespace cpu_kernels_bench {

// 12 chains: more than FMA latency x issue width on current x86 cores.
double loop_f32_avx512(std::int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(a, acc[i], b);
    __asm__ volatile("" : "+v"(a));
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

double loop_f32_avx2(std::int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(a, acc[i], b);
    __asm__ volatile("" : "+x"(a));
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

double loop_bf16_avx512(std::int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);
  for (std::int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    __asm__ volatile("" : "+v"(a));
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

double loop_int8_vnni(std::int64_t iters) {
  __m512i acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_epi32(i);
  __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  for (std::int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    __asm__ volatile("" : "+v"(a));
  }
  __m512i s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_epi32(s, acc[i]);
  return _mm512_reduce_add_epi32(s);
}

void bias_act_pass_avx512(float* c, std::int64_t row_begin, std::int64_t row_end, std::int64_t n, std::int64_t ldc,
                          const float* bias, float beta, int act) {
  using gemmtune::backends::cpp::kernels::Avx512;
  const auto activation = static_cast<gemmtune::Activation>(act);
  const __m512 b = _mm512_set1_ps(beta);
  for (std::int64_t i = row_begin; i < row_end; ++i) {
    float* row = c + i * ldc;
    for (std::int64_t j = 0; j < n; j += 16) {
      const int len = static_cast<int>(n - j < 16 ? n - j : 16);
      __m512 x = _mm512_fmadd_ps(Avx512::load(bias + j, len), b, Avx512::load(row + j, len));
      x = gemmtune::backends::cpp::kernels::activate<Avx512>(activation, x);
      Avx512::store(row + j, x, len);
    }
  }
}

}  // namespace cpu_kernels_bench
