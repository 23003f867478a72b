#include "backends/cublaslt/cublaslt_backend.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>

#include "runtime/cuda/blas_common.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::backends {

namespace cublaslt {

std::string algo_name(const AlgoConfig& c) {
  std::ostringstream out;
  out << "lt_a" << c.algo_id << "_t" << c.tile << "_s" << c.stages << "_sk" << c.split_k << "_r" << c.reduction
      << "_sw" << c.swizzle << "_c" << c.custom << "_i" << c.inner_shape << "_cl" << c.cluster_shape;
  return out.str();
}

std::optional<AlgoConfig> parse_algo_name(std::string_view name, std::string* rest) {
  AlgoConfig c;
  std::size_t pos = 0;
  auto field = [&](std::string_view prefix, auto& out) -> bool {
    if (name.substr(pos, prefix.size()) != prefix) return false;
    pos += prefix.size();
    std::int64_t value = 0;
    const char* begin = name.data() + pos;
    const char* end = name.data() + name.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr == begin || value < 0) return false;
    pos += static_cast<std::size_t>(ptr - begin);
    out = static_cast<std::remove_reference_t<decltype(out)>>(value);
    return true;
  };
  if (!field("lt_a", c.algo_id) || !field("_t", c.tile) || !field("_s", c.stages) || !field("_sk", c.split_k) ||
      !field("_r", c.reduction) || !field("_sw", c.swizzle) || !field("_c", c.custom) ||
      !field("_i", c.inner_shape) || !field("_cl", c.cluster_shape))
    return std::nullopt;
  if (c.split_k < 1) return std::nullopt;
  if (rest) *rest = std::string(name.substr(pos));
  return c;
}

}  // namespace cublaslt

namespace {

using cuda::BlasGemm;
using cuda::BlasOperand;
using cuda::CudaRuntime;
using cublaslt::AlgoConfig;

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

// One cuBLASLt handle for the process: it holds no stream and is safe to
// share between threads.
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

// set_desc runs in LtKernel::run (pointers change per call): the message
// is built only on failure.
template <typename T>
Status set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const T& value,
                const char* what) {
  const cublasStatus_t s = lt().cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof(T));
  if (s == CUBLAS_STATUS_SUCCESS) return Status::success();
  return lt_check(s, std::string("cublasLtMatmulDescSetAttribute(") + what + ")");
}

template <typename T>
Status set_layout(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attribute, const T& value,
                  const char* what) {
  const cublasStatus_t s = lt().cublasLtMatrixLayoutSetAttribute(layout, attribute, &value, sizeof(T));
  if (s == CUBLAS_STATUS_SUCCESS) return Status::success();
  return lt_check(s, std::string("cublasLtMatrixLayoutSetAttribute(") + what + ")");
}

// Owns the descriptors of one problem.
struct Descs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t x = nullptr, y = nullptr, c = nullptr, d = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  Descs() = default;
  Descs(const Descs&) = delete;
  Descs& operator=(const Descs&) = delete;
  Descs(Descs&& o) noexcept { *this = std::move(o); }
  Descs& operator=(Descs&& o) noexcept {
    std::swap(op, o.op);
    std::swap(x, o.x);
    std::swap(y, o.y);
    std::swap(c, o.c);
    std::swap(d, o.d);
    std::swap(pref, o.pref);
    return *this;
  }
  ~Descs() {
    if (!lt().loaded) return;
    if (op) lt().cublasLtMatmulDescDestroy(op);
    for (auto* layout : {x, y, c, d})
      if (layout) lt().cublasLtMatrixLayoutDestroy(layout);
    if (pref) lt().cublasLtMatmulPreferenceDestroy(pref);
  }
};

// The choices of execution that change the kernel, besides the algorithm.
struct Variant {
  bool tf32 = false;        // f32 through tf32 tensor cores (problem allows it)
  bool fuse = true;         // bias / relu in cuBLASLt's epilogue where possible
  bool bias_as_c = true;    // a full bias read as C (C != D) rather than copied
  bool fast_accum = false;  // fp8 fast accumulation
};

// Everything derived from (problem, variant): the column-major mapping,
// types, epilogue and what runs before and after the call.
struct Setup {
  Variant variant;
  BlasGemm g;
  MatrixDesc out;  // what cublasLtMatmul writes (C or the f32 staging)
  bool staged = false;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cudaDataType scale_type = CUDA_R_32F, xt = CUDA_R_32F, yt = CUDA_R_32F, ct = CUDA_R_32F, dt = CUDA_R_32F;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  bool fused_bias = false, bias_as_c = false, fill_bias = false;
  BlasOperand c_operand;
  Activation post = Activation::none;
  double beta_call = 0;
  bool fp8 = false;
  ScaleKind x_scale = ScaleKind::none, y_scale = ScaleKind::none;
  bool x_scale_is_a = true;  // Lt's A scale is the problem's scale_a (else scale_b)
  std::string tag;
};

std::string act_name(Activation a) { return std::string(to_string(a)); }

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

