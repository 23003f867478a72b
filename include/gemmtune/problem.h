// The problem: one GEMM to compute, described as plain data. Everything a
// backend may depend on is here (op, shapes, dtypes, strides, alignment,
// epilogue, device) and nothing else; two equal problems get the same key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gemmtune/types.h"

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

// One operand or the output, in elements (not bytes). Element (i, j) of
// batch b lives at data + b*batch_stride + i*row_stride + j*col_stride.
// Row-major: col_stride == 1, row_stride >= cols. Column-major: row_stride
// == 1, col_stride >= rows. Any other non-overlapping pair is also valid.
// A batch_stride of 0 broadcasts one matrix to every batch (inputs only).
struct MatrixDesc {
  DType dtype = DType::f32;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t row_stride = 0;
  std::int64_t col_stride = 1;
  std::int64_t batch_stride = 0;

  static MatrixDesc row_major(DType dtype, std::int64_t rows, std::int64_t cols);
  static MatrixDesc col_major(DType dtype, std::int64_t rows, std::int64_t cols);
  bool is_row_major() const;  // unit column stride (or a single column)
  bool is_col_major() const;  // unit row stride (or a single row)
  // Elements spanned by `batch` matrices (largest offset + 1); 0 if empty.
  std::int64_t span(std::int64_t batch = 1) const;
  friend bool operator==(const MatrixDesc&, const MatrixDesc&) = default;
};

// C[b] = act(alpha * scale_a * scale_b * A[b].B[b] + beta * bias[b])
// A is m x k, B is k x n, C and a full bias are m x n, a row bias is 1 x n.
// Special values, the same in every backend (as BLAS and PyTorch define
// them): alpha = 0 (or K = 0) drops the product term, which is not
// evaluated, so NaN or Inf in A, B or the scales does not reach C; beta = 0
// drops the bias term the same way; relu keeps NaN (relu(NaN) = NaN).
struct Problem {
  Op op = Op::mm;
  std::int64_t batch = 1;
  std::int64_t m = 0, n = 0, k = 0;
  MatrixDesc a, b, c;        // c is the output
  BiasKind bias = BiasKind::none;
  MatrixDesc bias_desc;      // meaningful only when bias != none
  double alpha = 1.0;
  double beta = 1.0;         // multiplies the bias
  Activation activation = Activation::none;
  ScaleKind scale_a = ScaleKind::none;  // scaled_mm only
  ScaleKind scale_b = ScaleKind::none;  // scaled_mm; mixed_mm needs per_channel
  // f32 problems may be computed with tf32 tensor cores (GPU) when set.
  bool allow_tf32 = false;
  // Guaranteed alignment in bytes of every data pointer (power of two).
  int alignment = 64;
  Device device;

  friend bool operator==(const Problem&, const Problem&) = default;
};

// Pointers for one call, all on the problem's device. Scales are f32 arrays
// (1, M or N values as the ScaleKind says). Unused pointers stay null.
struct GemmArgs {
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;
  const void* bias = nullptr;
  const float* scale_a = nullptr;
  const float* scale_b = nullptr;
};

// How the CLI and builders describe a problem in a few flags.
struct ProblemSpec {
  Op op = Op::mm;
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  DType dtype = DType::f32;       // A's dtype
  std::optional<DType> b_dtype;   // default: derived from op and dtype
  std::optional<DType> out_dtype; // default: derived from op and dtype
  bool transpose_a = false;       // A stored column-major ("t" in --layout)
  bool transpose_b = false;
  std::optional<BiasKind> bias;   // default: row for addmm/baddbmm, else none
  std::optional<DType> bias_dtype;
  double alpha = 1.0, beta = 1.0;
  Activation activation = Activation::none;
  // default: scaled_mm per_tensor for both, mixed_mm per_channel for B
  std::optional<ScaleKind> scale_a, scale_b;
  bool allow_tf32 = false;
  bool broadcast_b = false;       // batched ops: B batch stride 0
  int alignment = 64;
  Device device;
};

// Whether the product term alpha * scales * A.B is absent (K = 0 or alpha
// = 0): A, B and the scales are then never read, and C = act(beta * bias)
// or act(0).
bool product_term_absent(const Problem&);
// Whether the bias term is absent (no bias, or beta = 0): the bias is then
// never read.
bool bias_term_absent(const Problem&);

// Bytes a buffer must hold for an operand of `batch` matrices.
std::size_t operand_bytes(const MatrixDesc&, std::int64_t batch);
// How many f32 scales a ScaleKind needs for `channels` rows or columns.
std::size_t scale_count(ScaleKind, std::int64_t channels);

// Builds a dense problem from a spec (row-major C, tightly packed operands).
// Throws InvalidProblemError for contradictions the spec can already see.
Problem make_problem(const ProblemSpec&);

// Throws InvalidProblemError naming the offending field when the problem is
// not well formed: negative or overflowing sizes, overlapping or ill-fitting
// strides, dtype combinations the op does not define, a bad epilogue.
void validate(const Problem&);

// Checks the pointers of one call against a (valid) problem: null data for
// non-empty operands, misalignment below problem.alignment, an output that
// overlaps an input. Throws InvalidProblemError.
void validate_args(const Problem&, const GemmArgs&);

// Short human text: "addmm bf16 128x4096x4096 nt bias=row act=gelu".
std::string describe(const Problem&);

}  // namespace gemmtune

#pragma GCC visibility pop
