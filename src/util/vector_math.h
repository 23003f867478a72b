// Branch-free f32 approximations of exp, erf and tanh and the activations
// built on them, templated on a vector type V so that the CPP backend's
// AVX-512 and AVX2 tiles and the BLAS backend's gelu_tanh pass (ScalarF32
// below, which the compiler vectorizes) share one definition of each fit.
//
// V provides: F, set1, add, sub, mul, fmadd, min, max, reciprocal,
// round_nearest, exp2_integral, abs, copy_sign(magnitude, sign) and
// select_ge(a, b, x, y) = a >= b ? x : y lane by lane. min/max follow the SSE
// rule (the second operand when either is NaN).
//
// Internal linkage on purpose: each includer compiles these for its own
// instruction set, and the linker must never merge an AVX-512 instantiation
// into baseline code (see simd_avx512.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

// Inlined into the tiles' epilogues whatever the compiler's estimate.
#define GEMMTUNE_VECTOR_MATH_INLINE inline __attribute__((always_inline))

namespace gemmtune::vector_math {
namespace {

// e^x, relative error about 1e-7 over the f32 range; inputs are clamped so
// that the result stays finite and normal. (silu, tanh)
template <class V>
GEMMTUNE_VECTOR_MATH_INLINE typename V::F vexp(typename V::F x) {
  using F = typename V::F;
  x = V::min(V::max(x, V::set1(-87.3f)), V::set1(88.3f));
  F n = V::round_nearest(V::mul(x, V::set1(1.44269504088896341f)));
  // r = x - n ln2 in two steps (ln2 split so that n * hi is exact).
  F r = V::fmadd(n, V::set1(-0.693145751953125f), x);
  r = V::fmadd(n, V::set1(-1.428606765330187e-06f), r);
  // Taylor series to r^7: |r| <= ln2/2 keeps the truncation below 1e-8.
  F p = V::set1(1.0f / 5040);
  p = V::fmadd(p, r, V::set1(1.0f / 720));
  p = V::fmadd(p, r, V::set1(1.0f / 120));
  p = V::fmadd(p, r, V::set1(1.0f / 24));
  p = V::fmadd(p, r, V::set1(1.0f / 6));
  p = V::fmadd(p, r, V::set1(0.5f));
  p = V::fmadd(p, r, V::set1(1.0f));
  p = V::fmadd(p, r, V::set1(1.0f));
  return V::mul(p, V::exp2_integral(n));
}

// erf(x) as x * P(x^2) / Q(x^2) on |x| <= 3.92 and +-1 beyond (where erf
// is 1 to f32 precision). Rational fit made for this file (weighted least
// squares towards minimax, absolute error 4e-8 in exact arithmetic, below
// 4e-7 evaluated in f32); no exp and no division, about half the cost of
// the usual exp-based forms. For gelu the absolute error is what counts:
// 0.5 x erf error <= 2e-7 |x|, far inside the f32 tolerance of |x|.
template <class V>
GEMMTUNE_VECTOR_MATH_INLINE typename V::F verf(typename V::F x) {
  using F = typename V::F;
  x = V::min(V::max(x, V::set1(-3.92f)), V::set1(3.92f));
  const F u = V::mul(x, x);
  F p = V::set1(1.9921442403103555e-8f);
  p = V::fmadd(p, u, V::set1(-1.9942844665042699e-6f));
  p = V::fmadd(p, u, V::set1(1.4898362485726677e-4f));
  p = V::fmadd(p, u, V::set1(3.9727690451960549e-3f));
  p = V::fmadd(p, u, V::set1(5.1396895156292972e-2f));
  p = V::fmadd(p, u, V::set1(2.0611138314107856e-1f));
  p = V::fmadd(p, u, V::set1(1.1283787776156576f));
  F q = V::set1(1.0240934475255219e-3f);
  q = V::fmadd(q, u, V::set1(1.4888970737077383e-2f));
  q = V::fmadd(q, u, V::set1(1.1756337694086912e-1f));
  q = V::fmadd(q, u, V::set1(5.1599022410546311e-1f));
  q = V::fmadd(q, u, V::set1(1.0f));  // Q >= 1: the reciprocal is safe
  return V::mul(V::mul(x, p), V::reciprocal(q));
}

// tanh(x) within 1.5 ulps (measured over every binade, subnormal to
// saturated, in tests/backends/cpp/vector_math_test.cpp: 1.24 with
// AVX-512's reciprocal, 1.41 with AVX2's 12-bit estimate plus a Newton
// step, 1.06 with a division):
//   |x| <  0.75: x + x^3 P(x^2), P a degree-5 fit of (tanh(x) - x) / x^3
//                made for this file (Lawson-weighted least squares,
//                |error| 1.1e-8 in exact arithmetic), so tiny and subnormal
//                x come back unchanged;
//   |x| >= 0.75: 1 - 2 / (e^(2|x|) + 1), which keeps the few bits below 1
//                where tanh saturates (a rational fit over the whole range
//                loses them: 5-6 ulp near 1), |x| clamped at 9.1, past
//                which tanh is 1 in f32; the sign restored last.
// NaN stays NaN (it takes the first branch); +-inf gives +-1.
template <class V>
GEMMTUNE_VECTOR_MATH_INLINE typename V::F vtanh(typename V::F x) {
  using F = typename V::F;
  const F a = V::abs(x);
  const F t = V::mul(a, a);
  F p = V::set1(1.9195755898037396e-3f);
  p = V::fmadd(p, t, V::set1(-7.9480094204811738e-3f));
  p = V::fmadd(p, t, V::set1(2.1622332171723994e-2f));
  p = V::fmadd(p, t, V::set1(-5.3937268815550093e-2f));
  p = V::fmadd(p, t, V::set1(1.3333189650358438e-1f));
  p = V::fmadd(p, t, V::set1(-3.3333332250153217e-1f));
  const F small = V::fmadd(V::mul(a, t), p, a);
  const F clamped = V::min(a, V::set1(9.1f));
  const F e = vexp<V>(V::add(clamped, clamped));
  const F large = V::sub(V::set1(1.0f), V::mul(V::set1(2.0f), V::reciprocal(V::add(e, V::set1(1.0f)))));
  return V::copy_sign(V::select_ge(a, V::set1(0.75f), large, small), x);
}

// PyTorch's gelu(x, approximate="tanh"):
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class V>
GEMMTUNE_VECTOR_MATH_INLINE typename V::F vgelu_tanh(typename V::F x) {
  using F = typename V::F;
  const F inner = V::mul(x, V::fmadd(V::mul(x, x), V::set1(0.0356774081363001f), V::set1(0.7978845608028654f)));
  const F half_x = V::mul(V::set1(0.5f), x);
  return V::fmadd(half_x, vtanh<V>(inner), half_x);
}

// gelu with the exact erf: 0.5 x (1 + erf(x / sqrt(2))).
template <class V>
GEMMTUNE_VECTOR_MATH_INLINE typename V::F vgelu_erf(typename V::F x) {
  const typename V::F half_x = V::mul(V::set1(0.5f), x);
  return V::fmadd(half_x, verf<V>(V::mul(x, V::set1(0.70710678118654752f))), half_x);
}

// silu(x) = x / (1 + e^-x). vexp clamps its input, so for x = -Inf the
// product alone is -Inf, not the NaN of the formula (the reference's and
// PyTorch's). min(x, 0) - min(x, 0) is NaN exactly there and 0 elsewhere
// (min returns 0 for a NaN x, which the product keeps).
template <class V>
GEMMTUNE_VECTOR_MATH_INLINE typename V::F vsilu(typename V::F x) {
  const typename V::F low = V::min(x, V::set1(0.0f));
  const typename V::F silu = V::mul(x, V::reciprocal(V::add(V::set1(1.0f), vexp<V>(V::sub(V::set1(0.0f), x)))));
  return V::add(silu, V::sub(low, low));
}

// One lane, for loops that the compiler vectorizes for whatever instruction
// set the file is built for: every operation is one that maps onto a vector
// instruction (no library calls, no branches; GCC also needs
// -fno-trapping-math to turn the comparisons into blends). The BLAS
// backend's gelu_tanh pass uses it. Not vsilu: GCC folds its clamped branch
// into a product with a subnormal constant that every lane computes, and
// subnormal arithmetic made it 6x slower than glibc's expf.
struct ScalarF32 {
  using F = float;
  static F set1(float x) { return x; }
  static F add(F a, F b) { return a + b; }
  static F sub(F a, F b) { return a - b; }
  static F mul(F a, F b) { return a * b; }
  static F fmadd(F a, F b, F c) { return a * b + c; }
  static F min(F a, F b) { return a < b ? a : b; }
  static F max(F a, F b) { return a > b ? a : b; }
  static F reciprocal(F a) { return 1.0f / a; }
  // Adding and removing 1.5 * 2^23 rounds to nearest (ties to even) for
  // |a| < 2^22 (exp's arguments stay below 128); it relies on the default
  // rounding mode and on no -ffast-math reassociation. std::nearbyint would
  // be a library call on baseline x86-64 and stop the vectorizer.
  static F round_nearest(F a) { return (a + 12582912.0f) - 12582912.0f; }
  static F exp2_integral(F n) {
    const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
    F out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
  }
  static F abs(F a) { return std::fabs(a); }
  static F copy_sign(F magnitude, F sign) { return std::copysign(magnitude, sign); }
  static F select_ge(F a, F b, F x, F y) { return a >= b ? x : y; }
};

}  // namespace
}  // namespace gemmtune::vector_math