Expected<Setup> make_setup(const Problem& p, int sm, const Variant& v) {
  Setup s;
  s.variant = v;
  const DType in = p.a.dtype;
  switch (p.op) {
    case Op::mixed_mm:
      return reject(Reason::unsupported_op, "cuBLASLt has no float x int8-weight GEMM with per-column scales (mixed_mm)");
    case Op::int_mm:
      if (in != DType::i8)
        return reject(Reason::unsupported_dtype,
                      "cuBLASLt int8 GEMM takes signed int8 A and B, not " + std::string(to_string(in)) + " A");
      s.compute = CUBLAS_COMPUTE_32I;
      break;
    case Op::scaled_mm:
      s.fp8 = true;
      s.compute = CUBLAS_COMPUTE_32F;
      break;
    default:
      if (in == DType::f64) {
        s.compute = CUBLAS_COMPUTE_64F;
      } else if (in == DType::f32 || in == DType::f16 || in == DType::bf16) {
        s.compute = v.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      } else {
        return reject(Reason::unsupported_dtype, "CUBLASLT serves f32, f64, f16, bf16, int8 and fp8, not " +
                                                     std::string(to_string(in)));
      }
  }
  s.scale_type = cuda::scale_type_of(s.compute);

  const bool swapped = cuda::writes_row_major(p);
  const bool relu_fusable = v.fuse && p.activation == Activation::relu && p.op != Op::int_mm;
  // cuBLASLt's bias is one value per row of D; written as C^T, a row of D
  // is a column of C, which is what gemmtune's row bias is.
  const bool half_output = p.c.dtype == DType::bf16 || p.c.dtype == DType::f16;
  const bool smooth_activation = p.activation == Activation::gelu || p.activation == Activation::silu;
  const bool staging = cuda::needs_f32_staging(p);
  // Fused, the bias is added in the compute type before the one rounding; a
  // gelu/silu pass after it would round a 16-bit output twice.
  s.fused_bias = v.fuse && !(half_output && smooth_activation) && p.bias == BiasKind::row && swapped &&
                 p.beta == 1.0 && p.op != Op::int_mm && (p.bias_desc.col_stride == 1 || p.n <= 1);
  if (s.fused_bias) {
    s.out = p.c;
    s.epilogue = relu_fusable ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    s.post = relu_fusable ? Activation::none : p.activation;
  } else {
    // Rounded once, from f32, where rounding C first would lose accuracy.
    s.staged = staging;
    s.out = s.staged ? cuda::staging_desc(p) : p.c;
  }
  auto g = cuda::map_to_column_major(p, s.out);
  if (!g) return g.error();
  s.g = g.value();
  s.xt = cuda::to_cuda_dtype(s.g.swapped ? p.b.dtype : p.a.dtype);
  s.yt = cuda::to_cuda_dtype(s.g.swapped ? p.a.dtype : p.b.dtype);
  s.dt = cuda::to_cuda_dtype(s.out.dtype);
  s.ct = s.dt;
  if (!s.fused_bias) {
    if (p.bias == BiasKind::full && v.bias_as_c && p.bias_desc.dtype == s.out.dtype) {
      if (auto c = cuda::as_output_operand(p.bias_desc, s.g.swapped)) {
        s.bias_as_c = true;
        s.c_operand = *c;
      }
    }
    s.fill_bias = p.bias != BiasKind::none && !s.bias_as_c;
    s.beta_call = p.bias != BiasKind::none ? p.beta : 0.0;
    if (!s.staged && relu_fusable) {
      s.epilogue = CUBLASLT_EPILOGUE_RELU;
      s.post = Activation::none;
    } else {
      s.post = p.activation;
    }
  }

  if (s.fp8) {
    if (!(s.g.x.transposed && !s.g.y.transposed))
      return reject(Reason::unsupported_layout,
                    "cuBLASLt fp8 GEMMs need the TN form (both operands contiguous along K): A row-major and B "
                    "column-major, i.e. layout nt");
    if (p.alignment < 16)
      return reject(Reason::unsupported_alignment, "cuBLASLt fp8 GEMMs need 16-byte aligned pointers; the problem "
                                                   "guarantees " + std::to_string(p.alignment));
    s.x_scale_is_a = !s.g.swapped;
    s.x_scale = s.x_scale_is_a ? p.scale_a : p.scale_b;
    s.y_scale = s.x_scale_is_a ? p.scale_b : p.scale_a;
    if ((s.x_scale == ScaleKind::per_channel || s.y_scale == ScaleKind::per_channel) && sm != 90)
      return reject(Reason::unsupported_epilogue,
                    "per-channel fp8 scales need cuBLASLt's outer-vector scale mode, which it supports on sm_90 "
                    "only (this GPU is sm_" + std::to_string(sm) + ")");
  }

  std::string tag;
  if (v.tf32) tag += "_tf32";
  if (s.fused_bias) tag += s.epilogue == CUBLASLT_EPILOGUE_RELU_BIAS ? "_ebiasrelu" : "_ebias";
  if (s.epilogue == CUBLASLT_EPILOGUE_RELU) tag += "_erelu";
  if (s.bias_as_c) tag += "_cbias";
  if (s.fill_bias) tag += "_pbias";
  if (s.staged) tag += "_f32out";
  if (s.post != Activation::none) tag += "_p" + act_name(s.post);
  if (v.fast_accum) tag += "_fastacc";
  s.tag = tag;
  return s;
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
  if (s.fused_bias) {
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

  const BlasGemm& g = s.g;
  auto x = make_layout(s.xt, g.x.stored_rows, g.x.stored_cols, g.x.ld, p.batch, g.x.batch_stride);
  if (!x) return x.error();
  d.x = x.value();
  auto y = make_layout(s.yt, g.y.stored_rows, g.y.stored_cols, g.y.ld, p.batch, g.y.batch_stride);
  if (!y) return y.error();
  d.y = y.value();
  auto out = make_layout(s.dt, g.m, g.n, g.d.ld, p.batch, g.d.batch_stride);
  if (!out) return out.error();
  d.d = out.value();
  const BlasOperand& c = s.bias_as_c ? s.c_operand : g.d;
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
      s.bias_as_c ? operand_alignment(p.alignment, p.batch, c.batch_stride, p.bias_desc.dtype) : align_d;
  // A staging buffer is ours (cuMemAlloc: 256-byte aligned).
  const std::uint32_t align_out = s.staged ? 256u : align_d;
  if (Status st = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_x, "MIN_ALIGNMENT_A_BYTES"); !st)
    return st.error();
  if (Status st = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_y, "MIN_ALIGNMENT_B_BYTES"); !st)
    return st.error();
  if (Status st = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, s.staged && !s.bias_as_c ? 256u : align_c,
                           "MIN_ALIGNMENT_C_BYTES");
      !st)
    return st.error();
  if (Status st = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_out, "MIN_ALIGNMENT_D_BYTES"); !st)
    return st.error();
  return d;
}

