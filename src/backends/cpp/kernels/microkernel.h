// The register-blocked micro-kernels, written once as templates over the
// vector type V and a `Dot` policy (what one multiply-accumulate step is:
// an f32 FMA, a bf16 pair dot product, an int8 quad dot product). A kernel
// file instantiates them for its tile shapes.
//
//   tile<V, Dot, MR, NV>:   MR x (NV * width) accumulators in registers over
//                           packed panels; partial sums or the epilogue at the end.
//   direct<V, MR, NV>:      the same shape read straight from f32 A and B
//                           (no packing), for problems too small to repay it.
//   tile_kernel, f32_tile:  the TileKernel descriptors of the kernel tables.
//
// A Dot policy provides:
//   Acc, BVec, Elem, kGroup, kIntegerAcc
//   zero(), load_b(const Elem*), madd(Acc, const Elem* a_group, BVec)
// Internal linkage on purpose (see simd_avx512.h).
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "backends/cpp/kernel_api.h"
#include "backends/cpp/kernels/epilogue.h"
#include "backends/cpp/kernels/packing.h"

namespace gemmtune::backends::cpp::kernels {
namespace {

// f32 FMA: one K step, A broadcast from memory, B one aligned vector.
template <class V>
struct FmaF32 {
  using Acc = typename V::F;
  using BVec = typename V::F;
  using Elem = float;
  static constexpr int kGroup = 1;
  static constexpr bool kIntegerAcc = false;
  static GEMMTUNE_CPP_INLINE Acc zero() { return V::zero(); }
  static GEMMTUNE_CPP_INLINE BVec load_b(const Elem* p) { return V::load_aligned(p); }
  static GEMMTUNE_CPP_INLINE Acc madd(Acc acc, const Elem* a, BVec b) { return V::fmadd(V::set1(*a), b, acc); }
};

// Ends a tile: adds the partial sums stored by an earlier K block (if any),
// then either stores the new partial sums, stores the rows as they are (plain
// output), or runs the epilogue over the whole tile.
template <class V, class Dot, int MR, int NV>
GEMMTUNE_CPP_INLINE void write_tile(typename Dot::Acc (&acc)[MR][NV], int rows, const TileTarget& t,
                                    const OutputArgs& o) {
  constexpr int W = V::kWidth;
  constexpr bool kInt = Dot::kIntegerAcc;
  using Acc = typename Dot::Acc;
  using Scalar = std::conditional_t<kInt, std::int32_t, float>;
  auto load = [](const Scalar* p, int n) {
    if constexpr (kInt) return V::iload(p, n);
    else return V::load(p, n);
  };
  auto store = [](Scalar* p, Acc v, int n) {
    if constexpr (kInt) V::istore(p, v, n);
    else V::store(p, v, n);
  };
  auto add = [](Acc x, Acc y) {
    if constexpr (kInt) return V::iadd(x, y);
    else return V::add(x, y);
  };
  const bool store_as_is = !t.finish || o.plain;
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    if (i >= rows) break;
    if constexpr (kInt) {
      if (t.column_comp)
#pragma GCC unroll 8
        for (int q = 0; q < NV; ++q) acc[i][q] = add(acc[i][q], V::iload(t.column_comp + q * W, W));
    }
    if (t.accumulate) {
      const Scalar* partial = static_cast<const Scalar*>(t.partial) + i * t.ld_partial;
#pragma GCC unroll 8
      for (int q = 0; q < NV; ++q) acc[i][q] = add(acc[i][q], load(partial + q * W, t.cols - q * W));
    }
    if (store_as_is) {
      Scalar* out = t.finish ? static_cast<Scalar*>(o.c) + (t.row0 + i) * o.c_rs + t.col0
                             : static_cast<Scalar*>(t.partial) + i * t.ld_partial;
#pragma GCC unroll 8
      for (int q = 0; q < NV; ++q) store(out + q * W, acc[i][q], t.cols - q * W);
    }
  }
  if (store_as_is) return;
  // A copy: the accumulators themselves never have their address taken, so
  // they stay in registers through the K loop.
  Acc copy[MR * NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q) copy[i * NV + q] = acc[i][q];
  if constexpr (kInt) finish_tile_i32<V, NV>(copy, rows, o, t.row0, t.col0, t.cols);
  else finish_tile<V, NV>(copy, rows, o, t.row0, t.col0, t.cols);
}

// Brings the rows a tile will read or write at its end into L1 while the K
// loop runs (the partial sums of the previous K block, or the output).
template <int MR, int NR_BYTES>
GEMMTUNE_CPP_INLINE void prefetch_tile_rows(const TileTarget& t, const OutputArgs& o) {
  const char* base = nullptr;
  std::int64_t ld_bytes = 0;
  if (t.accumulate || !t.finish) {
    base = static_cast<const char*>(t.partial);
    ld_bytes = t.ld_partial * 4;
  } else if (o.c_cs == 1) {
    base = static_cast<const char*>(o.c) + (t.row0 * o.c_rs + t.col0) * 4;
    ld_bytes = o.c_rs * 4;
    if (o.c_dtype != DType::f32 && o.c_dtype != DType::i32) return;
  }
  if (base == nullptr) return;
  for (int i = 0; i < MR; ++i) {
    if (i >= t.rows) break;
    for (int off = 0; off < NR_BYTES; off += 64) __builtin_prefetch(base + i * ld_bytes + off, 1, 3);
  }
}

template <class V, class Dot, int MR, int NV>
void tile(const TileTask& t, const OutputArgs& o) {
  constexpr int W = V::kWidth;
  constexpr int G = Dot::kGroup;
  constexpr int NR = NV * W;
  using Elem = typename Dot::Elem;
  typename Dot::Acc acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q) acc[i][q] = Dot::zero();

