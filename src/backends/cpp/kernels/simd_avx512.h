// AVX-512 vectors for the micro-kernels, epilogue and packers: 16 f32 or i32
// lanes, masks for partial vectors. Include only from files compiled with the
// AVX-512 flags (see kernels/README in CMakeLists.txt).
//
// Everything here has internal linkage (anonymous namespace) on purpose: each
// kernel file gets its own copy compiled with its own flags, so the linker can
// never merge an AVX-512 copy into code that runs on a CPU without it.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "backends/cpp/kernel_api.h"

#define GEMMTUNE_CPP_INLINE inline __attribute__((always_inline))

namespace gemmtune::backends::cpp::kernels {
namespace {

struct Avx512 {
  static constexpr Isa kIsa = Isa::avx512;
  static constexpr int kWidth = 16;
  static constexpr int kRegisters = 32;
  using F = __m512;
  using I = __m512i;
  using Mask = __mmask16;

  // First n lanes (n may be anything; <= 0 gives none, >= 16 all).
  static GEMMTUNE_CPP_INLINE Mask mask(int n) {
    return n >= 16 ? static_cast<Mask>(0xFFFF) : n <= 0 ? static_cast<Mask>(0) : static_cast<Mask>((1u << n) - 1);
  }

  // f32
  static GEMMTUNE_CPP_INLINE F zero() { return _mm512_setzero_ps(); }
  static GEMMTUNE_CPP_INLINE F set1(float x) { return _mm512_set1_ps(x); }
  static GEMMTUNE_CPP_INLINE F load(const float* p) { return _mm512_loadu_ps(p); }
  static GEMMTUNE_CPP_INLINE F load(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static GEMMTUNE_CPP_INLINE F load_aligned(const float* p) { return _mm512_load_ps(p); }
  static GEMMTUNE_CPP_INLINE void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static GEMMTUNE_CPP_INLINE void store(float* p, F v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static GEMMTUNE_CPP_INLINE F add(F a, F b) { return _mm512_add_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  // 1/a to about 2^-27 relative: the 14-bit estimate and one Newton step,
  // several times cheaper than a division.
  static GEMMTUNE_CPP_INLINE F reciprocal(F a) {
    F r = _mm512_rcp14_ps(a);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(2.0f)));
  }
  static GEMMTUNE_CPP_INLINE F max(F a, F b) { return _mm512_max_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F min(F a, F b) { return _mm512_min_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F bit_xor(F a, F b) { return _mm512_xor_ps(a, b); }
  static GEMMTUNE_CPP_INLINE F abs(F a) { return _mm512_abs_ps(a); }
  static GEMMTUNE_CPP_INLINE F copy_sign(F magnitude, F sign) {
    const F sign_bit = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(sign_bit, magnitude), _mm512_and_ps(sign_bit, sign));
  }
  // a >= b ? x : y per lane (y where either is NaN).
  static GEMMTUNE_CPP_INLINE F select_ge(F a, F b, F x, F y) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ), y, x);
  }
  static GEMMTUNE_CPP_INLINE F round_nearest(F a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^n for integral n in [-126, 127] held as floats.
  static GEMMTUNE_CPP_INLINE F exp2_integral(F n) {
    I bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_castsi512_ps(bits);
  }

  // i32
  static GEMMTUNE_CPP_INLINE I iload(const std::int32_t* p, int n) { return _mm512_maskz_loadu_epi32(mask(n), p); }
  static GEMMTUNE_CPP_INLINE void istore(std::int32_t* p, I v, int n) { _mm512_mask_storeu_epi32(p, mask(n), v); }
  static GEMMTUNE_CPP_INLINE I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static GEMMTUNE_CPP_INLINE I irelu(I a) { return _mm512_max_epi32(a, _mm512_setzero_si512()); }

  // 16-bit floats (bf16 and IEEE f16) to and from f32.
  static GEMMTUNE_CPP_INLINE F load_bf16(const std::uint16_t* p, int n) {
    __m256i h = _mm256_maskz_loadu_epi16(mask(n), p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static GEMMTUNE_CPP_INLINE F load_i8(const std::int8_t* p, int n) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask(n), p)));
  }
  static GEMMTUNE_CPP_INLINE F load_f16(const std::uint16_t* p, int n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask(n), p));
  }
  // Round to nearest even, NaN stays a (quiet) NaN: the same rule as
  // numeric::float_to_bf16, in integer arithmetic so AVX512_BF16 is not needed.
  static GEMMTUNE_CPP_INLINE __m256i to_bf16(F v) {
    I u = _mm512_castps_si512(v);
    I lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    I rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
    I quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    Mask nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
  }
  static GEMMTUNE_CPP_INLINE void store_bf16(std::uint16_t* p, F v, int n) {
    _mm256_mask_storeu_epi16(p, mask(n), to_bf16(v));
  }
  static GEMMTUNE_CPP_INLINE void store_f16(std::uint16_t* p, F v, int n) {
    _mm256_mask_storeu_epi16(p, mask(n), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }

  // In-place transpose of a 16 x 16 block held in 16 registers.
  static GEMMTUNE_CPP_INLINE void transpose(F (&r)[16]) {
    F t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    // Rows now hold 4x4 blocks in 128-bit lanes; gather the lanes.
    for (int i = 0; i < 4; ++i) {
      t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
      t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
      t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
      t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; ++i) {
      r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
      r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
      r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
      r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
  }
};

}  // namespace
}  // namespace gemmtune::backends::cpp::kernels
