// What the CUBLAS and CUBLASLT backends share: mapping gemmtune's problems
// (any strides, row- or column-major) onto a column-major BLAS call, the
// data-type tables, and the unfused epilogue around a library GEMM (what
// the call leaves undone, as an elementwise pass on the same stream).
#pragma once

#include <climits>

#include <cstdint>
#include <optional>
#include <string>

#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "runtime/cuda/cuda_runtime.h"
#include "runtime/cuda/epilogue_pass.h"

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

// A bias that takes part: beta = 0 ignores the bias (NaN and Inf in it
// included), as PyTorch does.
bool has_bias(const Problem&);

// Whether an activation must be applied to the unrounded value (every one
// but relu, which commutes with rounding).
bool is_smooth(Activation);

// Whether an unfused epilogue must go through an f32 staging buffer so that
// a 16-bit output is rounded once: any bias (cuBLAS rounds alpha*A.B to the
// output type before adding beta*C: seen on H100, one ulp off; an f32 bias
// rounded first would lose bits), or a smooth activation (applied to an
// already rounded value it rounds twice).
bool needs_f32_staging(const Problem&);

// Whether the problem's C is written through the swapped (row-major) form.
bool writes_row_major(const Problem&);

// What runs around one library call so that C = act(alpha*A.B + beta*bias)
// comes out rounded once: what the call itself does not do, the epilogue
// pass (epilogue_pass.h) does, in one pass after it, and (only where the
// call reads its output as C anyway) a fill before it.
struct AroundCall {
  bool call = true;            // false: no product (K = 0, alpha = 0); the pass writes act(beta*bias)
  bool staged = false;         // the call writes f32 staging (staging_desc); the pass rounds it into C
  bool fill = false;           // the bias copied into the call's output first; the call scales it by beta
  bool bias_in_pass = false;   // the pass adds beta*bias
  Activation pass_act = Activation::none;  // the pass applies it
  bool pass() const { return !call || staged || bias_in_pass || pass_act != Activation::none; }
};

// No product to compute: one pass writes act(beta*bias), or act(0).
AroundCall without_product(const Problem&);

// A library call that applies only alpha and beta*C (cuBLAS): 16-bit
// outputs with a bias or a smooth activation staged in f32 and the rest in
// the pass; otherwise a bias alone is filled into C for the call's beta*C
// (one pass, before), and with an activation it joins the pass after (one
// pass instead of two).
AroundCall plain_library_call(const Problem&);

// "; f32 output staged, then one pass: + beta*bias, gelu, rounded once into C"
// (empty when nothing runs around the call): for choice descriptions.
std::string describe(const AroundCall&, const Problem&);

// The passes of one kernel, loaded at build, and its staging buffer. The
// call writes call_output(C) (described by call_output_desc()); run
// before() ahead of the call and after() behind it, on the call's stream.
class LibraryEpilogue {
 public:
  static Expected<LibraryEpilogue> make(CudaRuntime&, const Problem&, const AroundCall&);

  const MatrixDesc& call_output_desc() const { return call_out_; }
  void* call_output(void* c) const { return plan_.staged ? staging_.get() : c; }
  std::size_t staging_bytes() const { return staging_.bytes(); }

  Status before(CudaRuntime&, CUstream, const void* bias, void* c) const;
  Status after(CudaRuntime&, CUstream, const void* bias, void* c) const;

 private:
  Problem p_;
  AroundCall plan_;
  MatrixDesc call_out_;
  runtime::DeviceBuffer staging_;
  std::optional<EpiloguePass> fill_, pass_;
};

// True when the problem's output holds no element (nothing to compute).
bool output_is_empty(const Problem&);

// True when a size or stride fits the 32-bit int that the libraries' and
// the kernels' interfaces take.
inline bool fits_int(std::int64_t v) { return v >= 0 && v <= INT_MAX; }

// "CUBLAS"/"CUBLASLT" availability: the device (index 0 for the listing)
// and the library, with the first reason that applies. `load` returns the
// library's API table (cublas_api, cublaslt_api: `loaded`, `error`) and is
// called only when there is a device: cuBLAS and cuBLASLt take ~0.1 s to
// load, which every invocation paid on a machine without a GPU (the default
// backend list asks each backend whether it is available).
Availability gpu_device_availability();
template <typename LoadApi>
Availability gpu_library_availability(const std::string& library, LoadApi load) {
  const Availability device = gpu_device_availability();
  if (!device.available) return device;
  const auto& api = load();
  if (!api.loaded) return Availability::no("no " + library + " (" + api.error + ")");
  return Availability::yes();
}

}  // namespace gemmtune::cuda
