#include "backends/cuda/framework/gemm_problem.h"

#include <cmath>
#include <limits>

#include "runtime/cuda/blas_common.h"

namespace gemmtune::backends::cuda_kernels {
namespace {

// GT_ACT of an activation; -1 when the kernels have none for it.
int activation_code(Activation a) {
  switch (a) {
    case Activation::none: return 0;
    case Activation::relu: return 1;
    case Activation::gelu: return 2;
    case Activation::silu: return 3;
    case Activation::gelu_tanh: return 4;
  }
  return -1;
}

}  // namespace

bool is_bf16(const Problem& p) { return p.a.dtype == DType::bf16; }

Status check_common(const Problem& p) {
  if (p.op != Op::mm && p.op != Op::addmm && p.op != Op::bmm && p.op != Op::baddbmm)
    return reject(Reason::unsupported_op, "the CUDA backend's kernels serve mm, addmm, bmm and baddbmm, not " +
                                              std::string(to_string(p.op)));
  if (p.a.dtype != p.b.dtype || (p.a.dtype != DType::bf16 && p.a.dtype != DType::f16))
    return reject(Reason::unsupported_dtype, "the CUDA backend's kernels take bf16 or f16 A and B of one dtype, not " +
                                                 std::string(to_string(p.a.dtype)) + " and " +
                                                 std::string(to_string(p.b.dtype)) +
                                                 " (CUBLAS and CUBLASLT serve the other dtypes)");
  if (p.c.dtype != p.a.dtype && p.c.dtype != DType::f32)
    return reject(Reason::unsupported_dtype, "the CUDA backend writes C in the input dtype or f32, not " +
                                                 std::string(to_string(p.c.dtype)));
  if (p.bias != BiasKind::none && p.bias_desc.dtype != p.a.dtype && p.bias_desc.dtype != DType::f32)
    return reject(Reason::unsupported_dtype, "the CUDA backend reads a bias in the input dtype or f32, not " +
                                                 std::string(to_string(p.bias_desc.dtype)));
  if (activation_code(p.activation) < 0)
    return reject(Reason::unsupported_epilogue, "the CUDA backend has no fused " +
                                                    std::string(to_string(p.activation)) + " activation");
  for (std::int64_t v : {p.m, p.n, p.k})
    if (!cuda::fits_int(v))
      return reject(Reason::unsupported_shape, "M, N and K must each be below 2^31 for the CUDA backend's kernels");
  // The kernels step K in 32-bit ints by up to 4096 past the last block.
  if (p.k > std::numeric_limits<std::int32_t>::max() - 4096)
    return reject(Reason::unsupported_shape, "K must be at most 2^31 - 4097 for the CUDA backend's kernels");
  for (double v : {p.alpha, p.beta})
    if (std::abs(v) > std::numeric_limits<float>::max())
      return reject(Reason::unsupported_epilogue, "alpha and beta must be finite in f32 for the CUDA backend's kernels");
  return Status::success();
}

Defines epilogue_defines(const Problem& p) {
  const bool bias = p.bias != BiasKind::none;
  return {
      {"GT_BF16", is_bf16(p) ? "1" : "0"},
      {"GT_OUT_F32", p.c.dtype == DType::f32 ? "1" : "0"},
      {"GT_BIAS", p.bias == BiasKind::row ? "1" : p.bias == BiasKind::full ? "2" : "0"},
      {"GT_BIAS_F32", bias && p.bias_desc.dtype == DType::f32 ? "1" : "0"},
      {"GT_ACT", std::to_string(activation_code(p.activation))},
  };
}

EpilogueParams epilogue_params(const Problem& p) {
  EpilogueParams e;
  e.c_rs = p.c.row_stride;
  e.c_cs = p.c.col_stride;
  e.c_bs = p.c.batch_stride;
  if (p.bias != BiasKind::none) {
    e.bias_rs = p.bias == BiasKind::row ? 0 : p.bias_desc.row_stride;
    e.bias_cs = p.bias_desc.col_stride;
    e.bias_bs = p.bias_desc.batch_stride;
  }
  e.alpha = static_cast<float>(p.alpha);
  e.beta = static_cast<float>(p.beta);
  e.m = static_cast<std::int32_t>(p.m);
  e.n = static_cast<std::int32_t>(p.n);
  // Pairs of columns go out as one 4- or 8-byte store when the columns are
  // contiguous and every even column starts a pair-aligned address.
  const std::int64_t pair_bytes = 2 * static_cast<std::int64_t>(dtype_size(p.c.dtype));
  const std::int64_t elem = static_cast<std::int64_t>(dtype_size(p.c.dtype));
  e.pair_store = p.c.col_stride == 1 && (p.c.row_stride * elem) % pair_bytes == 0 &&
                 (p.c.batch_stride * elem) % pair_bytes == 0 && p.alignment >= pair_bytes;
  // Runs of 8 columns (whose first column is a multiple of 8) as 16- or
  // 32-byte stores, under the same conditions for 16 bytes.
  e.vec_store = p.c.col_stride == 1 && (p.c.row_stride * elem) % 16 == 0 && (p.c.batch_stride * elem) % 16 == 0 &&
                p.alignment >= 16;
  return e;
}

void set_pointers(EpilogueParams& e, const Problem& p, const GemmArgs& args) {
  e.c = args.c;
  e.bias = p.bias != BiasKind::none ? args.bias : nullptr;
}

namespace {
// rows x cols operand whose "K" is the column dimension when k_is_cols.
std::vector<OperandLayout> layouts(const Problem& p, const MatrixDesc& d, bool k_is_cols) {
  const std::int64_t bs = p.batch > 1 ? d.batch_stride : 0;
  const std::int64_t k_extent = k_is_cols ? d.cols : d.rows;
  const std::int64_t mn_extent = k_is_cols ? d.rows : d.cols;
  const std::int64_t k_stride = k_is_cols ? d.col_stride : d.row_stride;
  const std::int64_t mn_stride = k_is_cols ? d.row_stride : d.col_stride;
  std::vector<OperandLayout> out;
  if (k_stride == 1 || k_extent <= 1) out.push_back({true, mn_extent <= 1 ? 0 : mn_stride, bs});
  if (mn_stride == 1 || mn_extent <= 1) out.push_back({false, k_extent <= 1 ? 0 : k_stride, bs});
  return out;
}
}  // namespace

std::vector<OperandLayout> layouts_a(const Problem& p) { return layouts(p, p.a, true); }
std::vector<OperandLayout> layouts_b(const Problem& p) { return layouts(p, p.b, false); }

bool aligned16(const Problem& p, const OperandLayout& l) {
  const std::int64_t elem = static_cast<std::int64_t>(dtype_size(p.a.dtype));
  return p.alignment >= 16 && (l.lead * elem) % 16 == 0 && (l.batch_stride * elem) % 16 == 0;
}

Expected<void*> StreamScratch::get(cuda::CudaRuntime& rt, CUstream stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = buffers_.find(stream); it != buffers_.end()) return it->second.get();
  auto buffer = rt.allocate(bytes_);
  if (!buffer) return buffer.error();
  if (Status s = cuda::check(rt.driver().cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(buffer.value().get()), 0,
                                                         bytes_, stream),
                             "cuMemsetD8Async (kernel scratch)");
      !s)
    return s.error();
  void* ptr = buffer.value().get();
  buffers_.emplace(stream, std::move(buffer.value()));
  return ptr;
}

}  // namespace gemmtune::backends::cuda_kernels
