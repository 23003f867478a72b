// The elementwise epilogue pass that CUBLAS and CUBLASLT run around a
// library GEMM where the library cannot apply the epilogue itself:
//   dst = act(src + beta * bias), rounded once to dst's dtype,
// with src the library's output (C itself, or an f32 staging buffer), or no
// src at all when there is no product (K = 0, alpha = 0). One kernel
// template (device_kernels.cpp's epilogue_template_source()) instantiated per
// (output, input, bias) dtype and activation; each instantiation is compiled
// by NVRTC on first use on a device (at build, so that a compile error is a
// build rejection) and kept for the process.
//
// Memory speed: 16-byte loads and stores along the unit-stride axis of the
// output where every row is 16-byte aligned (an element at a time
// otherwise), no division, the dtypes and the activation fixed at compile
// time, f32 arithmetic for 16- and 32-bit floats.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "runtime/cuda/cuda_api.h"
#include "runtime/cuda/device_kernels.h"

namespace gemmtune::cuda {

class CudaRuntime;

// One instantiation: the dtypes of dst, src and bias, and the activation.
struct EpilogueKernel {
  DType out = DType::f32;
  DType in = DType::f32;
  DType bias = DType::f32;
  Activation act = Activation::none;
  friend bool operator==(const EpilogueKernel&, const EpilogueKernel&) = default;
};

// "gemmtune_epilogue_bf16_f32_f32_gelu_tanh"
std::string kernel_name(const EpilogueKernel&);

// Every instantiation a problem can need: f32, f64 (any activation, same
// dtype in and bias); f16/bf16 out of f32 staging with a bias in the output
// dtype or f32 (any activation); f16/bf16 in place (relu: the only
// activation that commutes with rounding); i32 (none, relu).
const std::vector<EpilogueKernel>& all_epilogue_kernels();

// The instantiation for an output dtype, what src holds (nullopt: no src;
// the kernel then reads none), the bias dtype (nullopt: no bias) and the
// activation; internal_error when no instantiation exists (a planning bug).
Expected<EpilogueKernel> epilogue_kernel_for(DType out, std::optional<DType> src, std::optional<DType> bias,
                                             Activation);

// epilogue_template_source() followed by the extern "C" kernels of `kernels`.
std::string epilogue_source(const std::vector<EpilogueKernel>& kernels);

// What one pass reads and writes. Every matrix has the problem's shape
// (batch x m x n); a row bias is 1 x n, broadcast over the rows.
struct EpilogueOperands {
  const void* src = nullptr;  // null: no product (the value before bias is 0)
  MatrixDesc src_desc;
  const void* bias = nullptr;  // null: no bias
  MatrixDesc bias_desc;
  bool row_bias = false;
  double beta = 1;
  void* dst = nullptr;
  MatrixDesc dst_desc;
  std::int64_t batch = 1, m = 0, n = 0;
};

// The kernel's parameters and launch shape for these operands: the inner
// axis is the output's unit-stride one (its columns unless it is column-
// major); 16-byte vectors where every operand allows them; 256-thread
// blocks shaped to the inner extent; rows and batches walked by grid
// strides, about two waves of blocks over `sm_count` SMs.
struct EpilogueLaunch {
  EpilogueParams params;
  std::array<unsigned, 3> grid{1, 1, 1};
  std::array<unsigned, 3> block{1, 1, 1};
  bool empty = false;  // nothing to write
};
EpilogueLaunch plan_epilogue_launch(const EpilogueOperands&, int sm_count);

// A loaded instantiation, ready to launch on its device.
struct EpiloguePass {
  EpilogueKernel kernel;
  CUfunction function = nullptr;
};

// Compiles the kernel for this device on first use (later calls look it up;
// a compile error is remembered and returned again).
Expected<EpiloguePass> load_epilogue(CudaRuntime&, const EpilogueKernel&);

// Queues the pass on `stream`.
Status launch_epilogue(CudaRuntime&, CUstream, const EpiloguePass&, const EpilogueOperands&);

}  // namespace gemmtune::cuda
