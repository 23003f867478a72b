// CUBLASLT: how one problem runs, given a variant -- the compute and data
// types, the column-major mapping, and the epilogue decisions: what
// cuBLASLt's own epilogue does (bias, relu, gelu_tanh), what it reads as C,
// what the elementwise pass does around the call, and the tags that name
// all of this in a choice name.
//
// Exactness: every result is rounded once, from the f32 (f64) value with
// the whole epilogue applied. cuBLASLt's epilogue works in the compute type
// before its one rounding, so what it does is exact; a 16-bit output whose
// remaining epilogue is not the identity on rounded values (a bias, or any
// activation but relu) is staged in f32 and the pass rounds it.
// Its GELU epilogue is the tanh form: it serves gelu_tanh (never gelu, the
// erf form); that it meets the f32 tolerance is left to verification, with
// the unfused variant offered beside it (see the backend's enumerate).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "runtime/cuda/blas_common.h"

namespace gemmtune::backends::cublaslt {

// The ways of running a problem that change the kernel, besides the
// algorithm.
struct Variant {
  bool tf32 = false;        // f32 through tf32 tensor cores (problem allows it)
  bool fuse = true;         // bias, relu, gelu_tanh in cuBLASLt's epilogue where it has them
  bool bias_as_c = true;    // a full bias read as C (C != D) rather than added by the pass
  bool fast_accum = false;  // fp8 fast accumulation
};

// The ways to run one problem, best first: fused epilogue, then without
// fusion, then with the bias added by the pass rather than read as C.
// Setups that come out the same (a problem with no epilogue gives one
// setup) have the same tag: callers drop the repeats.
std::vector<Variant> variant_order(bool tf32, bool fast_accum);

// Where the bias is added.
enum class BiasRoute : std::uint8_t {
  none,      // no bias, or beta = 0
  epilogue,  // cuBLASLt's BIAS epilogue (row bias, beta = 1)
  as_c,      // read as C (full bias, C != D), scaled by the call's beta
  fill,      // copied into D before the call, scaled by the call's beta
  pass,      // added by the pass after the call
};

// Everything derived from (problem, variant).
struct Setup {
  Variant variant;
  cuda::BlasGemm g;
  MatrixDesc out;  // what cublasLtMatmul writes (C or the f32 staging)
  cuda::AroundCall around;
  BiasRoute bias = BiasRoute::none;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cudaDataType scale_type = CUDA_R_32F, xt = CUDA_R_32F, yt = CUDA_R_32F, ct = CUDA_R_32F, dt = CUDA_R_32F;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  cuda::BlasOperand c_operand;  // the bias as C (BiasRoute::as_c)
  double beta_call = 0;
  bool fp8 = false;
  ScaleKind x_scale = ScaleKind::none, y_scale = ScaleKind::none;
  bool x_scale_is_a = true;  // Lt's A scale is the problem's scale_a (else scale_b)
  std::string tag;           // "_tf32_ebiasrelu", "_pbias_f32out_pgelu", ...

  bool fused_bias() const { return bias == BiasRoute::epilogue; }
  bool bias_as_c() const { return bias == BiasRoute::as_c; }
  bool staged() const { return around.staged; }
  // cuBLASLt's GELU (the tanh form) computes the activation: verification
  // decides whether its accuracy is enough.
  bool fused_gelu() const {
    return epilogue == CUBLASLT_EPILOGUE_GELU || epilogue == CUBLASLT_EPILOGUE_GELU_BIAS;
  }
};

// The setup of a problem, or why cuBLASLt cannot run it (dtype, op,
// layout, fp8 constraints). Also made for problems with no product (K = 0,
// alpha = 0), so that they are refused for the same reasons.
Expected<Setup> make_setup(const Problem&, int sm, const Variant&);

// The epilogue part of a choice's description ("; fused epilogue RELU_BIAS;
// f32 output staged, then one pass: gelu, rounded once into C").
std::string describe_epilogue(const Setup&, const Problem&);

}  // namespace gemmtune::backends::cublaslt
