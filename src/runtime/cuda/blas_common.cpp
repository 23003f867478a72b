#include "runtime/cuda/blas_common.h"

#include <algorithm>
#include <optional>

namespace gemmtune::cuda {
namespace {

struct View {
  std::int64_t rows, cols, rs, cs, bs;
};

View view(const MatrixDesc& d) { return View{d.rows, d.cols, d.row_stride, d.col_stride, d.batch_stride}; }
View transpose(View v) { return View{v.cols, v.rows, v.cs, v.rs, v.bs}; }

// Column-major as it is: (i, j) at i + j*ld.
std::optional<BlasOperand> as_plain(const View& v) {
  const std::int64_t rows = std::max<std::int64_t>(v.rows, 1);
  if ((v.rows <= 1 || v.rs == 1) && (v.cols <= 1 || v.cs >= rows)) {
    const std::int64_t ld = std::max(v.cols <= 1 ? rows : v.cs, rows);
    return BlasOperand{false, ld, v.bs, v.rows, v.cols};
  }
  return std::nullopt;
}

// Stored as the transpose: (i, j) at j + i*ld.
std::optional<BlasOperand> as_transposed(const View& v) {
  const std::int64_t cols = std::max<std::int64_t>(v.cols, 1);
  if ((v.cols <= 1 || v.cs == 1) && (v.rows <= 1 || v.rs >= cols)) {
    const std::int64_t ld = std::max(v.rows <= 1 ? cols : v.rs, cols);
    return BlasOperand{true, ld, v.bs, v.cols, v.rows};
  }
  return std::nullopt;
}

std::optional<BlasOperand> as_operand(const View& v) {
  if (auto plain = as_plain(v)) return plain;
  return as_transposed(v);
}

std::string strides_text(const char* name, const MatrixDesc& d) {
  return std::string(name) + " (" + std::to_string(d.rows) + "x" + std::to_string(d.cols) + ", row stride " +
         std::to_string(d.row_stride) + ", column stride " + std::to_string(d.col_stride) + ")";
}

}  // namespace

cudaDataType to_cuda_dtype(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::f64: return CUDA_R_64F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
    case DType::i8: return CUDA_R_8I;
    case DType::u8: return CUDA_R_8U;
    case DType::i32: return CUDA_R_32I;
    case DType::f8e4m3: return CUDA_R_8F_E4M3;
    case DType::f8e5m2: return CUDA_R_8F_E5M2;
  }
  return CUDA_R_32F;
}

cudaDataType scale_type_of(cublasComputeType_t compute) {
  switch (compute) {
    case CUBLAS_COMPUTE_64F: return CUDA_R_64F;
    case CUBLAS_COMPUTE_32I: return CUDA_R_32I;
    default: return CUDA_R_32F;
  }
}

BlasScalars::BlasScalars(cudaDataType scale_type, double alpha, double beta)
    : f32_{static_cast<float>(alpha), static_cast<float>(beta)}, f64_{alpha, beta} {
  if (scale_type == CUDA_R_64F) {
    alpha_ = &f64_[0];
    beta_ = &f64_[1];
  } else if (scale_type == CUDA_R_32I) {
    alpha_ = &i32_[0];
    beta_ = &i32_[1];
  } else {
    alpha_ = &f32_[0];
    beta_ = &f32_[1];
  }
}

bool has_bias(const Problem& p) { return !bias_term_absent(p); }

bool is_smooth(Activation a) { return a != Activation::none && a != Activation::relu; }

bool needs_f32_staging(const Problem& p) {
  const bool half_output = p.c.dtype == DType::bf16 || p.c.dtype == DType::f16;
  return half_output && (has_bias(p) || is_smooth(p.activation));
}

bool writes_row_major(const Problem& p) { return p.c.col_stride == 1 || p.c.cols <= 1; }

MatrixDesc staging_desc(const Problem& p) {
  MatrixDesc d = writes_row_major(p) ? MatrixDesc::row_major(DType::f32, p.m, p.n)
                                     : MatrixDesc::col_major(DType::f32, p.m, p.n);
  d.batch_stride = p.m * p.n;
  return d;
}

Expected<BlasGemm> map_to_column_major(const Problem& p, const MatrixDesc& output) {
  BlasGemm g;
  g.swapped = output.col_stride == 1 || output.cols <= 1;
  if (!g.swapped && !(output.row_stride == 1 || output.rows <= 1))
    return reject(Reason::unsupported_layout,
                  strides_text("C", output) + " has no unit stride; a column-major BLAS writes row- or column-major C");
  const View a = view(p.a), b = view(p.b), c = view(output);
  const View x = g.swapped ? transpose(b) : a;
  const View y = g.swapped ? transpose(a) : b;
  const View d = g.swapped ? transpose(c) : c;
  g.m = g.swapped ? p.n : p.m;
  g.n = g.swapped ? p.m : p.n;
  g.k = p.k;
  auto xo = as_operand(x);
  if (!xo)
    return reject(Reason::unsupported_layout, strides_text(g.swapped ? "B" : "A", g.swapped ? p.b : p.a) +
                                                  " has no unit stride in either dimension");
  auto yo = as_operand(y);
  if (!yo)
    return reject(Reason::unsupported_layout, strides_text(g.swapped ? "A" : "B", g.swapped ? p.a : p.b) +
                                                  " has no unit stride in either dimension");
  auto dout = as_plain(d);
  if (!dout) return reject(Reason::unsupported_layout, strides_text("C", output) + " cannot be written column-major");
  g.x = *xo;
  g.y = *yo;
  g.d = *dout;
  return g;
}

