// The fused epilogue, applied to one row of a register tile while it is
// still in registers:  c = act(acc * scale + row_bias + beta * full_bias),
// rounded once to the output dtype. Templated on the vector type (Avx512,
// Avx2), so include it after simd_*.h in a kernel file; internal linkage on
// purpose (see simd_avx512.h).
#pragma once

#include <cstdint>
#include <cstring>

#include "backends/cpp/kernel_api.h"

namespace gemmtune::backends::cpp::kernels {
namespace {

// --- scalar conversions for strided outputs and biases ----------------------
// (local copies of util/numeric.h's rules: inline functions shared with code
// compiled for the baseline must not be compiled here with wider ISA flags)

GEMMTUNE_CPP_INLINE float bf16_bits_to_float(std::uint16_t h) {
  std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

GEMMTUNE_CPP_INLINE std::uint16_t float_to_bf16_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

GEMMTUNE_CPP_INLINE float f16_bits_to_float(std::uint16_t h) { return _cvtsh_ss(h); }
GEMMTUNE_CPP_INLINE std::uint16_t float_to_f16_bits(float f) {
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

GEMMTUNE_CPP_INLINE float load_scalar(const void* p, DType dtype, std::int64_t index) {
  switch (dtype) {
    case DType::bf16: return bf16_bits_to_float(static_cast<const std::uint16_t*>(p)[index]);
    case DType::f16: return f16_bits_to_float(static_cast<const std::uint16_t*>(p)[index]);
    default: return static_cast<const float*>(p)[index];
  }
}

// --- vector math for the activations -----------------------------------------

// e^x, relative error about 1e-7 over the f32 range; inputs are clamped so
// that the result stays finite and normal.
template <class V>
GEMMTUNE_CPP_INLINE typename V::F vexp(typename V::F x) {
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

// erfc(x) with relative error below about 2e-7 for every x: the Chebyshev
// fit t * exp(-z^2 + P(t)), t = 1 / (1 + z/2), for z = |x| (Numerical
// Recipes' erfcc), reflected as 2 - erfc(|x|) for negative x.
template <class V>
GEMMTUNE_CPP_INLINE typename V::F verfc(typename V::F x) {
  using F = typename V::F;
  F z = V::abs(x);
  F t = V::div(V::set1(1.0f), V::fmadd(V::set1(0.5f), z, V::set1(1.0f)));
  F p = V::set1(0.17087277f);
  p = V::fmadd(p, t, V::set1(-0.82215223f));
  p = V::fmadd(p, t, V::set1(1.48851587f));
  p = V::fmadd(p, t, V::set1(-1.13520398f));
  p = V::fmadd(p, t, V::set1(0.27886807f));
  p = V::fmadd(p, t, V::set1(-0.18628806f));
  p = V::fmadd(p, t, V::set1(0.09678418f));
  p = V::fmadd(p, t, V::set1(0.37409196f));
  p = V::fmadd(p, t, V::set1(1.00002368f));
  p = V::fmadd(p, t, V::set1(-1.26551223f));
  F e = V::mul(t, vexp<V>(V::sub(p, V::mul(z, z))));
  return V::select_negative(x, V::sub(V::set1(2.0f), e), e);
}

template <class V>
GEMMTUNE_CPP_INLINE typename V::F activate(Activation act, typename V::F x) {
  switch (act) {
    case Activation::none: return x;
    case Activation::relu: return V::max(x, V::zero());
    case Activation::gelu:
      // 0.5 x (1 + erf(x/sqrt2)) == 0.5 x erfc(-x/sqrt2): no cancellation for negative x.
      return V::mul(V::mul(V::set1(0.5f), x), verfc<V>(V::mul(x, V::set1(-0.70710678118654752f))));
    case Activation::silu: return V::div(x, V::add(V::set1(1.0f), vexp<V>(V::sub(V::zero(), x))));
  }
  return x;
}

// --- loads and stores of one row segment ---------------------------------------

// `n` elements (<= width) of a matrix row starting at element `index`, as f32.
template <class V>
GEMMTUNE_CPP_INLINE typename V::F load_row_segment(const void* base, DType dtype, std::int64_t index,
                                                  std::int64_t col_stride, int n) {
  if (col_stride == 1) {
    switch (dtype) {
      case DType::bf16: return V::load_bf16(static_cast<const std::uint16_t*>(base) + index, n);
      case DType::f16: return V::load_f16(static_cast<const std::uint16_t*>(base) + index, n);
      default: return V::load(static_cast<const float*>(base) + index, n);
    }
  }
  alignas(64) float tmp[V::kWidth] = {};
  for (int j = 0; j < n; ++j) tmp[j] = load_scalar(base, dtype, index + j * col_stride);
  return V::load(tmp);
}

template <class V>
GEMMTUNE_CPP_INLINE void store_row_segment(const OutputArgs& o, std::int64_t index, typename V::F v, int n) {
  if (o.c_cs == 1) {
    switch (o.c_dtype) {
      case DType::bf16: V::store_bf16(static_cast<std::uint16_t*>(o.c) + index, v, n); return;
      case DType::f16: V::store_f16(static_cast<std::uint16_t*>(o.c) + index, v, n); return;
      default: V::store(static_cast<float*>(o.c) + index, v, n); return;
    }
  }
  alignas(64) float tmp[V::kWidth];
  V::store(tmp, v);
  for (int j = 0; j < n; ++j) {
    const std::int64_t at = index + j * o.c_cs;
    switch (o.c_dtype) {
      case DType::bf16: static_cast<std::uint16_t*>(o.c)[at] = float_to_bf16_bits(tmp[j]); break;
      case DType::f16: static_cast<std::uint16_t*>(o.c)[at] = float_to_f16_bits(tmp[j]); break;
      default: static_cast<float*>(o.c)[at] = tmp[j]; break;
    }
  }
}

// --- one row of a finished tile ------------------------------------------------

// Applies the epilogue to row `row` of the output, columns col0 .. col0+cols,
// held in NV vectors, and writes it. Not inlined: one call per tile row costs
// little next to the tile's K loop and keeps the kernels small.
template <class V, int NV>
__attribute__((noinline)) void finish_row(typename V::F (&v)[NV], const OutputArgs& o, std::int64_t row,
                                    std::int64_t col0, int cols) {
  constexpr int W = V::kWidth;
  for (int q = 0; q < NV; ++q) {
    const int left = cols - q * W;
    if (left <= 0) break;
    const int n = left < W ? left : W;
    const std::int64_t col = col0 + q * W;
    typename V::F x = v[q];
    x = o.col_scale ? V::mul(x, V::load(o.col_scale + col, n)) : V::mul(x, V::set1(o.alpha));
    if (o.row_bias) x = V::add(x, V::load(o.row_bias + col, n));
    if (o.full_bias) {
      typename V::F bias =
          load_row_segment<V>(o.full_bias, o.full_bias_dtype, row * o.bias_rs + col * o.bias_cs, o.bias_cs, n);
      x = V::fmadd(bias, V::set1(o.beta), x);
    }
    x = activate<V>(o.act, x);
    store_row_segment<V>(o, row * o.c_rs + col * o.c_cs, x, n);
  }
}

// int_mm: i32 accumulators, wrapped like the reference; only relu applies.
template <class V, int NV>
__attribute__((noinline)) void finish_row_i32(typename V::I (&v)[NV], const OutputArgs& o, std::int64_t row,
                                        std::int64_t col0, int cols) {
  constexpr int W = V::kWidth;
  auto* c = static_cast<std::int32_t*>(o.c);
  for (int q = 0; q < NV; ++q) {
    const int left = cols - q * W;
    if (left <= 0) break;
    const int n = left < W ? left : W;
    typename V::I x = o.act == Activation::relu ? V::irelu(v[q]) : v[q];
    const std::int64_t at = row * o.c_rs + (col0 + q * W) * o.c_cs;
    if (o.c_cs == 1) {
      V::istore(c + at, x, n);
    } else {
      alignas(64) std::int32_t tmp[W];
      V::istore(tmp, x, W);
      for (int j = 0; j < n; ++j) c[at + j * o.c_cs] = tmp[j];
    }
  }
}

}  // namespace
}  // namespace gemmtune::backends::cpp::kernels
