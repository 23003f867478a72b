// Compiled with the CPP backend's AVX2 flags (tests/backends/cpp/CMakeLists.txt).
#include "backends/cpp/kernels/simd_avx2.h"
#include "util/vector_math.h"
#include "vector_math_lanes.h"

namespace gemmtune::cpp_test {

using backends::cpp::kernels::Avx2;

void math_avx2(MathFn fn, const float* in, float* out, std::size_t n) {
  namespace vm = vector_math;
  for (std::size_t i = 0; i < n; i += Avx2::kWidth) {
    const int lanes = static_cast<int>(n - i < Avx2::kWidth ? n - i : Avx2::kWidth);
    const Avx2::F x = Avx2::load(in + i, lanes);
    Avx2::F y = x;
    switch (fn) {
      case MathFn::tanh: y = vm::vtanh<Avx2>(x); break;
      case MathFn::gelu_tanh: y = vm::vgelu_tanh<Avx2>(x); break;
      case MathFn::gelu_erf: y = vm::vgelu_erf<Avx2>(x); break;
      case MathFn::silu: y = vm::vsilu<Avx2>(x); break;
      case MathFn::exp: y = vm::vexp<Avx2>(x); break;
    }
    Avx2::store(out + i, y, lanes);
  }
}

}  // namespace gemmtune::cpp_test