Expected<AlgoConfig> read_config(const cublasLtMatmulAlgo_t& algo) {
  AlgoConfig c;
  auto get = [&](cublasLtMatmulAlgoConfigAttributes_t attribute, auto& value, const char* what) -> Status {
    std::size_t written = 0;
    return lt_check(lt().cublasLtMatmulAlgoConfigGetAttribute(&algo, attribute, &value, sizeof(value), &written),
                    std::string("cublasLtMatmulAlgoConfigGetAttribute(") + what + ")");
  };
  Status s = get(CUBLASLT_ALGO_CONFIG_ID, c.algo_id, "ID");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_TILE_ID, c.tile, "TILE_ID");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_STAGES_ID, c.stages, "STAGES_ID");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_SPLITK_NUM, c.split_k, "SPLITK_NUM");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, c.reduction, "REDUCTION_SCHEME");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, c.swizzle, "CTA_SWIZZLING");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, c.custom, "CUSTOM_OPTION");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID, c.inner_shape, "INNER_SHAPE_ID");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, c.cluster_shape, "CLUSTER_SHAPE_ID");
  if (!s) return s.error();
  return c;
}

Expected<cublasLtMatmulAlgo_t> algo_from_config(cublasLtHandle_t handle, const Setup& s, const AlgoConfig& c) {
  cublasLtMatmulAlgo_t algo;
  if (Status st = lt_check(lt().cublasLtMatmulAlgoInit(handle, s.compute, s.scale_type, s.xt, s.yt, s.ct, s.dt,
                                                       c.algo_id, &algo),
                           "cublasLtMatmulAlgoInit(algo " + std::to_string(c.algo_id) + ")");
      !st)
    return st.error();
  auto set = [&](cublasLtMatmulAlgoConfigAttributes_t attribute, const auto& value, const char* what) -> Status {
    return lt_check(lt().cublasLtMatmulAlgoConfigSetAttribute(&algo, attribute, &value, sizeof(value)),
                    std::string("cublasLtMatmulAlgoConfigSetAttribute(") + what + ")");
  };
  Status st = set(CUBLASLT_ALGO_CONFIG_TILE_ID, c.tile, "TILE_ID");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_STAGES_ID, c.stages, "STAGES_ID");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_SPLITK_NUM, c.split_k, "SPLITK_NUM");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, c.reduction, "REDUCTION_SCHEME");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, c.swizzle, "CTA_SWIZZLING");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, c.custom, "CUSTOM_OPTION");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID, c.inner_shape, "INNER_SHAPE_ID");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, c.cluster_shape, "CLUSTER_SHAPE_ID");
  if (!st) return st.error();
  return algo;
}

// What a CUBLASLT choice carries: how to rebuild it exactly.
struct Candidate {
  cublasLtMatmulAlgo_t algo;
  AlgoConfig config;
  std::size_t workspace = 0;
  float waves = 0;
  std::string origin;  // "heuristic #3" or "enumerated"
};

