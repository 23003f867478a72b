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

bool needs_f32_staging(const Problem& p) {
  const bool half_output = p.c.dtype == DType::bf16 || p.c.dtype == DType::f16;
  if (p.bias != BiasKind::none && p.bias_desc.dtype != p.c.dtype) return true;
  return half_output && (p.bias != BiasKind::none || p.activation == Activation::gelu ||
                         p.activation == Activation::silu);
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

Status launch_fill(CudaRuntime& rt, CUstream stream, const Problem& p, const void* bias, double scale, void* dst,
                   const MatrixDesc& dst_desc) {
  FillParams params;
  if (bias != nullptr && p.bias != BiasKind::none) {
    params.bias = device_matrix(p.bias_desc, bias);
    params.row_bias = p.bias == BiasKind::row;
  }
  params.dst = dst;
  params.dst_rs = dst_desc.row_stride;
  params.dst_cs = dst_desc.col_stride;
  params.dst_bs = dst_desc.batch_stride;
  params.batch = p.batch;
  params.m = p.m;
  params.n = p.n;
  params.scale = scale;
  params.dst_dtype = static_cast<std::int32_t>(dst_desc.dtype);
  return rt.launch_elementwise(kFillKernel, p.batch * p.m * p.n, &params, stream);
}

Status launch_finish(CudaRuntime& rt, CUstream stream, const Problem& p, const void* src, const MatrixDesc& src_desc,
                     void* dst, const MatrixDesc& dst_desc, Activation activation) {
  FinishParams params;
  params.src = device_matrix(src_desc, src);
  params.dst = dst;
  params.dst_rs = dst_desc.row_stride;
  params.dst_cs = dst_desc.col_stride;
  params.dst_bs = dst_desc.batch_stride;
  params.batch = p.batch;
  params.m = p.m;
  params.n = p.n;
  params.dst_dtype = static_cast<std::int32_t>(dst_desc.dtype);
  params.activation = static_cast<std::int32_t>(activation);
  return rt.launch_elementwise(kFinishKernel, p.batch * p.m * p.n, &params, stream);
}

Status launch_no_product(CudaRuntime& rt, CUstream stream, const Problem& p, const void* bias, void* c) {
  // beta = 0 never reads the bias: 0 * NaN would be NaN.
  if (Status s = launch_fill(rt, stream, p, bias_term_absent(p) ? nullptr : bias, p.beta, c, p.c); !s) return s;
  if (p.activation == Activation::none) return Status::success();
  return launch_finish(rt, stream, p, c, p.c, c, p.c, p.activation);
}

Status finish_output(CudaRuntime& rt, CUstream stream, const Problem& p, bool staged, const void* staging,
                     const MatrixDesc& staging_desc, void* c, Activation post) {
  if (staged) return launch_finish(rt, stream, p, staging, staging_desc, c, p.c, post);
  if (post == Activation::none) return Status::success();
  return launch_finish(rt, stream, p, c, p.c, c, p.c, post);
}

Expected<runtime::DeviceBuffer> allocate_staging(CudaRuntime& rt, const Problem& p) {
  return rt.allocate(static_cast<std::size_t>(p.batch * p.m * p.n) * sizeof(float));
}

Status load_elementwise_kernels(CudaRuntime& rt) {
  for (const char* fn : {kFillKernel, kFinishKernel})
    if (auto f = rt.function(fn); !f) return f.error();
  return Status::success();
}

std::optional<BlasOperand> as_output_operand(const MatrixDesc& desc, bool swapped) {
  return as_plain(swapped ? transpose(view(desc)) : view(desc));
}

bool output_is_empty(const Problem& p) { return p.batch == 0 || p.m == 0 || p.n == 0; }

Availability gpu_library_availability(bool library_loaded, const std::string& library, const std::string& error) {
  const Availability device = cuda_device(0).availability();
  if (!device.available) return device;
  if (!library_loaded) return Availability::no("no " + library + " (" + error + ")");
  return Availability::yes();
}

}  // namespace gemmtune::cuda
