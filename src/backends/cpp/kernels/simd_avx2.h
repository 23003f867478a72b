// AVX2 + FMA (+ F16C) vectors for the micro-kernels, epilogue and packers:
// 8 f32 or i32 lanes. The same interface as simd_avx512.h, so the templates
// in epilogue.h, packing.h and microkernel.h serve both. Include only from
// files compiled with -mavx2 -mfma -mf16c; internal linkage on purpose (see
// simd_avx512.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "backends/cpp/kernel_api.h"

#define GEMMTUNE_CPP_INLINE inline __attribute__((always_inline))

namespace gemmtune::backends::cpp::kernels {
namespace {

struct Avx2 {
  static constexpr Isa kIsa = Isa::avx2;
  static constexpr int kWidth = 8;
  static constexpr int kRegisters = 16;
  using F = __m256;
  using I = __m256i;

  // Lanes below n set (all ones), as maskload/maskstore want.
  static GEMMTUNE_CPP_INLINE I mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  // f32
  static GEMMTUNE_CPP_INLINE F zero() { return _mm256_setzero_ps(); }
  static GEMMTUNE_CPP_INLINE F set1(float x) { return _mm256_set1_ps(x); }
  static GEMMTUNE_CPP_INLINE F load(const float* p) { return _mm256_loadu_ps(p); }
  static GEMMTUNE_CPP_INLINE F load(const float* p, int n) {
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask(n));
  }
  static GEMMTUNE_CPP_INLINE F load_aligned(const float* p) { return _mm256_load_ps(p); }
  static GEMMTUNE_CPP_INLINE void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static GEMMTUNE_CPP_INLINE void store(float* p, F v, int n) {
    if (n >= 8) _mm256_storeu_ps(p, v);
    else if (n > 0) _mm256_maskstore_ps(p, mask(n), v);
  }
  static GEMMTUNE_CPP_INLINE F add(F a, F b) { return _mm256_add_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  // 1/a to about 2^-22 relative: the 12-bit estimate and one Newton step.
  static GEMMTUNE_CPP_INLINE F reciprocal(F a) {
    F r = _mm256_rcp_ps(a);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(2.0f)));
  }
  static GEMMTUNE_CPP_INLINE F max(F a, F b) { return _mm256_max_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F min(F a, F b) { return _mm256_min_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F bit_xor(F a, F b) { return _mm256_xor_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F abs(F a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static GEMMTUNE_CPP_INLINE F copy_sign(F magnitude, F sign) {
    const F sign_bit = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(sign_bit, magnitude), _mm256_and_ps(sign_bit, sign));
  }
  // a >= b ? x : y per lane (y where either is NaN).
  static GEMMTUNE_CPP_INLINE F select_ge(F a, F b, F x, F y) {
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GE_OQ));
  }
  static GEMMTUNE_CPP_INLINE F round_nearest(F a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static GEMMTUNE_CPP_INLINE F exp2_integral(F n) {
    I bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_castsi256_ps(bits);
  }

  // i32
  static GEMMTUNE_CPP_INLINE I iload(const std::int32_t* p, int n) {
    return n >= 8 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                  : _mm256_maskload_epi32(reinterpret_cast<const int*>(p), mask(n));
  }
  static GEMMTUNE_CPP_INLINE void istore(std::int32_t* p, I v, int n) {
    if (n >= 8) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
    else if (n > 0) _mm256_maskstore_epi32(reinterpret_cast<int*>(p), mask(n), v);
  }
  static GEMMTUNE_CPP_INLINE I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static GEMMTUNE_CPP_INLINE I irelu(I a) { return _mm256_max_epi32(a, _mm256_setzero_si256()); }

  // 16-bit floats. Partial vectors go through a small buffer: AVX2 has no
  // 16-bit masked loads or stores.
  static GEMMTUNE_CPP_INLINE __m128i load_u16(const std::uint16_t* p, int n) {
    if (n >= 8) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    alignas(16) std::uint16_t tmp[8] = {};
    for (int i = 0; i < n; ++i) tmp[i] = p[i];
    return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
  }
  static GEMMTUNE_CPP_INLINE void store_u16(std::uint16_t* p, __m128i v, int n) {
    if (n >= 8) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
      return;
    }
    alignas(16) std::uint16_t tmp[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), v);
    for (int i = 0; i < n; ++i) p[i] = tmp[i];
  }
  static GEMMTUNE_CPP_INLINE F load_bf16(const std::uint16_t* p, int n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load_u16(p, n)), 16));
  }
  static GEMMTUNE_CPP_INLINE F load_i8(const std::int8_t* p, int n) {
    alignas(16) std::int8_t tmp[16] = {};
    for (int i = 0; i < n && i < 8; ++i) tmp[i] = p[i];
    const __m128i bytes = n >= 8 ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))
                                 : _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
  }
  static GEMMTUNE_CPP_INLINE F load_f16(const std::uint16_t* p, int n) { return _mm256_cvtph_ps(load_u16(p, n)); }
  static GEMMTUNE_CPP_INLINE __m128i to_bf16(F v) {
    I u = _mm256_castps_si256(v);
    I lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    I rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    I quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    I nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    I halves = _mm256_blendv_epi8(rounded, quiet, nan);
    // Values fit 16 bits: pack without saturation effects, then fix lane order.
    __m128i lo = _mm256_castsi256_si128(halves), hi = _mm256_extracti128_si256(halves, 1);
    return _mm_packus_epi32(lo, hi);
  }
  static GEMMTUNE_CPP_INLINE void store_bf16(std::uint16_t* p, F v, int n) { store_u16(p, to_bf16(v), n); }
  static GEMMTUNE_CPP_INLINE void store_f16(std::uint16_t* p, F v, int n) {
    store_u16(p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), n);
  }

  // In-place transpose of an 8 x 8 block held in 8 registers.
  static GEMMTUNE_CPP_INLINE void transpose(F (&r)[8]) {
    F t[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    F s[8];
    for (int i = 0; i < 8; i += 4) {
      s[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {
      r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
      r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
  }
};

}  // namespace
}  // namespace gemmtune::backends::cpp::kernels