std::vector<Candidate> heuristic(cublasLtHandle_t handle, const Descs& d, int count, cublasStatus_t& status) {
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<std::size_t>(count));
  int returned = 0;
  status = lt().cublasLtMatmulAlgoGetHeuristic(handle, d.op, d.x, d.y, d.c, d.d, d.pref, count, results.data(),
                                               &returned);
  std::vector<Candidate> out;
  if (status != CUBLAS_STATUS_SUCCESS) return out;
  for (int i = 0; i < returned; ++i) {
    if (results[static_cast<std::size_t>(i)].state != CUBLAS_STATUS_SUCCESS) continue;
    auto config = read_config(results[static_cast<std::size_t>(i)].algo);
    if (!config) continue;
    out.push_back(Candidate{results[static_cast<std::size_t>(i)].algo, config.value(),
                            results[static_cast<std::size_t>(i)].workspaceSize,
                            results[static_cast<std::size_t>(i)].wavesCount,
                            "heuristic #" + std::to_string(i + 1)});
  }
  return out;
}

template <typename T>
std::vector<T> cap_array(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoCapAttributes_t attribute) {
  std::size_t bytes = 0;
  if (lt().cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, nullptr, 0, &bytes) != CUBLAS_STATUS_SUCCESS ||
      bytes == 0)
    return {};
  std::vector<T> values(bytes / sizeof(T));
  if (lt().cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, values.data(), values.size() * sizeof(T), &bytes) !=
      CUBLAS_STATUS_SUCCESS)
    return {};
  return values;
}

template <typename T>
T cap_value(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoCapAttributes_t attribute, T fallback) {
  T value{};
  std::size_t written = 0;
  if (lt().cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, &value, sizeof(value), &written) !=
      CUBLAS_STATUS_SUCCESS)
    return fallback;
  return value;
}

// Split-K reduction schemes whose rounding gemmtune's verification admits:
// partial sums reduced in a 16-bit output type (in place or as the output
// type) lose more than one rounding of the result, so only the compute type
// reduces for 16-bit outputs.
std::uint32_t admissible_reductions(const Setup& s) {
  if (s.dt == CUDA_R_16F || s.dt == CUDA_R_16BF) return CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
  return CUBLASLT_REDUCTION_SCHEME_INPLACE | CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE |
         CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE;
}

bool accept(cublasLtHandle_t handle, const Setup& s, const Descs& d, std::size_t max_workspace,
            const AlgoConfig& config, const char* origin, std::vector<Candidate>& out) {
  auto algo = algo_from_config(handle, s, config);
  if (!algo) return false;
  cublasLtMatmulHeuristicResult_t result{};
  if (lt().cublasLtMatmulAlgoCheck(handle, d.op, d.x, d.y, d.c, d.d, &algo.value(), &result) !=
          CUBLAS_STATUS_SUCCESS ||
      result.state != CUBLAS_STATUS_SUCCESS || result.workspaceSize > max_workspace)
    return false;
  out.push_back(Candidate{algo.value(), config, result.workspaceSize, result.wavesCount, origin});
  return true;
}

// The neighbourhood of the heuristic's best algorithms: each seed with one
// setting changed (kernel variant = custom option, cluster shape, split-K
// factor, CTA swizzle, tile), where a better kernel for a shape most often
// is; round-robin over seeds and axes so that a cap keeps variety.
struct Neighbourhood {
  std::size_t seeds = 16;         // how many of the heuristic's best to vary
  bool split_and_tile = true;     // also split-K, swizzle and tile (not only kernel variant and cluster)
};

std::vector<Candidate> neighbours(cublasLtHandle_t handle, const Setup& s, const Descs& d, std::size_t max_workspace,
                                  const std::vector<Candidate>& seeds, Neighbourhood how, std::size_t wanted) {
  std::vector<Candidate> out;
  std::set<std::string> seen;
  for (const auto& c : seeds) seen.insert(cublaslt::algo_name(c.config));
  const std::uint32_t admissible = admissible_reductions(s);
  std::vector<std::vector<AlgoConfig>> variants;
  for (std::size_t i = 0; i < std::min(seeds.size(), how.seeds); ++i) {
    const cublasLtMatmulAlgo_t& algo = seeds[i].algo;
    const AlgoConfig& base = seeds[i].config;
    const bool split = cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT, 0) != 0;
    const std::uint32_t mask = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK, 0) & admissible;
    const bool swizzle = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT, 0) != 0;
    const int custom_max = std::min(cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX, 0), 15);
    std::vector<AlgoConfig> custom, cluster, splits, tiles;
    for (int v = 0; v <= custom_max; ++v) {
      AlgoConfig c = base;
      c.custom = static_cast<std::uint32_t>(v);
      custom.push_back(c);
    }
    if (base.cluster_shape != 0) {  // cluster shapes exist (sm_90+): 1x1, 2x1, 1x2, 4x1, 1x4, 2x2
      for (std::uint16_t id : {CUBLASLT_CLUSTER_SHAPE_1x1x1, CUBLASLT_CLUSTER_SHAPE_2x1x1, CUBLASLT_CLUSTER_SHAPE_1x2x1,
                               CUBLASLT_CLUSTER_SHAPE_4x1x1, CUBLASLT_CLUSTER_SHAPE_1x4x1, CUBLASLT_CLUSTER_SHAPE_2x2x1}) {
        AlgoConfig c = base;
        c.cluster_shape = id;
        cluster.push_back(c);
      }
    }
    for (std::int32_t sk : {1, 2, 3, 4, 6, 8, 12, 16}) {
      if (!how.split_and_tile || (sk > 1 && !split)) break;
      AlgoConfig c = base;
      c.split_k = sk;
      if (sk == 1) {
        c.reduction = CUBLASLT_REDUCTION_SCHEME_NONE;
      } else if (!(base.reduction & mask)) {
        if (mask & CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE) c.reduction = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
        else if (mask) c.reduction = mask & (~mask + 1);
        else continue;
      }
      splits.push_back(c);
    }
    if (swizzle && how.split_and_tile) {
      AlgoConfig c = base;
      c.swizzle = base.swizzle ? 0 : 1;
      splits.push_back(c);
    }
    if (how.split_and_tile) {
      for (std::uint32_t tile : cap_array<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_TILE_IDS)) {
        AlgoConfig c = base;
        c.tile = tile;
        tiles.push_back(c);
      }
    }
    // Interleave the axes so that a cap takes some of each.
    std::vector<AlgoConfig> list;
    const std::vector<AlgoConfig>* axes[] = {&custom, &cluster, &splits, &tiles};
    for (std::size_t j = 0;; ++j) {
      bool any = false;
      for (const auto* axis : axes)
        if (j < axis->size()) {
          list.push_back((*axis)[j]);
          any = true;
        }
      if (!any) break;
    }
    variants.push_back(std::move(list));
  }
  for (std::size_t j = 0; out.size() < wanted; ++j) {
    bool any = false;
    for (const auto& list : variants) {
      if (j >= list.size() || out.size() >= wanted) continue;
      any = true;
      if (!seen.insert(cublaslt::algo_name(list[j])).second) continue;
      accept(handle, s, d, max_workspace, list[j], "neighbour of a heuristic result", out);
    }
    if (!any) break;
  }
  return out;
}

