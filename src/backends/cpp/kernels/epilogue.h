// The fused epilogue, applied to one row of a register tile while it is
// still in registers:  c = act(acc * scale + row_bias + beta * full_bias),
// rounded once to the output dtype. Templated on the vector type (Avx512,
// Avx2), so include it after simd_*.h in a kernel file; internal linkage on
// purpose (see simd_avx512.h).
#pragma once

#include <cstdint>
#include <cstring>

#include "backends/cpp/kernel_api.h"
#include "util/vector_math.h"

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

// --- the activations (their math: util/vector_math.h) ------------------------

template <class V>
GEMMTUNE_CPP_INLINE typename V::F activate(Activation act, typename V::F x) {
  switch (act) {
    case Activation::none: return x;
    // max returns its second operand when one is NaN: zero first keeps NaN.
    case Activation::relu: return V::max(V::zero(), x);
    case Activation::gelu: return vector_math::vgelu_erf<V>(x);
    case Activation::silu: return vector_math::vsilu<V>(x);
    case Activation::gelu_tanh: return vector_math::vgelu_tanh<V>(x);
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

// --- a finished tile -------------------------------------------------------------

// How the output is written: unit-stride f32 (also i32), bf16 or f16, or
// element by element for any other stride.
enum class OutKind { f32, bf16, f16, strided };

template <class V, OutKind kOut>
GEMMTUNE_CPP_INLINE void store_segment(const OutputArgs& o, std::int64_t index, typename V::F v, int n) {
  if constexpr (kOut == OutKind::f32) V::store(static_cast<float*>(o.c) + index, v, n);
  else if constexpr (kOut == OutKind::bf16) V::store_bf16(static_cast<std::uint16_t*>(o.c) + index, v, n);
  else if constexpr (kOut == OutKind::f16) V::store_f16(static_cast<std::uint16_t*>(o.c) + index, v, n);
  else store_row_segment<V>(o, index, v, n);
}

template <class V, Activation kAct>
GEMMTUNE_CPP_INLINE typename V::F activate_as(typename V::F x) {
  if constexpr (kAct == Activation::none) return x;
  else return activate<V>(kAct, x);
}

// Epilogue of `rows` rows of NV vectors (acc[i * NV + q]) at output (row0,
// col0), `cols` of them valid. Everything that depends only on the column
// (scale, row bias) is loaded once per tile.
template <class V, int NV, Activation kAct, OutKind kOut>
void finish_rows(const typename V::F* acc, int rows, const OutputArgs& o, std::int64_t row0, std::int64_t col0,
                 int cols) {
  constexpr int W = V::kWidth;
  using F = typename V::F;
  F scale[NV], shift[NV];
  int n[NV];
#pragma GCC unroll 8
  for (int q = 0; q < NV; ++q) {
    const int left = cols - q * W;
    n[q] = left < 0 ? 0 : left < W ? left : W;
    scale[q] = o.col_scale ? V::load(o.col_scale + col0 + q * W, n[q]) : V::set1(o.alpha);
    shift[q] = o.row_bias ? V::load(o.row_bias + col0 + q * W, n[q]) : V::zero();
  }
  const F beta = V::set1(o.beta);
  for (int i = 0; i < rows; ++i) {
    const std::int64_t row = row0 + i;
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q) {
      if (n[q] == 0) break;
      const std::int64_t col = col0 + q * W;
      F x = V::fmadd(acc[i * NV + q], scale[q], shift[q]);
      if (o.full_bias)
        x = V::fmadd(load_row_segment<V>(o.full_bias, o.full_bias_dtype, row * o.bias_rs + col * o.bias_cs,
                                         o.bias_cs, n[q]),
                     beta, x);
      x = activate_as<V, kAct>(x);
      store_segment<V, kOut>(o, row * o.c_rs + col * o.c_cs, x, n[q]);
    }
  }
}

template <class V, int NV, Activation kAct>
void finish_rows_for_output(const typename V::F* acc, int rows, const OutputArgs& o, std::int64_t row0,
                            std::int64_t col0, int cols) {
  if (o.c_cs != 1) return finish_rows<V, NV, kAct, OutKind::strided>(acc, rows, o, row0, col0, cols);
  switch (o.c_dtype) {
    case DType::bf16: return finish_rows<V, NV, kAct, OutKind::bf16>(acc, rows, o, row0, col0, cols);
    case DType::f16: return finish_rows<V, NV, kAct, OutKind::f16>(acc, rows, o, row0, col0, cols);
    default: return finish_rows<V, NV, kAct, OutKind::f32>(acc, rows, o, row0, col0, cols);
  }
}

// Applies the epilogue to a finished f32 tile and writes it. Dispatches once
// per tile on the activation and output kind; not inlined, so the tiles stay
// small and their K loops keep every register.
template <class V, int NV>
__attribute__((noinline)) void finish_tile(const typename V::F* acc, int rows, const OutputArgs& o,
                                           std::int64_t row0, std::int64_t col0, int cols) {
  switch (o.act) {
    case Activation::none: return finish_rows_for_output<V, NV, Activation::none>(acc, rows, o, row0, col0, cols);
    case Activation::relu: return finish_rows_for_output<V, NV, Activation::relu>(acc, rows, o, row0, col0, cols);
    case Activation::gelu: return finish_rows_for_output<V, NV, Activation::gelu>(acc, rows, o, row0, col0, cols);
    case Activation::silu: return finish_rows_for_output<V, NV, Activation::silu>(acc, rows, o, row0, col0, cols);
    case Activation::gelu_tanh:
      return finish_rows_for_output<V, NV, Activation::gelu_tanh>(acc, rows, o, row0, col0, cols);
  }
}

// int_mm: i32 accumulators, wrapped like the reference; only relu applies.
template <class V, int NV>
__attribute__((noinline)) void finish_tile_i32(const typename V::I* acc, int rows, const OutputArgs& o,
                                               std::int64_t row0, std::int64_t col0, int cols) {
  constexpr int W = V::kWidth;
  auto* c = static_cast<std::int32_t*>(o.c);
  const bool relu = o.act == Activation::relu;
  for (int i = 0; i < rows; ++i) {
    for (int q = 0; q < NV; ++q) {
      const int left = cols - q * W;
      if (left <= 0) break;
      const int n = left < W ? left : W;
      typename V::I x = relu ? V::irelu(acc[i * NV + q]) : acc[i * NV + q];
      const std::int64_t at = (row0 + i) * o.c_rs + (col0 + q * W) * o.c_cs;
      if (o.c_cs == 1) {
        V::istore(c + at, x, n);
      } else {
        alignas(64) std::int32_t tmp[W];
        V::istore(tmp, x, W);
        for (int j = 0; j < n; ++j) c[at + j * o.c_cs] = tmp[j];
      }
    }
  }
}

}  // namespace
}  // namespace gemmtune::backends::cpp::kernels
