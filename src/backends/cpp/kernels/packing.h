// Packing: copies a block of A (lanes = rows) or B (lanes = columns) into
// panels of W lanes in the order the micro-kernel reads them, converting the
// dtype and interleaving K in groups of G on the way (see PackFn in
// kernel_api.h for the layout). Transposes happen here, so the micro-kernel
// never sees a stride.
//
// Fast paths: lanes contiguous (copy, or interleave G rows), depth contiguous
// with the packed dtype equal to the source (register transposes of 32-bit
// words: one f32, two bf16 or four int8). Everything else, including dtype
// conversions and odd strides, takes the generic element-by-element path.
// Internal linkage on purpose (see simd_avx512.h).
#pragma once

#include <cstdint>

#include "backends/cpp/kernel_api.h"
#include "backends/cpp/kernels/epilogue.h"

namespace gemmtune::backends::cpp::kernels {
namespace {

GEMMTUNE_CPP_INLINE std::size_t dtype_bytes(DType t) {
  return t == DType::f32 || t == DType::i32 ? 4 : t == DType::f16 || t == DType::bf16 ? 2 : t == DType::f64 ? 8 : 1;
}

GEMMTUNE_CPP_INLINE std::int64_t min64(std::int64_t a, std::int64_t b) { return a < b ? a : b; }

// How a packed element is made from a source element.
enum class Convert {
  to_f32,         // f32, f16, bf16, i8, u8 -> f32
  to_bf16,        // bf16 (copy) or i8 (exact) -> bf16 bits
  to_u8,          // u8 (copy)
  to_u8_shifted,  // i8 + 128 -> u8 (s8s8 A)
  to_s8,          // i8 (copy)
};

template <Convert kConvert>
struct PackedType;
template <> struct PackedType<Convert::to_f32> { using type = float; };
template <> struct PackedType<Convert::to_bf16> { using type = std::uint16_t; };
template <> struct PackedType<Convert::to_u8> { using type = std::uint8_t; };
template <> struct PackedType<Convert::to_u8_shifted> { using type = std::uint8_t; };
template <> struct PackedType<Convert::to_s8> { using type = std::int8_t; };

template <Convert kConvert>
GEMMTUNE_CPP_INLINE typename PackedType<kConvert>::type convert_element(const void* base, DType dtype,
                                                                        std::int64_t index) {
  if constexpr (kConvert == Convert::to_f32) {
    switch (dtype) {
      case DType::f16: return f16_bits_to_float(static_cast<const std::uint16_t*>(base)[index]);
      case DType::bf16: return bf16_bits_to_float(static_cast<const std::uint16_t*>(base)[index]);
      case DType::i8: return static_cast<float>(static_cast<const std::int8_t*>(base)[index]);
      case DType::u8: return static_cast<float>(static_cast<const std::uint8_t*>(base)[index]);
      default: return static_cast<const float*>(base)[index];
    }
  } else if constexpr (kConvert == Convert::to_bf16) {
    if (dtype == DType::i8)  // |v| <= 128 has at most 8 significant bits: exact in bf16
      return float_to_bf16_bits(static_cast<float>(static_cast<const std::int8_t*>(base)[index]));
    return static_cast<const std::uint16_t*>(base)[index];
  } else if constexpr (kConvert == Convert::to_u8_shifted) {
    return static_cast<std::uint8_t>(static_cast<const std::uint8_t*>(base)[index] ^ 0x80u);
  } else {
    return static_cast<const typename PackedType<kConvert>::type*>(base)[index];
  }
}

// Element by element: any dtype conversion, any strides.
template <int W, int G, Convert kConvert>
void pack_generic(const PanelSource& s, std::int64_t lanes, std::int64_t depth, void* dst_bytes) {
  using Out = typename PackedType<kConvert>::type;
  auto* dst = static_cast<Out*>(dst_bytes);
  const std::int64_t groups = (depth + G - 1) / G;
  for (std::int64_t p0 = 0; p0 < lanes; p0 += W) {
    const int lw = static_cast<int>(min64(W, lanes - p0));
    Out* out = dst + (p0 / W) * groups * W * G;
    for (std::int64_t g = 0; g < groups; ++g) {
      for (int l = 0; l < W; ++l) {
        for (int e = 0; e < G; ++e) {
          const std::int64_t k = g * G + e;
          out[(g * W + l) * G + e] = (l < lw && k < depth)
                                         ? convert_element<kConvert>(s.data, s.dtype,
                                                                     (p0 + l) * s.lane_stride + k * s.depth_stride)
                                         : Out(0);
        }
      }
    }
  }
}

// Contiguous lanes (A column-major, B row-major) into f32 panels: each K
// step converts and copies the panel's lanes as whole vectors.
template <class V, int W>
void pack_f32_lanes_contiguous(const PanelSource& s, std::int64_t lanes, std::int64_t depth, void* dst_bytes) {
  constexpr int VW = V::kWidth;
  auto* dst = static_cast<float*>(dst_bytes);
  const std::int64_t elem = static_cast<std::int64_t>(dtype_bytes(s.dtype));
  const auto* src = static_cast<const char*>(s.data);
  for (std::int64_t p0 = 0; p0 < lanes; p0 += W) {
    const int lw = static_cast<int>(min64(W, lanes - p0));
    float* out = dst + (p0 / W) * depth * W;
    const char* in = src + p0 * elem;
    for (std::int64_t k = 0; k < depth; ++k) {
      for (int l = 0; l < W; l += VW) {
        const int n_in = lw - l, n_out = W - l;
        typename V::F x = V::zero();
        if (n_in > 0) {
          const char* at = in + l * elem;
          switch (s.dtype) {
            case DType::f32: x = n_in >= VW ? V::load(reinterpret_cast<const float*>(at))
                                            : V::load(reinterpret_cast<const float*>(at), n_in); break;
            case DType::bf16: x = V::load_bf16(reinterpret_cast<const std::uint16_t*>(at), n_in); break;
            case DType::f16: x = V::load_f16(reinterpret_cast<const std::uint16_t*>(at), n_in); break;
            default: x = V::load_i8(reinterpret_cast<const std::int8_t*>(at), n_in); break;
          }
        }
        if (n_out >= VW) V::store(out + l, x);
        else V::store(out + l, x, n_out);
      }
      in += s.depth_stride * elem;
      out += W;
    }
  }
}

// 32-bit words with contiguous depth (A row-major, B column-major): blocks of
// VW lanes x VW words are transposed in registers. A word is one f32, a pair
// of bf16 or a quad of int8, so this serves every arithmetic whose packed
// dtype equals the source's; `flip` is XORed into every word (0x80808080
// turns s8 into u8 + 128). Packs `words` whole words per lane into panels of
// `panel_words` words per lane (the caller fills a remainder group).
template <class V, int W>
void pack_words_depth_contiguous(const char* src, std::int64_t lane_stride_bytes, std::int64_t lanes,
                                 std::int64_t words, std::uint32_t* dst, std::int64_t panel_words,
                                 std::uint32_t flip) {
  constexpr int VW = V::kWidth;
  const typename V::F flip_v = V::set1(__builtin_bit_cast(float, flip));
  for (std::int64_t p0 = 0; p0 < lanes; p0 += W) {
    const int lw = static_cast<int>(min64(W, lanes - p0));
    std::uint32_t* out = dst + (p0 / W) * panel_words * W;
    for (int l0 = 0; l0 < W; l0 += VW) {
      const int n_store = W - l0 < VW ? W - l0 : VW;
      for (std::int64_t k0 = 0; k0 < words; k0 += VW) {
        const int kw = static_cast<int>(min64(VW, words - k0));
        typename V::F r[VW];
        for (int i = 0; i < VW; ++i) {
          const int lane = l0 + i;
          if (lane < lw) {
            const auto* row = reinterpret_cast<const float*>(src + (p0 + lane) * lane_stride_bytes) + k0;
            r[i] = kw == VW ? V::load(row) : V::load(row, kw);
            if (flip) r[i] = V::bit_xor(r[i], flip_v);
          } else {
            r[i] = V::zero();
          }
        }
        V::transpose(r);
        for (int k = 0; k < kw; ++k) {
          float* o = reinterpret_cast<float*>(out + (k0 + k) * W + l0);
          if (n_store == VW) V::store(o, r[k]);
          else V::store(o, r[k], n_store);
        }
      }
    }
  }
}

// Depth-contiguous source whose packed dtype equals its own: whole groups
// through the register transpose, a last partial group element by element.
template <class V, int W, int G, Convert kConvert>
void pack_depth_contiguous(const PanelSource& s, std::int64_t lanes, std::int64_t depth, void* dst,
                           std::uint32_t flip) {
  using Out = typename PackedType<kConvert>::type;
  static_assert(sizeof(Out) * G == 4, "a group must fill one 32-bit word");
  const std::int64_t full = depth / G, groups = (depth + G - 1) / G;
  const auto* src = static_cast<const char*>(s.data);
  pack_words_depth_contiguous<V, W>(src, s.lane_stride * static_cast<std::int64_t>(sizeof(Out)), lanes, full,
                                    static_cast<std::uint32_t*>(dst), groups, flip);
  if (full == groups) return;
  auto* out = static_cast<Out*>(dst);
  for (std::int64_t p0 = 0; p0 < lanes; p0 += W) {
    const int lw = static_cast<int>(min64(W, lanes - p0));
    Out* panel = out + (p0 / W) * groups * W * G + full * W * G;
    for (int l = 0; l < W; ++l)
      for (int e = 0; e < G; ++e) {
        const std::int64_t k = full * G + e;
        panel[l * G + e] = (l < lw && k < depth)
                               ? convert_element<kConvert>(s.data, s.dtype, (p0 + l) * s.lane_stride + k)
                               : Out(0);
      }
  }
}

// -128 * column sums of packed s8 B panels (s8s8 compensation), W per panel.
template <int W>
void column_compensation(const std::int8_t* packed, std::int64_t lanes, std::int64_t depth, std::int32_t* comp) {
  const std::int64_t groups = (depth + 3) / 4;
  for (std::int64_t p0 = 0; p0 < lanes; p0 += W) {
    const std::int8_t* panel = packed + (p0 / W) * groups * W * 4;
    std::int32_t sums[W] = {};
    for (std::int64_t g = 0; g < groups; ++g)
      for (int l = 0; l < W; ++l)
        for (int e = 0; e < 4; ++e) sums[l] += panel[(g * W + l) * 4 + e];
    for (int l = 0; l < W; ++l) comp[p0 + l] = -128 * sums[l];
  }
}

// Packs for the f32 arithmetic (f32 sources; f16, bf16 and int8 converted).
template <class V, int W>
void pack_f32(const PanelSource& s, std::int64_t lanes, std::int64_t depth, void* dst, std::int32_t*) {
  const bool convertible = s.dtype == DType::f32 || s.dtype == DType::f16 || s.dtype == DType::bf16 ||
                           s.dtype == DType::i8;
  if (convertible && (s.lane_stride == 1 || lanes == 1))
    return pack_f32_lanes_contiguous<V, W>(s, lanes, depth, dst);
  if (s.dtype == DType::f32 && (s.depth_stride == 1 || depth == 1)) {
    PanelSource unit = s;
    unit.depth_stride = 1;
    return pack_depth_contiguous<V, W, 1, Convert::to_f32>(unit, lanes, depth, dst, 0);
  }
  pack_generic<W, 1, Convert::to_f32>(s, lanes, depth, dst);
}

}  // namespace
}  // namespace gemmtune::backends::cpp::kernels