// Exhaustive: algorithm ids x the configurations their capabilities list,
// round-robin over ids so that a cap keeps variety, each one checked.
std::vector<Candidate> enumerate_configs(cublasLtHandle_t handle, const Setup& s, const Descs& d,
                                         std::size_t max_workspace, std::size_t wanted) {
  std::vector<Candidate> out;
  if (wanted == 0) return out;
  std::vector<int> ids(256);
  int count = 0;
  if (lt().cublasLtMatmulAlgoGetIds(handle, s.compute, s.scale_type, s.xt, s.yt, s.ct, s.dt,
                                    static_cast<int>(ids.size()), ids.data(), &count) != CUBLAS_STATUS_SUCCESS)
    return out;
  ids.resize(static_cast<std::size_t>(std::max(count, 0)));
  std::vector<std::vector<AlgoConfig>> per_id;
  for (int id : ids) {
    cublasLtMatmulAlgo_t algo;
    if (lt().cublasLtMatmulAlgoInit(handle, s.compute, s.scale_type, s.xt, s.yt, s.ct, s.dt, id, &algo) !=
        CUBLAS_STATUS_SUCCESS)
      continue;
    const auto epilogues = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_EPILOGUE_MASK, 0xffffffffu);
    if (s.epilogue != CUBLASLT_EPILOGUE_DEFAULT && (epilogues & s.epilogue) != static_cast<std::uint32_t>(s.epilogue))
      continue;
    if (s.bias_as_c && cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_OUT_OF_PLACE_RESULT_SUPPORT, 0) == 0) continue;
    auto tiles = cap_array<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_TILE_IDS);
    auto stages = cap_array<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_STAGES_IDS);
    if (tiles.empty()) tiles.push_back(CUBLASLT_MATMUL_TILE_UNDEFINED);
    if (stages.empty()) stages.push_back(CUBLASLT_MATMUL_STAGES_UNDEFINED);
    const bool split = cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT, 0) != 0;
    const auto reductions = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK, 0);
    const bool swizzle = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT, 0) != 0;
    const int custom_max = std::min(cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX, 0), 3);
    std::vector<AlgoConfig> configs;
    for (std::int32_t sk : {1, 2, 4, 8, 16}) {
      if (sk > 1 && !split) break;
      std::vector<std::uint32_t> schemes{CUBLASLT_REDUCTION_SCHEME_NONE};
      if (sk > 1) {
        schemes.clear();
        for (std::uint32_t bit : {CUBLASLT_REDUCTION_SCHEME_INPLACE, CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE,
                                  CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE})
          if (reductions & admissible_reductions(s) & bit) schemes.push_back(bit);
      }
      for (std::uint32_t tile : tiles)
        for (std::uint32_t stage : stages)
          for (std::uint32_t scheme : schemes)
            for (std::uint32_t swz = 0; swz <= (swizzle ? 1u : 0u); ++swz)
              for (int custom = 0; custom <= custom_max; ++custom) {
                AlgoConfig c;
                c.algo_id = id;
                c.tile = tile;
                c.stages = stage;
                c.split_k = sk;
                c.reduction = scheme;
                c.swizzle = swz;
                c.custom = static_cast<std::uint32_t>(custom);
                configs.push_back(c);
              }
    }
    if (!configs.empty()) per_id.push_back(std::move(configs));
  }
  // Checks are cheap (host only) but not free: bound them.
  constexpr std::size_t kMaxChecks = 6000;
  std::size_t checks = 0;
  for (std::size_t round = 0; out.size() < wanted && checks < kMaxChecks; ++round) {
    bool any = false;
    for (const auto& configs : per_id) {
      if (round >= configs.size()) continue;
      any = true;
      if (out.size() >= wanted || checks >= kMaxChecks) break;
      ++checks;
      accept(handle, s, d, max_workspace, configs[round], "enumerated", out);
    }
    if (!any) break;
  }
  return out;
}

