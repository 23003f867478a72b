// Compiled with AVX-512 flags; the benchmark calls it only on AVX-512 CPUs.
#include "separate_pass.h"

#include <immintrin.h>

// simd_avx512.h first: epilogue.h builds on its definitions.
#include "backends/cpp/kernels/simd_avx512.h"
#include "backends/cpp/kernels/epilogue.h"

namespace cpu_kernels_bench {

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
