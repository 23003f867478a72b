// Compiled with the CPP backend's AVX-512 flags (tests/backends/cpp/CMakeLists.txt).
#include "backends/cpp/kernels/simd_avx512.h"
#include "util/vector_math.h"
#include "vector_math_lanes.h"

namespace gemmtune::cpp_test {

using backends::cpp::kernels::Avx512;

void math_avx512(MathFn fn, const float* in, float* out, std::size_t n) {
  namespace vm = vector_math;
  for (std::size_t i = 0; i < n; i += Avx512::kWidth) {
    const int lanes = static_cast<int>(n - i < Avx512::kWidth ? n - i : Avx512::kWidth);
    const Avx512::F x = Avx512::load(in + i, lanes);
    Avx512::F y = x;
    switch (fn) {
      case MathFn::tanh: y = vm::vtanh<Avx512>(x); break;
      case MathFn::gelu_tanh: y = vm::vgelu_tanh<Avx512>(x); break;
      case MathFn::gelu_erf: y = vm::vgelu_erf<Avx512>(x); break;
      case MathFn::silu: y = vm::vsilu<Avx512>(x); break;
      case MathFn::exp: y = vm::vexp<Avx512>(x); break;
    }
    Avx512::store(out + i, y, lanes);
  }
}

}  // namespace gemmtune::cpp_test