std::string describe_candidate(const Candidate& c, const Setup& s) {
  std::ostringstream out;
  out << "cublasLtMatmul algo " << c.config.algo_id << " tile " << c.config.tile << " stages " << c.config.stages
      << " split-K " << c.config.split_k << " reduction " << c.config.reduction << " swizzle " << c.config.swizzle
      << " custom " << c.config.custom << " inner " << c.config.inner_shape << " cluster " << c.config.cluster_shape
      << "; " << c.origin << ", workspace " << c.workspace << " bytes, waves " << c.waves;
  if (s.fused_bias || s.epilogue != CUBLASLT_EPILOGUE_DEFAULT) out << "; fused epilogue";
  if (s.bias_as_c) out << "; full bias read as C (C != D), scaled by beta";
  if (s.fill_bias) out << "; bias copied into D before the call, scaled by beta";
  if (s.staged) out << "; f32 output staged then rounded once into C";
  if (s.post == Activation::gelu)
    out << "; gelu as a separate exact-erf pass (cuBLASLt's GELU epilogue is the tanh approximation)";
  else if (s.post == Activation::silu)
    out << "; silu as a separate pass (cuBLASLt has no silu epilogue)";
  else if (s.post != Activation::none)
    out << "; " << to_string(s.post) << " as a separate pass";
  if (s.variant.tf32) out << "; tf32 tensor cores";
  if (s.variant.fast_accum) out << "; fp8 fast accumulation";
  return out.str();
}

class LtKernel final : public Kernel {
 public:
  LtKernel(Problem problem, Setup setup, Descs descs, cublasLtMatmulAlgo_t algo, cublasLtHandle_t handle,
           CudaRuntime& rt, runtime::DeviceBuffer workspace, runtime::DeviceBuffer staging)
      : p_(std::move(problem)),
        s_(std::move(setup)),
        d_(std::move(descs)),
        algo_(algo),
        handle_(handle),
        rt_(rt),
        workspace_(std::move(workspace)),
        staging_(std::move(staging)) {}

  std::size_t workspace_bytes() const override { return workspace_.bytes() + staging_.bytes(); }

  Status run(const GemmArgs& args, const RunContext& ctx) override {
    if (cuda::output_is_empty(p_)) return Status::success();
    if (Status st = rt_.make_current(); !st) return st;
    auto stream = static_cast<CUstream>(ctx.stream);
    if (p_.k == 0) return cuda::launch_no_product(rt_, stream, p_, args.bias, args.c);
    void* out = s_.staged ? staging_.get() : args.c;
    if (s_.fill_bias) {
      if (Status st = cuda::launch_fill(rt_, stream, p_, args.bias, 1.0, out, s_.out); !st) return st;
    }
    if (s_.fused_bias) {
      const void* bias = args.bias;
      if (Status st = set_desc(d_.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias, "BIAS_POINTER"); !st) return st;
    }
    if (s_.fp8) {
      const void* x_scale = s_.x_scale_is_a ? args.scale_a : args.scale_b;
      const void* y_scale = s_.x_scale_is_a ? args.scale_b : args.scale_a;
      if (Status st = set_desc(d_.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, x_scale, "A_SCALE_POINTER"); !st)
        return st;
      if (Status st = set_desc(d_.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, y_scale, "B_SCALE_POINTER"); !st)
        return st;
    }
    const cuda::BlasScalars scalars(s_.scale_type, p_.alpha, s_.beta_call);
    const void* x = s_.g.swapped ? args.b : args.a;
    const void* y = s_.g.swapped ? args.a : args.b;
    const void* c = s_.bias_as_c ? args.bias : out;
    if (Status st = lt_check(lt().cublasLtMatmul(handle_, d_.op, scalars.alpha(), x, d_.x, y, d_.y, scalars.beta(), c,
                                                 d_.c, out, d_.d, &algo_, workspace_.get(), workspace_.bytes(),
                                                 reinterpret_cast<cudaStream_t>(stream)),
                             "cublasLtMatmul");
        !st)
      return st;
    return cuda::finish_output(rt_, stream, p_, s_.staged, out, s_.out, args.c, s_.post);
  }

 private:
  Problem p_;
  Setup s_;
  Descs d_;
  cublasLtMatmulAlgo_t algo_;
  cublasLtHandle_t handle_;  // the process's (lt_handle), never destroyed
  CudaRuntime& rt_;
  runtime::DeviceBuffer workspace_;
  runtime::DeviceBuffer staging_;
};

// Choices for shapes with no product to compute.
constexpr const char* kEmptyChoice = "lt_empty_output";
constexpr const char* kNoProductChoice = "lt_k0_beta_bias";

