// util/vector_math.h's functions over arrays, once per instruction set: the
// AVX-512 and AVX2 versions live in files compiled with those flags and may
// only be called on a CPU that has them (cpu::info()).
#pragma once

#include <cstddef>

namespace gemmtune::cpp_test {

enum class MathFn { tanh, gelu_tanh, gelu_erf, silu, exp };

// out[i] = fn(in[i]) for i < n.
using MathLane = void (*)(MathFn fn, const float* in, float* out, std::size_t n);

void math_avx512(MathFn fn, const float* in, float* out, std::size_t n);
void math_avx2(MathFn fn, const float* in, float* out, std::size_t n);
void math_scalar(MathFn fn, const float* in, float* out, std::size_t n);

}  // namespace gemmtune::cpp_test
