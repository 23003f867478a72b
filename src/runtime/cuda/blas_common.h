// What the CUBLAS and CUBLASLT backends share: mapping gemmtune's problems
// (any strides, row- or column-major) onto a column-major BLAS call, the
// data-type tables, and the unfused epilogue around a library GEMM (bias
// broadcast before, activation and conversion after) as small kernels on
// the same stream.
#pragma once

#include <climits>

#include <cstdint>
#include <optional>
#include <string>

#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::cuda {

// cudaDataType of a gemmtune dtype (CUDA_R_32F, ...).
cudaDataType to_cuda_dtype(DType);

// The type alpha and beta are passed in for a compute type: f64 for
// CUBLAS_COMPUTE_64F, int32 for CUBLAS_COMPUTE_32I, else f32.
cudaDataType scale_type_of(cublasComputeType_t);

// alpha and beta in a call's scale type, where the library reads them
// (pointer mode host). An integer call takes 1 and 0: int_mm has no alpha
// and no bias (validation). Points into itself, so it is not copied.
class BlasScalars {
 public:
  BlasScalars(cudaDataType scale_type, double alpha, double beta);
  BlasScalars(const BlasScalars&) = delete;
  BlasScalars& operator=(const BlasScalars&) = delete;
  const void* alpha() const { return alpha_; }
  const void* beta() const { return beta_; }

 private:
  float f32_[2] = {0, 0};
  double f64_[2] = {0, 0};
  std::int32_t i32_[2] = {1, 0};
  const void* alpha_ = nullptr;
  const void* beta_ = nullptr;
};

// One operand of a column-major call: op(X) is rows x cols; stored either as
// a rows x cols column-major matrix (not transposed) or as its transpose.
struct BlasOperand {
  bool transposed = false;
  std::int64_t ld = 1;
  std::int64_t batch_stride = 0;
  std::int64_t stored_rows = 0, stored_cols = 0;  // of the matrix in memory
};

// D = op(X) . op(Y), all column-major, m x k times k x n. When `swapped`,
// the call computes C^T = B^T . A^T (X is the problem's B, Y its A), which
// is how a row-major C is written by a column-major library.
struct BlasGemm {
  bool swapped = false;
  std::int64_t m = 0, n = 0, k = 0;
  BlasOperand x, y, d;
};

// Maps a problem onto a column-major call writing `output` (the problem's C,
// or a staging buffer of the same shape). Each operand needs a unit stride
// in one dimension; otherwise unsupported_layout naming the operand.
Expected<BlasGemm> map_to_column_major(const Problem&, const MatrixDesc& output);

// How a matrix shaped like C (a full bias, say) is read by the call that
// map_to_column_major made (`swapped` as there): plain column-major, or
// nullopt when its strides do not allow that.
std::optional<BlasOperand> as_output_operand(const MatrixDesc&, bool swapped);

// A dense f32 buffer shaped like the problem's output, in the orientation
// map_to_column_major would choose for C (so the staged call maps the same
// way). Element count: batch * m * n.
MatrixDesc staging_desc(const Problem&);

// Whether an unfused epilogue must go through an f32 staging buffer so that
// the output is rounded once: an f32 bias for a 16-bit output (rounding it
// first would lose bits); any bias for a 16-bit output (cuBLAS rounds
// alpha*A.B to the output type before adding beta*C there: seen on H100,
// one ulp off); gelu or silu on a 16-bit output (applied to an already
// rounded value they round twice; relu commutes with rounding).
bool needs_f32_staging(const Problem&);

// Whether the problem's C is written through the swapped (row-major) form.
bool writes_row_major(const Problem&);

// dst = scale * bias (broadcast for a row bias), converted to dst's dtype;
// with no bias (bias == null) dst is zeroed. Queued on `stream`.
Status launch_fill(CudaRuntime&, CUstream, const Problem&, const void* bias, double scale, void* dst,
                   const MatrixDesc& dst_desc);

// dst = act(src) converted to dst's dtype (src may alias dst). Queued.
Status launch_finish(CudaRuntime&, CUstream, const Problem&, const void* src, const MatrixDesc& src_desc,
                     void* dst, const MatrixDesc& dst_desc, Activation);

// K = 0, where there is no product and no library call: C = act(beta *
// bias), or act(0) without a bias. Queued.
Status launch_no_product(CudaRuntime&, CUstream, const Problem&, const void* bias, void* c);

// What follows the library call: when `staged`, the f32 result in `staging`
// (described by `staging_desc`) converted into C with `post` applied; else
// `post` applied to C in place (nothing for none). Queued.
Status finish_output(CudaRuntime&, CUstream, const Problem&, bool staged, const void* staging,
                     const MatrixDesc& staging_desc, void* c, Activation post);

// The f32 staging buffer of staging_desc(p): batch * m * n floats.
Expected<runtime::DeviceBuffer> allocate_staging(CudaRuntime&, const Problem&);

// Compiles (on first use) and looks up the fill and finish kernels: called
// at build, so that a compile error is a build rejection, not a failed run.
Status load_elementwise_kernels(CudaRuntime&);

// True when the problem's output holds no element (nothing to compute).
bool output_is_empty(const Problem&);

// True when a size or stride fits the 32-bit int that the libraries' and
// the kernels' interfaces take.
inline bool fits_int(std::int64_t v) { return v >= 0 && v <= INT_MAX; }

// "CUBLAS"/"CUBLASLT" availability: the device (index 0 for the listing)
// and the library, with the first reason that applies.
Availability gpu_library_availability(bool library_loaded, const std::string& library, const std::string& error);

}  // namespace gemmtune::cuda