AroundCall without_product(const Problem& p) {
  AroundCall plan;
  plan.call = false;
  plan.bias_in_pass = has_bias(p);
  plan.pass_act = p.activation;
  return plan;
}

AroundCall plain_library_call(const Problem& p) {
  if (product_term_absent(p)) return without_product(p);
  AroundCall plan;
  plan.staged = needs_f32_staging(p);
  if (!plan.staged && has_bias(p) && p.activation == Activation::none) {
    plan.fill = true;
  } else {
    plan.bias_in_pass = has_bias(p);
    plan.pass_act = p.activation;
  }
  return plan;
}

std::string describe(const AroundCall& plan, const Problem& p) {
  std::string out;
  if (!plan.call) {
    out = p.k == 0 ? "; K = 0" : "; alpha = 0";
    out += ": no library call, one pass writes ";
    out += has_bias(p) ? "act(beta*bias)" : "act(0)";
    return out;
  }
  if (plan.fill) out += "; bias copied into C before the call, scaled by its beta";
  if (!plan.pass()) return out;
  out += plan.staged ? "; f32 output staged, then one pass:" : "; then one pass over C:";
  if (plan.bias_in_pass) out += " + beta*bias";
  if (plan.pass_act != Activation::none) out += std::string(plan.bias_in_pass ? "," : "") + " " +
                                                std::string(to_string(plan.pass_act));
  if (plan.staged) out += std::string(plan.bias_in_pass || plan.pass_act != Activation::none ? "," : "") +
                          " rounded once into C";
  return out;
}

Expected<LibraryEpilogue> LibraryEpilogue::make(CudaRuntime& rt, const Problem& p, const AroundCall& plan) {
  LibraryEpilogue e;
  e.p_ = p;
  e.plan_ = plan;
  e.call_out_ = plan.staged ? staging_desc(p) : p.c;
  if (plan.staged) {
    auto buffer = rt.allocate(static_cast<std::size_t>(p.batch * p.m * p.n) * sizeof(float));
    if (!buffer) return buffer.error();
    e.staging_ = std::move(buffer.value());
  }
  const std::optional<DType> bias_dtype = has_bias(p) ? std::optional<DType>(p.bias_desc.dtype) : std::nullopt;
  if (plan.fill) {
    auto kernel = epilogue_kernel_for(e.call_out_.dtype, std::nullopt, bias_dtype, Activation::none);
    if (!kernel) return kernel.error();
    auto loaded = load_epilogue(rt, kernel.value());
    if (!loaded) return loaded.error();
    e.fill_ = loaded.value();
  }
  if (plan.pass()) {
    auto kernel = epilogue_kernel_for(p.c.dtype, plan.call ? std::optional<DType>(e.call_out_.dtype) : std::nullopt,
                                      plan.bias_in_pass ? bias_dtype : std::nullopt, plan.pass_act);
    if (!kernel) return kernel.error();
    auto loaded = load_epilogue(rt, kernel.value());
    if (!loaded) return loaded.error();
    e.pass_ = loaded.value();
  }
  return e;
}

Status LibraryEpilogue::before(CudaRuntime& rt, CUstream stream, const void* bias, void* c) const {
  if (!fill_) return Status::success();
  EpilogueOperands op;
  op.bias = bias;
  op.bias_desc = p_.bias_desc;
  op.row_bias = p_.bias == BiasKind::row;
  op.beta = 1.0;  // the call applies beta
  op.dst = call_output(c);
  op.dst_desc = call_out_;
  op.batch = p_.batch;
  op.m = p_.m;
  op.n = p_.n;
  return launch_epilogue(rt, stream, *fill_, op);
}

Status LibraryEpilogue::after(CudaRuntime& rt, CUstream stream, const void* bias, void* c) const {
  if (!pass_) return Status::success();
  EpilogueOperands op;
  if (plan_.call) {
    op.src = call_output(c);
    op.src_desc = call_out_;
  }
  if (plan_.bias_in_pass) {
    op.bias = bias;
    op.bias_desc = p_.bias_desc;
    op.row_bias = p_.bias == BiasKind::row;
  }
  op.beta = p_.beta;
  op.dst = c;
  op.dst_desc = p_.c;
  op.batch = p_.batch;
  op.m = p_.m;
  op.n = p_.n;
  return launch_epilogue(rt, stream, *pass_, op);
}

std::optional<BlasOperand> as_output_operand(const MatrixDesc& desc, bool swapped) {
  return as_plain(swapped ? transpose(view(desc)) : view(desc));
}

bool output_is_empty(const Problem& p) { return p.batch == 0 || p.m == 0 || p.n == 0; }

Availability gpu_device_availability() { return cuda_device(0).availability(); }

}  // namespace gemmtune::cuda