// The ways to run one problem, best first: fused epilogue, then without
// fusion, then with the bias copied rather than read as C. Duplicates (a
// problem with no epilogue gives the same setup each time) are dropped.
std::vector<Variant> variant_order(bool tf32, bool fast_accum) {
  return {Variant{tf32, true, true, fast_accum}, Variant{tf32, false, true, fast_accum},
          Variant{tf32, false, false, fast_accum}};
}

class CublasLtBackend final : public Backend {
 public:
  explicit CublasLtBackend(std::size_t max_workspace) : max_workspace_(max_workspace) {}

  std::string_view name() const override { return "CUBLASLT"; }
  DeviceKind device_kind() const override { return DeviceKind::cuda; }
  std::string version() const override {
    static const std::string v =
        lt().loaded ? "cublasLt-" + std::to_string(lt().cublasLtGetVersion()) : std::string("cublasLt-unavailable");
    return v;
  }
  Availability availability() const override {
    return cuda::gpu_library_availability(lt().loaded, "cuBLASLt", lt().error);
  }
  std::string capabilities() const override {
    return "mm addmm bmm baddbmm (f32, tf32 when allowed, f64, f16, bf16), int_mm (int8), scaled_mm (fp8 e4m3/e5m2, "
           "per-tensor scales; per-channel on sm_90; layout nt) through cublasLtMatmul; the heuristic's top "
           "algorithms (exhaustive: many more, enumerated); fused bias/relu epilogues, gelu/silu unfused; workspace "
           "up to " + std::to_string(max_workspace_ >> 20) + " MiB";
  }

  Expected<std::vector<Choice>> enumerate(const Problem& p, const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    CudaRuntime& rt = *device.value();
    if (Status st = rt.make_current(); !st) return st.error();
    auto handle = lt_handle();
    if (!handle) return handle.error();
    const bool exhaustive = ctx.search_space == SearchSpace::exhaustive;
    if (cuda::output_is_empty(p) || p.k == 0) {
      // No product to compute: no cuBLASLt call (it refuses such shapes);
      // the kernel writes act(beta * bias) or nothing. Same checks first.
      auto setup = make_setup(p, rt.info().sm(), Variant{});
      if (!setup) return setup.error();
      const bool empty = cuda::output_is_empty(p);
      return std::vector<Choice>{Choice{empty ? kEmptyChoice : kNoProductChoice,
                                        empty ? "empty output: nothing to compute, no cuBLASLt call"
                                              : "K = 0: C = act(beta * bias) (or zeros) by an elementwise kernel, "
                                                "no cuBLASLt call"}};
    }

    std::vector<std::pair<bool, bool>> modes{{false, false}};  // (tf32, fast_accum)
    if (p.a.dtype == DType::f32 && p.allow_tf32 && p.op != Op::int_mm && p.op != Op::scaled_mm)
      modes.push_back({true, false});
    if (p.op == Op::scaled_mm && exhaustive) modes.push_back({false, true});

    std::vector<Choice> out;
    std::set<std::string> names;
    std::optional<Rejection> first_error;
    for (auto [tf32, fast] : modes) {
      std::set<std::string> tried_tags;
      for (const Variant& v : variant_order(tf32, fast)) {
        auto setup = make_setup(p, rt.info().sm(), v);
        if (!setup) {
          if (!first_error) first_error = setup.error();
          break;  // the same reason holds for every variant
        }
        if (!tried_tags.insert(setup.value().tag).second) continue;
        auto descs = make_descs(p, setup.value(), max_workspace_);
        if (!descs) return descs.error();
        cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
        auto candidates = heuristic(handle.value(), descs.value(),
                                    exhaustive ? cublaslt::kExhaustiveHeuristicCount
                                               : cublaslt::kDefaultHeuristicCount,
                                    status);
        if (candidates.empty()) {
          if (!first_error)
            // The library declining (no algorithm, or parameters it does not
            // take) is "not for me"; only an internal failure is broken.
            first_error = reject(status == CUBLAS_STATUS_SUCCESS || status == CUBLAS_STATUS_NOT_SUPPORTED ||
                                         status == CUBLAS_STATUS_INVALID_VALUE
                                     ? Reason::unsupported_shape
                                     : Reason::runtime_error,
                                 "cuBLASLt's heuristic offers no algorithm for " + describe(p) + " (" +
                                     lt_status(status) + ")");
          continue;  // try the next, less fused, variant
        }
        // Default: the heuristic's best few plus its first algorithm's other
        // kernel variants and cluster shapes (on an H200 these held most of
        // what the whole neighbourhood found; bench/RESULTS.md). Exhaustive:
        // the neighbourhood of 16 seeds on every axis, then enumerated ids.
        const std::size_t limit = static_cast<std::size_t>(exhaustive ? cublaslt::kExhaustiveLimit
                                                                      : cublaslt::kDefaultLimit);
        auto room = [&] { return limit > candidates.size() ? limit - candidates.size() : std::size_t{0}; };
        const Neighbourhood how = exhaustive ? Neighbourhood{16, true} : Neighbourhood{1, false};
        auto near = neighbours(handle.value(), setup.value(), descs.value(), max_workspace_, candidates, how, room());
        candidates.insert(candidates.end(), near.begin(), near.end());
        if (exhaustive) {
          auto more = enumerate_configs(handle.value(), setup.value(), descs.value(), max_workspace_, room());
          candidates.insert(candidates.end(), more.begin(), more.end());
        }
        for (const Candidate& c : candidates) {
          std::string name = cublaslt::algo_name(c.config) + setup.value().tag;
          if (!names.insert(name).second) continue;
          // The name carries the variant (its tags) and the algorithm's
          // configuration: build() rebuilds both from it.
          out.push_back(Choice{std::move(name), describe_candidate(c, setup.value())});
        }
        break;  // the most fused variant that works is the one offered
      }
    }
    if (out.empty()) return first_error ? *first_error : reject(Reason::internal_error, "no cuBLASLt choice");
    return out;
  }

