#include "backends/cublaslt/lt_epilogue.h"

namespace gemmtune::backends::cublaslt {
namespace {

bool is_half(DType t) { return t == DType::f16 || t == DType::bf16; }

const char* epilogue_tag(cublasLtEpilogue_t e) {
  switch (e) {
    case CUBLASLT_EPILOGUE_BIAS: return "_ebias";
    case CUBLASLT_EPILOGUE_RELU_BIAS: return "_ebiasrelu";
    case CUBLASLT_EPILOGUE_GELU_BIAS: return "_ebiasgelu";
    case CUBLASLT_EPILOGUE_RELU: return "_erelu";
    case CUBLASLT_EPILOGUE_GELU: return "_egelu";
    default: return "";
  }
}

const char* epilogue_name(cublasLtEpilogue_t e) {
  switch (e) {
    case CUBLASLT_EPILOGUE_BIAS: return "BIAS";
    case CUBLASLT_EPILOGUE_RELU_BIAS: return "RELU_BIAS";
    case CUBLASLT_EPILOGUE_GELU_BIAS: return "GELU_BIAS (tanh form)";
    case CUBLASLT_EPILOGUE_RELU: return "RELU";
    case CUBLASLT_EPILOGUE_GELU: return "GELU (tanh form)";
    default: return "DEFAULT";
  }
}

// The epilogue decisions of a problem with a product (see the header):
// the bias route, staging, and what cuBLASLt's epilogue does.
void decide_epilogue(const Problem& p, const Variant& v, bool swapped, Setup& s) {
  const Activation act = p.activation;
  const bool half = is_half(p.c.dtype);
  // Activations cuBLASLt's epilogue computes as gemmtune defines them. Its
  // GELU is within bf16's and f32's verification bounds but not f16's: on
  // an H100 (CUDA 13.0) an f16 output came out one f16 ulp off (error
  // 1.8e-3 against the 1.7e-3 allowed at 3.07), so f16 keeps gelu_tanh in
  // the pass. Its RELU turns NaN into 0 in f32 kernels (an H100, CUDA 13.0:
  // algo 20 of an f32 mm, GpuSpecialValues), where PyTorch's relu keeps NaN;
  // the kernels for 16-bit inputs there kept it, with 16-bit and f32 outputs
  // (LibraryEpilogues.ReluKeepsNanThroughEveryChoice). So relu is fused only
  // for bf16/f16 inputs; the others take it in the pass.
  const bool act_fusable =
      v.fuse && p.op != Op::int_mm &&
      ((act == Activation::relu && is_half(p.a.dtype)) ||
       (act == Activation::gelu_tanh && p.c.dtype != DType::f16));

  // 1. The bias: cuBLASLt's bias epilogue is one value per row of D, which
  // in the swapped (row-major C) form is gemmtune's row bias; it adds the
  // bias unscaled. C must have D's dtype, so a 16-bit output reads an f32
  // bias as C only when staged in f32 (and never a 16-bit bias: cuBLAS
  // rounds alpha*A.B before adding beta*C there).
  bool pending = false;
  if (cuda::has_bias(p)) {
    if (v.fuse && p.bias == BiasKind::row && p.beta == 1.0 && swapped && p.op != Op::int_mm &&
        (p.bias_desc.col_stride == 1 || p.n <= 1)) {
      s.bias = BiasRoute::epilogue;
    } else if (p.bias == BiasKind::full && v.bias_as_c && p.bias_desc.dtype == (half ? DType::f32 : p.c.dtype)) {
      if (auto c = cuda::as_output_operand(p.bias_desc, swapped)) {
        s.bias = BiasRoute::as_c;
        s.c_operand = *c;
      } else {
        pending = true;
      }
    } else {
      pending = true;
    }
  }
  const bool bias_done_by_call = !pending && (s.bias == BiasRoute::none || s.bias == BiasRoute::epilogue);

  // 2. A 16-bit output is staged unless all that remains is exact on the
  // rounded value: nothing, or relu.
  s.around.staged = half && (!bias_done_by_call || (cuda::is_smooth(act) && !act_fusable));

  // 3. A bias no library path takes: filled into D for the call's beta*C
  // where the call then finishes the epilogue (one pass, before it), else
  // added by the pass after it (which runs anyway).
  if (pending) s.bias = !s.around.staged && (act == Activation::none || act_fusable) ? BiasRoute::fill : BiasRoute::pass;

  // 4. The activation in cuBLASLt's epilogue where everything before it
  // happens in the call and nothing is staged.
  const bool act_in_call = act != Activation::none && act_fusable && !s.around.staged && s.bias != BiasRoute::pass;
  if (s.bias == BiasRoute::epilogue) {
    s.epilogue = !act_in_call                  ? CUBLASLT_EPILOGUE_BIAS
                 : act == Activation::relu     ? CUBLASLT_EPILOGUE_RELU_BIAS
                                               : CUBLASLT_EPILOGUE_GELU_BIAS;
  } else if (act_in_call) {
    s.epilogue = act == Activation::relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_GELU;
  }
  s.around.fill = s.bias == BiasRoute::fill;
  s.around.bias_in_pass = s.bias == BiasRoute::pass;
  s.around.pass_act = act_in_call ? Activation::none : act;
  s.beta_call = s.bias == BiasRoute::as_c || s.bias == BiasRoute::fill ? p.beta : 0.0;
}

}  // namespace

std::vector<Variant> variant_order(bool tf32, bool fast_accum) {
  return {Variant{tf32, true, true, fast_accum}, Variant{tf32, false, true, fast_accum},
          Variant{tf32, false, false, fast_accum}};
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

  decide_epilogue(p, v, cuda::writes_row_major(p), s);
  s.out = s.staged() ? cuda::staging_desc(p) : p.c;
  auto g = cuda::map_to_column_major(p, s.out);
  if (!g) return g.error();
  s.g = g.value();
  s.xt = cuda::to_cuda_dtype(s.g.swapped ? p.b.dtype : p.a.dtype);
  s.yt = cuda::to_cuda_dtype(s.g.swapped ? p.a.dtype : p.b.dtype);
  s.dt = cuda::to_cuda_dtype(s.out.dtype);
  s.ct = s.dt;

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
  tag += epilogue_tag(s.epilogue);
  if (s.bias == BiasRoute::as_c) tag += "_cbias";
  if (s.bias == BiasRoute::fill) tag += "_fbias";
  if (s.bias == BiasRoute::pass) tag += "_pbias";
  if (s.staged()) tag += "_f32out";
  if (s.around.pass_act != Activation::none) tag += "_p" + std::string(to_string(s.around.pass_act));
  if (v.fast_accum) tag += "_fastacc";
  s.tag = tag;
  return s;
}

std::string describe_epilogue(const Setup& s, const Problem& p) {
  std::string out;
  if (s.epilogue != CUBLASLT_EPILOGUE_DEFAULT) out += std::string("; fused epilogue ") + epilogue_name(s.epilogue);
  if (s.bias == BiasRoute::as_c) out += "; full bias read as C (C != D), scaled by beta";
  out += cuda::describe(s.around, p);
  if (s.around.pass_act == Activation::gelu && p.activation == Activation::gelu)
    out += " (gelu is the exact erf form; cuBLASLt's GELU epilogue is the tanh form)";
  else if (s.around.pass_act == Activation::silu)
    out += " (cuBLASLt has no silu epilogue)";
  if (s.variant.tf32) out += "; tf32 tensor cores";
  if (s.variant.fast_accum) out += "; fp8 fast accumulation";
  return out;
}

}  // namespace gemmtune::backends::cublaslt
