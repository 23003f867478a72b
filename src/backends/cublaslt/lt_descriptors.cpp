#include "backends/cublaslt/lt_descriptors.h"

#include <algorithm>
#include <cstdint>
#include <mutex>

#include "runtime/cuda/blas_common.h"

namespace gemmtune::backends::cublaslt {
namespace {

template <typename T>
Status set_layout(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attribute, const T& value,
                  const char* what) {
  const cublasStatus_t s = lt().cublasLtMatrixLayoutSetAttribute(layout, attribute, &value, sizeof(T));
  if (s == CUBLAS_STATUS_SUCCESS) return Status::success();
  return lt_check(s, std::string("cublasLtMatrixLayoutSetAttribute(") + what + ")");
}

// Largest power of two (at most 256) dividing both the guaranteed pointer
// alignment and one batch's byte offset: what every batch's pointer keeps.
std::uint32_t operand_alignment(int alignment, std::int64_t batch, std::int64_t batch_stride, DType t) {
  std::uint64_t a = static_cast<std::uint64_t>(std::min(alignment, 256));
  if (batch > 1 && batch_stride != 0) {
    const auto bytes = static_cast<std::uint64_t>(batch_stride) * dtype_size(t);
    a = std::min<std::uint64_t>(a, bytes & (~bytes + 1));
  }
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(a, 1));
}

// A non-null stand-in for a device pointer with the problem's alignment:
// the heuristic reads pointers only for their alignment.
const void* aligned_placeholder(int alignment) {
  return reinterpret_cast<const void*>(static_cast<std::uintptr_t>(std::max(alignment, 16)));
}

Expected<cublasLtMatrixLayout_t> make_layout(cudaDataType type, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                                             std::int64_t batch, std::int64_t batch_stride) {
  cublasLtMatrixLayout_t layout = nullptr;
  if (Status s = lt_check(lt().cublasLtMatrixLayoutCreate(&layout, type, static_cast<std::uint64_t>(rows),
                                                          static_cast<std::uint64_t>(cols), ld),
                          "cublasLtMatrixLayoutCreate");
      !s)
    return s.error();
  if (batch > 1) {
    const auto count = static_cast<std::int32_t>(batch);
    const std::int64_t stride = batch_stride;
    Status s = set_layout(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, count, "BATCH_COUNT");
    if (s) s = set_layout(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, stride, "STRIDED_BATCH_OFFSET");
    if (!s) {
      lt().cublasLtMatrixLayoutDestroy(layout);
      return s.error();
    }
  }
  return layout;
}

}  // namespace

const cuda::CublasLtApi& lt() { return cuda::cublaslt_api(); }

std::string lt_status(cublasStatus_t s) {
  const char* text = lt().loaded ? lt().cublasLtGetStatusString(s) : nullptr;
  return text ? std::string(text) : "cublasStatus " + std::to_string(static_cast<int>(s));
}

Status lt_check(cublasStatus_t s, const std::string& call) {
  if (s == CUBLAS_STATUS_SUCCESS) return Status::success();
  return reject(s == CUBLAS_STATUS_ALLOC_FAILED ? Reason::out_of_resources : Reason::runtime_error,
                call + " failed: " + lt_status(s));
}

Expected<cublasLtHandle_t> lt_handle() {
  static std::mutex mutex;
  static cublasLtHandle_t handle = nullptr;
  static std::string error;
  std::lock_guard<std::mutex> lock(mutex);
  if (handle) return handle;
  if (!error.empty()) return reject(Reason::runtime_error, error);
  if (cublasStatus_t s = lt().cublasLtCreate(&handle); s != CUBLAS_STATUS_SUCCESS) {
    handle = nullptr;
    error = "cublasLtCreate failed: " + lt_status(s);
    return reject(Reason::runtime_error, error);
  }
  return handle;
}

Descs& Descs::operator=(Descs&& o) noexcept {
  std::swap(op, o.op);
  std::swap(x, o.x);
  std::swap(y, o.y);
  std::swap(c, o.c);
  std::swap(d, o.d);
  std::swap(pref, o.pref);
  return *this;
}

Descs::~Descs() {
  if (!lt().loaded) return;
  if (op) lt().cublasLtMatmulDescDestroy(op);
  for (auto* layout : {x, y, c, d})
    if (layout) lt().cublasLtMatrixLayoutDestroy(layout);
  if (pref) lt().cublasLtMatmulPreferenceDestroy(pref);
}

