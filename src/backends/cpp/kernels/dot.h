// The dot-product micro-kernel (AVX-512): for B stored with K-contiguous
// columns (nt), each output is a dot product along K of a row of A and a
// column of B, so neither operand needs packing. A tile is ROWS x NR vector
// accumulators over K (16 f32 lanes per vector, or 16 pairs for bf16); at the
// end of K each accumulator is reduced horizontally to one number, and the
// numbers of a strip of up to 16 columns go through the same fused epilogue
// as the other tiles (write_tile). B streams once per row tile; its next
// columns are prefetched while the current ones compute.
//
// Policies:
//   Dot:  kStep (K elements per vector), madd(__m512 acc, a, b) for the
//         vectors the loaders return
//   Load: Elem, load(p) / load(p, n): kStep elements (the first n, the rest
//         zero, when n < kStep), as the vector Dot multiplies
// Include after simd_avx512.h and microkernel.h; internal linkage on purpose.
#pragma once

#include <cstdint>
#include <utility>

#include "backends/cpp/kernel_api.h"
#include "backends/cpp/kernels/microkernel.h"

namespace gemmtune::backends::cpp::kernels {
namespace {

#define GEMMTUNE_CPP_INLINE_LAMBDA __attribute__((always_inline))

// f32 FMA on 16 K-lanes.
struct DotFmaF32 {
  static constexpr int kStep = 16;
  static GEMMTUNE_CPP_INLINE __m512 madd(__m512 acc, __m512 a, __m512 b) { return _mm512_fmadd_ps(a, b, acc); }
};

// Loaders to f32 vectors of 16 K elements.
struct LoadF32 {
  using Elem = float;
  static GEMMTUNE_CPP_INLINE __m512 load(const Elem* p) { return _mm512_loadu_ps(p); }
  static GEMMTUNE_CPP_INLINE __m512 load(const Elem* p, int n) { return _mm512_maskz_loadu_ps(Avx512::mask(n), p); }
};
struct LoadF16 {
  using Elem = std::uint16_t;
  static GEMMTUNE_CPP_INLINE __m512 load(const Elem* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static GEMMTUNE_CPP_INLINE __m512 load(const Elem* p, int n) { return Avx512::load_f16(p, n); }
};
struct LoadI8 {  // int8 weights (mixed_mm): exact in f32
  using Elem = std::int8_t;
  static GEMMTUNE_CPP_INLINE __m512 load(const Elem* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static GEMMTUNE_CPP_INLINE __m512 load(const Elem* p, int n) { return Avx512::load_i8(p, n); }
};

// Sums of four vectors, one per lane: {sum v0, sum v1, sum v2, sum v3}.
GEMMTUNE_CPP_INLINE __m128 sum4(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
  // Per 128-bit block: {v0, v1, v2, v3} partial sums.
  const __m512 u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// One tile: ROWS rows of A against NR columns of B over all of the task's K.
// Writes the ROWS x NR dot products to out[i * 16 + j]. `pf` (may be null):
// NR columns to prefetch at the same K offsets, the next tile's.
template <class Dot, class LA, class LB, int ROWS, int NR>
GEMMTUNE_CPP_INLINE void dot_tile(const typename LA::Elem* a, std::int64_t a_rs,
                                  const typename LB::Elem* const (&b)[NR], const typename LB::Elem* const (&pf)[NR],
                                  bool prefetch, std::int64_t k, float* out) {
  constexpr int S = Dot::kStep;
  __m512 acc[ROWS][NR];
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  std::int64_t kk = 0;
  // A cache line holds 64 bytes of a column: prefetch once per line.
  constexpr int kLineElems = 64 / static_cast<int>(sizeof(typename LB::Elem));
  constexpr int kStepsPerLine = kLineElems / S > 0 ? kLineElems / S : 1;
  auto step = [&](std::int64_t at, int n, bool full) GEMMTUNE_CPP_INLINE_LAMBDA {
    decltype(LB::load(b[0])) bv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) bv[j] = full ? LB::load(b[j] + at) : LB::load(b[j] + at, n);
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) {
      const auto av = full ? LA::load(a + i * a_rs + at) : LA::load(a + i * a_rs + at, n);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = Dot::madd(acc[i][j], av, bv[j]);
    }
  };
  if (prefetch) {
    for (; kk + S * kStepsPerLine <= k; kk += S * kStepsPerLine) {
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) __builtin_prefetch(pf[j] + kk, 0, 2);
#pragma GCC unroll 4
      for (int s = 0; s < kStepsPerLine; ++s) step(kk + s * S, S, true);
    }
  }
  for (; kk + S <= k; kk += S) step(kk, S, true);
  if (kk < k) step(kk, static_cast<int>(k - kk), false);

#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i) {
#pragma GCC unroll 2
    for (int j = 0; j < NR; j += 4) {
      const __m512 z = _mm512_setzero_ps();
      const __m128 s = sum4(acc[i][j], j + 1 < NR ? acc[i][j + 1] : z, j + 2 < NR ? acc[i][j + 2] : z,
                            j + 3 < NR ? acc[i][j + 3] : z);
      if (j + 4 <= NR) _mm_storeu_ps(out + i * 16 + j, s);
      else _mm_mask_storeu_ps(out + i * 16 + j, static_cast<__mmask8>((1u << (NR - j)) - 1), s);
    }
  }
}

// All columns of a task for ROWS rows: strips of (16 / NR) * NR columns, each
// strip's dot products collected in a small buffer and then finished as one
// ROWS x 16 tile by the common epilogue.
template <class Dot, class LA, class LB, int ROWS, int NR>
void dot_rows(const DotTask& t, const OutputArgs& o) {
  static_assert(NR >= 1 && NR <= 8, "dot tiles reduce NR accumulators in groups of 4, at most 8");
  constexpr int kStrip = (16 / NR) * NR;
  using EB = typename LB::Elem;
  const auto* a = static_cast<const typename LA::Elem*>(t.a);
  const auto* b = static_cast<const EB*>(t.b);
  const auto* b_next = static_cast<const EB*>(t.b_next);
  alignas(64) float sums[ROWS * 16] = {};
  TileTarget strip = t;
  for (int s0 = 0; s0 < t.cols; s0 += kStrip) {
    const int strip_cols = t.cols - s0 < kStrip ? t.cols - s0 : kStrip;
    for (int j0 = 0; j0 < strip_cols; j0 += NR) {
      // Columns past the edge repeat the last one: no masks in the K loop,
      // and their sums are never stored.
      const EB* cols[NR];
      const EB* next[NR];
      const int col = s0 + j0;
      // This tile's share of the columns to prefetch (repeats past the end
      // cost a few prefetches of lines already requested).
      const int first_next = (col / NR) * t.next_step;
      const int last_next = first_next + (t.next_step < NR ? t.next_step : NR) - 1;
      const int pf_end = last_next < t.next_cols - 1 ? last_next : t.next_cols - 1;
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) {
        const int c = col + j < t.cols ? col + j : t.cols - 1;
        cols[j] = b + static_cast<std::int64_t>(c) * t.b_cs;
        const int nc = first_next + j < pf_end ? first_next + j : pf_end;
        next[j] = b_next + static_cast<std::int64_t>(nc) * t.b_cs;
      }
      dot_tile<Dot, LA, LB, ROWS, NR>(a, t.a_rs, cols, next, first_next <= pf_end, t.k, sums + j0);
    }
    strip.cols = strip_cols;
    strip.col0 = t.col0 + s0;
    if (t.partial) strip.partial = static_cast<char*>(t.partial) + static_cast<std::int64_t>(s0) * 4;
    __m512 acc[ROWS][1];
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) acc[i][0] = _mm512_load_ps(sums + i * 16);
    write_tile<Avx512, FmaF32<Avx512>, ROWS, 1>(acc, ROWS, strip, o);
  }
}

template <class Dot, class LA, class LB, int NR, std::size_t... kRows>
GEMMTUNE_CPP_INLINE void dot_dispatch(const DotTask& t, const OutputArgs& o, std::index_sequence<kRows...>) {
  using Fn = void (*)(const DotTask&, const OutputArgs&);
  static constexpr Fn kByRows[] = {&dot_rows<Dot, LA, LB, static_cast<int>(kRows) + 1, NR>...};
  kByRows[t.rows - 1](t, o);
}

template <class Dot, class LA, class LB, int MR, int NR>
void dot(const DotTask& t, const OutputArgs& o) {
  if (t.rows <= 0 || t.cols <= 0) return;
  dot_dispatch<Dot, LA, LB, NR>(t, o, std::make_index_sequence<MR>{});
}

}  // namespace
}  // namespace gemmtune::backends::cpp::kernels
