// The contract between the CPP backend's framework (loops, packing buffers,
// threads) and its micro-kernels (register tiles compiled per instruction
// set). Everything here is plain data and function pointers: the framework is
// compiled for the baseline x86-64 and only ever reaches AVX2 or AVX-512 code
// through these pointers, after checking that the CPU has the instructions.
#pragma once

#include <cstdint>

#include "gemmtune/types.h"

namespace gemmtune::backends::cpp {

// Instruction set a micro-kernel is compiled for. avx2 means AVX2 + FMA (+F16C);
// avx512 means AVX-512 F/BW/VL/DQ (+BF16 or VNNI for those arithmetics).
enum class Isa : std::uint8_t { avx2, avx512 };

// What the register tile multiplies and accumulates:
//   f32   f32 FMA into f32 (also serves f16, bf16 and int8 operands converted while packing)
//   bf16  vdpbf16ps: pairs of bf16 products into f32 (AVX512_BF16)
//   u8s8  vpdpbusd: quads of u8 x s8 products into i32 (AVX512_VNNI)
//   s8s8  the same on A + 128 (stored as u8), minus 128 * column sums of B
enum class Arith : std::uint8_t { f32, bf16, u8s8, s8s8 };

// Elements of K that one accumulator lane consumes per instruction; packed
// panels interleave K in groups of this size.
constexpr int k_group(Arith arith) {
  return arith == Arith::f32 ? 1 : arith == Arith::bf16 ? 2 : 4;
}
// Bytes of one packed element.
constexpr int packed_elem_bytes(Arith arith) {
  return arith == Arith::f32 ? 4 : arith == Arith::bf16 ? 2 : 1;
}
constexpr int vector_floats(Isa isa) { return isa == Isa::avx512 ? 16 : 8; }
constexpr int vector_registers(Isa isa) { return isa == Isa::avx512 ? 32 : 16; }

// One operand seen as a set of lanes (rows of A, or columns of B) along a
// depth (K). Element (lane, d) lives at data + lane*lane_stride + d*depth_stride,
// in elements of `dtype`.
struct PanelSource {
  const void* data = nullptr;
  DType dtype = DType::f32;
  std::int64_t lane_stride = 0;
  std::int64_t depth_stride = 0;
};

// Packs `lanes` lanes x `depth` K-elements of `src` into consecutive panels of
// W lanes (W = the tile's MR for A, NR for B). A panel holds, for each group
// of k_group(arith) K-elements, W lanes of that group: element (lane l, k) is
// at ((k / G) * W + l) * G + k % G. Lanes past `lanes` and K past `depth` are
// zero. The panel stride is W * round_up(depth, G) elements.
// For B panels of the s8s8 arithmetic, `column_comp` receives
// -128 * (sum over depth of the column) for each lane (W per panel, padding
// lanes 0); for every other arithmetic it is ignored (may be null).
using PackFn = void (*)(const PanelSource& src, std::int64_t lanes, std::int64_t depth, void* dst,
                        std::int32_t* column_comp);

// The output and the fused epilogue, as the micro-kernel applies it to a tile
// still in registers:
//   c = act(acc * scale + row_bias + beta * full_bias), rounded once to c_dtype.
// Pointers are already offset to the current batch; all indices are output
// (row, column).
struct OutputArgs {
  void* c = nullptr;
  DType c_dtype = DType::f32;
  std::int64_t c_rs = 0, c_cs = 1;
  float alpha = 1.0f;                 // scale when col_scale is null
  const float* col_scale = nullptr;   // alpha * per-column scale (mixed_mm), by column
  const float* row_bias = nullptr;    // beta * bias as f32, by column (null: none)
  const void* full_bias = nullptr;    // m x n bias (null: none), multiplied by beta here
  DType full_bias_dtype = DType::f32;
  std::int64_t bias_rs = 0, bias_cs = 1;
  float beta = 1.0f;
  Activation act = Activation::none;
  // True when the epilogue is the identity on an f32 (or i32), unit-stride
  // output: no scale, bias or activation. Tiles then store rows directly.
  bool plain = false;
};

// Where a register tile's results go, shared by the packed and direct tiles.
// When K is split into several blocks, every block but the last stores
// partial sums (f32, or i32 for int8) at `partial`; the next block adds them
// back (`accumulate`); the last one applies the epilogue (`finish`).
struct TileTarget {
  int rows = 0, cols = 0;           // valid part of the tile, <= MR, <= NR
  std::int64_t row0 = 0, col0 = 0;  // position of the tile in the output
  bool accumulate = false;
  bool finish = true;
  void* partial = nullptr;          // row-major with ld_partial
  std::int64_t ld_partial = 0;
  const std::int32_t* column_comp = nullptr;  // s8s8: added to every row, NR values
};

// One register tile of the packed path: acc = A panel x B panel over
// `k_groups` groups of K.
struct TileTask : TileTarget {
  const void* a = nullptr;  // packed A panel (MR lanes)
  const void* b = nullptr;  // packed B panel (NR lanes)
  std::int64_t k_groups = 0;
};
using TileFn = void (*)(const TileTask& task, const OutputArgs& out);

// A row of register tiles of the direct (no packing) path: f32 A with any
// strides, f32 B with unit column stride, `k` steps of K read in place.
// `rows` <= MR; `cols` may span many NR-wide strips, done left to right.
// `partial`, when set, is f32 with one column per output column.
struct DirectTask : TileTarget {
  const float* a = nullptr;  // element (i, kk) at a[i*a_rs + kk*a_cs], i relative to row0
  std::int64_t a_rs = 0, a_cs = 0;
  const float* b = nullptr;  // element (kk, j) at b[kk*b_rs + j], j relative to col0
  std::int64_t b_rs = 0;
  std::int64_t k = 0;
};
using DirectFn = void (*)(const DirectTask& task, const OutputArgs& out);

// The dot-product path: B with K-contiguous columns (the `nt` layout of
// torch.nn.Linear, W stored N x K) read in place, each output a dot product
// along K of a row of A and a column of B. A call covers `rows` <= MR rows and
// any number of columns, left to right; K is vectorized, so both operands
// must be K-contiguous. `partial`, when set, is f32 with one column per
// output column (as on the direct path).
struct DotTask : TileTarget {
  const void* a = nullptr;  // row i (relative to row0) at a + i*a_rs elements, K contiguous
  std::int64_t a_rs = 0;
  const void* b = nullptr;  // column j (relative to col0) at b + j*b_cs elements, K contiguous
  std::int64_t b_cs = 0;
  // `next_cols` columns of B (same K offsets, column stride b_cs) from
  // b_next to bring into cache while this call computes: the columns a later
  // call (or this one's next tile) reads from memory. The call's i-th tile of
  // NR columns prefetches columns [i * next_step, i * next_step + min(next_step, NR)).
  // next_cols 0: none.
  const void* b_next = nullptr;
  int next_cols = 0;
  int next_step = 0;
  std::int64_t k = 0;
};
using DotFn = void (*)(const DotTask& task, const OutputArgs& out);

// The operand dtypes a dot kernel reads (A x B); each is a separate
// instantiation, converting on load.
enum class DotInputs : std::uint8_t { f32, f16, f32_i8, f16_i8, bf16, bf16_i8, count };

// One instantiated dot-product tile: MR rows x NR columns of accumulator
// vectors, each reduced to one output at the end of K. `fn` is indexed by
// DotInputs; null where this arithmetic does not read those dtypes.
struct DotKernel {
  Isa isa = Isa::avx512;
  Arith arith = Arith::f32;
  int mr = 0, nr = 0;
  DotFn fn[static_cast<int>(DotInputs::count)] = {};
};
struct DotKernelList {
  const DotKernel* items = nullptr;
  int count = 0;
};
extern const DotKernelList kAvx512F32Dots;
extern const DotKernelList kAvx512Bf16Dots;

// One instantiated register tile and the packers that feed it.
struct TileKernel {
  Isa isa = Isa::avx512;
  Arith arith = Arith::f32;
  int mr = 0, nr = 0;
  TileFn tile = nullptr;
  PackFn pack_a = nullptr;
  PackFn pack_b = nullptr;
  DirectFn direct = nullptr;  // null when the tile has no direct form
};

// The tiles of one kernel file (each file is compiled with its ISA flags).
// They are constant-initialized tables: reading them runs no code from that
// file, so a CPU without the instruction set can list them safely.
struct TileKernelList {
  const TileKernel* items = nullptr;
  int count = 0;
};
extern const TileKernelList kAvx512F32Tiles;
extern const TileKernelList kAvx512Bf16Tiles;
extern const TileKernelList kAvx512Int8Tiles;
extern const TileKernelList kAvx2F32Tiles;

}  // namespace gemmtune::backends::cpp