Expected<Descs> make_descs(const Problem& p, const Setup& s, std::size_t max_workspace) {
  Descs d;
  if (Status st = lt_check(lt().cublasLtMatmulDescCreate(&d.op, s.compute, s.scale_type), "cublasLtMatmulDescCreate");
      !st)
    return st.error();
  const std::int32_t ta = s.g.x.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const std::int32_t tb = s.g.y.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_TRANSA, ta, "TRANSA"); !st) return st.error();
  if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_TRANSB, tb, "TRANSB"); !st) return st.error();
  if (s.epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
    const std::uint32_t epilogue = s.epilogue;
    if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue, "EPILOGUE"); !st) return st.error();
  }
  if (s.fused_bias()) {
    const std::int32_t bias_type = cuda::to_cuda_dtype(p.bias_desc.dtype);
    if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, bias_type, "BIAS_DATA_TYPE"); !st)
      return st.error();
    const void* bias = aligned_placeholder(p.alignment);
    if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias, "BIAS_POINTER"); !st) return st.error();
    if (p.batch > 1) {
      const std::int64_t stride = p.bias_desc.batch_stride;
      if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, stride, "BIAS_BATCH_STRIDE"); !st)
        return st.error();
    }
  }
  if (s.fp8) {
    const void* scale = aligned_placeholder(p.alignment);
    if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, scale, "A_SCALE_POINTER"); !st)
      return st.error();
    if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, scale, "B_SCALE_POINTER"); !st)
      return st.error();
    if (s.x_scale == ScaleKind::per_channel) {
      const std::int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
      if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, mode, "A_SCALE_MODE"); !st) return st.error();
    }
    if (s.y_scale == ScaleKind::per_channel) {
      const std::int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
      if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, mode, "B_SCALE_MODE"); !st) return st.error();
    }
    const std::int8_t fast = s.variant.fast_accum ? 1 : 0;
    if (Status st = set_desc(d.op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, fast, "FAST_ACCUM"); !st) return st.error();
  }

  const cuda::BlasGemm& g = s.g;
  auto x = make_layout(s.xt, g.x.stored_rows, g.x.stored_cols, g.x.ld, p.batch, g.x.batch_stride);
  if (!x) return x.error();
  d.x = x.value();
  auto y = make_layout(s.yt, g.y.stored_rows, g.y.stored_cols, g.y.ld, p.batch, g.y.batch_stride);
  if (!y) return y.error();
  d.y = y.value();
  auto out = make_layout(s.dt, g.m, g.n, g.d.ld, p.batch, g.d.batch_stride);
  if (!out) return out.error();
  d.d = out.value();
  const cuda::BlasOperand& c = s.bias_as_c() ? s.c_operand : g.d;
  auto c_layout = make_layout(s.ct, g.m, g.n, c.ld, p.batch, c.batch_stride);
  if (!c_layout) return c_layout.error();
  d.c = c_layout.value();

  if (Status st = lt_check(lt().cublasLtMatmulPreferenceCreate(&d.pref), "cublasLtMatmulPreferenceCreate"); !st)
    return st.error();
  auto set_pref = [&](cublasLtMatmulPreferenceAttributes_t attribute, const auto& value, const char* what) {
    return lt_check(lt().cublasLtMatmulPreferenceSetAttribute(d.pref, attribute, &value, sizeof(value)),
                    std::string("cublasLtMatmulPreferenceSetAttribute(") + what + ")");
  };
  const std::uint64_t workspace = max_workspace;
  if (Status st = set_pref(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, workspace, "MAX_WORKSPACE_BYTES"); !st)
    return st.error();
  const DType xd = g.swapped ? p.b.dtype : p.a.dtype, yd = g.swapped ? p.a.dtype : p.b.dtype;
  const std::uint32_t align_x = operand_alignment(p.alignment, p.batch, g.x.batch_stride, xd);
  const std::uint32_t align_y = operand_alignment(p.alignment, p.batch, g.y.batch_stride, yd);
  const std::uint32_t align_d = operand_alignment(p.alignment, p.batch, g.d.batch_stride, s.out.dtype);
  const std::uint32_t align_c =
      s.bias_as_c() ? operand_alignment(p.alignment, p.batch, c.batch_stride, p.bias_desc.dtype) : align_d;
  // A staging buffer is ours (cuMemAlloc: 256-byte aligned).
  const std::uint32_t align_out = s.staged() ? 256u : align_d;
  if (Status st = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_x, "MIN_ALIGNMENT_A_BYTES"); !st)
    return st.error();
  if (Status st = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_y, "MIN_ALIGNMENT_B_BYTES"); !st)
    return st.error();
  if (Status st = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, s.staged() && !s.bias_as_c() ? 256u : align_c,
                           "MIN_ALIGNMENT_C_BYTES");
      !st)
    return st.error();
  if (Status st = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_out, "MIN_ALIGNMENT_D_BYTES"); !st)
    return st.error();
  return d;
}

}  // namespace gemmtune::backends::cublaslt