  Expected<std::unique_ptr<Kernel>> build(const Problem& p, const Choice& choice,
                                          const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    CudaRuntime& rt = *device.value();
    if (Status st = rt.make_current(); !st) return st.error();
    auto handle = lt_handle();
    if (!handle) return handle.error();

    if (choice.name == kEmptyChoice || choice.name == kNoProductChoice) {
      if (!(cuda::output_is_empty(p) || p.k == 0))
        return reject(Reason::internal_error, choice.name + " is only for empty outputs or K = 0");
      auto setup = make_setup(p, rt.info().sm(), Variant{});
      if (!setup) return setup.error();
      if (Status st = cuda::load_elementwise_kernels(rt); !st) return st.error();
      return std::unique_ptr<Kernel>(std::make_unique<LtKernel>(p, std::move(setup.value()), Descs{},
                                                                cublasLtMatmulAlgo_t{}, handle.value(), rt,
                                                                runtime::DeviceBuffer{}, runtime::DeviceBuffer{}));
    }
    // From the name alone: the variant whose tags the name carries and the
    // algorithm its fields describe.
    std::string tags;
    auto parsed = cublaslt::parse_algo_name(choice.name, &tags);
    if (!parsed) return reject(Reason::internal_error, "not a CUBLASLT choice name: " + choice.name);
    const bool tf32 = tags.find("_tf32") != std::string::npos;
    const bool fast = tags.find("_fastacc") != std::string::npos;
    std::optional<Setup> setup;
    std::optional<cublasLtMatmulAlgo_t> algo;
    for (const Variant& v : variant_order(tf32, fast)) {
      auto made = make_setup(p, rt.info().sm(), v);
      if (!made) return made.error();
      if (made.value().tag != tags) continue;
      setup = std::move(made.value());
      auto found = algo_from_config(handle.value(), *setup, *parsed);
      if (!found) return found.error();
      algo = found.value();
      break;
    }
    if (!setup) return reject(Reason::internal_error, "no way of running this problem matches " + choice.name);

    auto descs = make_descs(p, *setup, max_workspace_);
    if (!descs) return descs.error();
    const Descs& d = descs.value();
    cublasLtMatmulHeuristicResult_t result{};
    if (cublasStatus_t st = lt().cublasLtMatmulAlgoCheck(handle.value(), d.op, d.x, d.y, d.c, d.d, &*algo,
                                                         &result);
        st != CUBLAS_STATUS_SUCCESS || result.state != CUBLAS_STATUS_SUCCESS)
      return reject(Reason::unsupported_shape, "cublasLtMatmulAlgoCheck refuses " + choice.name + " for " +
                                                   describe(p) + ": " +
                                                   lt_status(st != CUBLAS_STATUS_SUCCESS ? st : result.state));
    if (result.workspaceSize > max_workspace_)
      return reject(Reason::out_of_resources, choice.name + " needs " + std::to_string(result.workspaceSize) +
                                                  " bytes of workspace, over the " + std::to_string(max_workspace_) +
                                                  " allowed");
    runtime::DeviceBuffer workspace, staging;
    if (result.workspaceSize > 0) {
      auto buffer = rt.allocate(result.workspaceSize);
      if (!buffer) return buffer.error();
      workspace = std::move(buffer.value());
    }
    if (setup->staged) {
      auto buffer = cuda::allocate_staging(rt, p);
      if (!buffer) return buffer.error();
      staging = std::move(buffer.value());
    }
    if (setup->fill_bias || setup->staged || setup->post != Activation::none || p.k == 0) {
      if (Status st = cuda::load_elementwise_kernels(rt); !st) return st.error();
    }
    return std::unique_ptr<Kernel>(std::make_unique<LtKernel>(p, std::move(*setup), std::move(descs.value()),
                                                              *algo, handle.value(), rt, std::move(workspace),
                                                              std::move(staging)));
  }

 private:
  std::size_t max_workspace_;
};

}  // namespace

std::shared_ptr<Backend> make_cublaslt_backend(std::size_t max_workspace_bytes) {
  return std::make_shared<CublasLtBackend>(max_workspace_bytes);
}

}  // namespace gemmtune::backends