  prefetch_tile_rows<MR, NR * 4>(t, o);
  const Elem* a = static_cast<const Elem*>(t.a);
  const Elem* b = static_cast<const Elem*>(t.b);
  for (std::int64_t g = 0; g < t.k_groups; ++g) {
    typename Dot::BVec bv[NV];
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q) bv[q] = Dot::load_b(b + q * W * G);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int q = 0; q < NV; ++q) acc[i][q] = Dot::madd(acc[i][q], a + i * G, bv[q]);
    a += MR * G;
    b += NR * G;
  }

  write_tile<V, Dot, MR, NV>(acc, t.rows, t, o);
}

// Direct path, one strip of NR columns: ROWS rows (a compile-time count,
// so the accumulators stay in registers for short tiles too), B read in
// place; kFullCols skips the masks. In place, consecutive K steps of B are a
// row stride apart, a pattern the hardware prefetchers follow poorly: each
// step prefetches the same row of the next strip (NR columns to the right),
// which is then on its way from memory while this one computes. (Measured
// on Zen 4: this alone keeps a cold 16x1024x1024 near peak and a 1x4096x4096
// at DRAM bandwidth; prefetching rows ahead in the same strip only hurt.)
template <class V, int ROWS, int NV, bool kFullCols>
GEMMTUNE_CPP_INLINE void direct_strip(const DirectTask& t, const TileTarget& target, const float* b,
                                      const OutputArgs& o) {
  constexpr int W = V::kWidth;
  typename V::F acc[ROWS][NV];
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q) acc[i][q] = V::zero();

  prefetch_tile_rows<ROWS, NV * W * 4>(target, o);
  const float* a = t.a;
  const std::int64_t a_rs = t.a_rs, a_cs = t.a_cs, b_rs = t.b_rs;
  for (std::int64_t k = 0; k < t.k; ++k) {
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q) __builtin_prefetch(b + (NV + q) * W, 0, 2);
    typename V::F bv[NV];
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q)
      bv[q] = kFullCols ? V::load(b + q * W) : V::load(b + q * W, target.cols - q * W);
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i) {
      const typename V::F av = V::set1(a[i * a_rs]);
#pragma GCC unroll 8
      for (int q = 0; q < NV; ++q) acc[i][q] = V::fmadd(av, bv[q], acc[i][q]);
    }
    a += a_cs;
    b += b_rs;
  }
  write_tile<V, FmaF32<V>, ROWS, NV>(acc, ROWS, target, o);
}

// All strips of a DirectTask, left to right, in one call: the per-call cost
// stays out of short K blocks.
template <class V, int ROWS, int NV>
void direct_rows(const DirectTask& t, const OutputArgs& o) {
  constexpr int NR = NV * V::kWidth;
  TileTarget strip = t;
  for (int j0 = 0; j0 < t.cols; j0 += NR) {
    strip.cols = t.cols - j0 < NR ? t.cols - j0 : NR;
    strip.col0 = t.col0 + j0;
    if (t.partial) strip.partial = static_cast<char*>(t.partial) + static_cast<std::int64_t>(j0) * 4;
    if (strip.cols == NR) direct_strip<V, ROWS, NV, true>(t, strip, t.b + j0, o);
    else direct_strip<V, ROWS, NV, false>(t, strip, t.b + j0, o);
  }
}

template <class V, int NV, std::size_t... kRows>
GEMMTUNE_CPP_INLINE void direct_dispatch(const DirectTask& t, const OutputArgs& o, std::index_sequence<kRows...>) {
  using Fn = void (*)(const DirectTask&, const OutputArgs&);
  static constexpr Fn kByRows[] = {&direct_rows<V, static_cast<int>(kRows) + 1, NV>...};
  kByRows[t.rows - 1](t, o);
}

template <class V, int MR, int NV>
void direct(const DirectTask& t, const OutputArgs& o) {
  if (t.rows <= 0 || t.cols <= 0) return;
  direct_dispatch<V, NV>(t, o, std::make_index_sequence<MR>{});
}

// The descriptor of tile<V, Dot, MR, NV>: its ISA, NR and tile function come
// from the same template arguments, so a table line cannot pair a tile
// function with another width than the one it computes.
template <class V, class Dot, int MR, int NV>
constexpr TileKernel tile_kernel(Arith arith, PackFn pack_a, PackFn pack_b, DirectFn direct_fn = nullptr) {
  return TileKernel{V::kIsa, arith, MR, NV * V::kWidth, &tile<V, Dot, MR, NV>, pack_a, pack_b, direct_fn};
}

// An f32 FMA tile with its packers and direct form, for either vector type.
template <class V, int MR, int NV>
constexpr TileKernel f32_tile() {
  return tile_kernel<V, FmaF32<V>, MR, NV>(Arith::f32, &pack_f32<V, MR>, &pack_f32<V, NV * V::kWidth>,
                                           &direct<V, MR, NV>);
}

}  // namespace
}  // namespace gemmtune::backends::cpp::kernels
