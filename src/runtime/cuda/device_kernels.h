// Device code compiled with NVRTC: the exact reference (element by element,
// as src/backends/reference/reference_math.cpp defines it) and the gather of
// sampled output elements, compiled once per process, and the epilogue pass
// the library backends run around a GEMM call (bias, activation, conversion
// out of f32 staging), one instantiation per dtype combination and
// activation, compiled when first needed.
//
// The parameter structs are shared with the host: the host copies below and
// the ones inside kKernelSource must stay identical (fields ordered by
// alignment so no compiler inserts padding differently; sizes are asserted).
#pragma once

#include <cstdint>
#include <string>

namespace gemmtune::cuda {

// A matrix on the device: element (b, i, j) at data + b*bs + i*rs + j*cs.
// dtype is static_cast<int>(gemmtune::DType).
struct DeviceMatrix {
  std::int64_t rows = 0, cols = 0, rs = 0, cs = 0, bs = 0;
  const void* data = nullptr;
  std::int32_t dtype = 0;
  std::int32_t pad = 0;
};
static_assert(sizeof(DeviceMatrix) == 56);

struct ReferenceParams {
  DeviceMatrix a, b, bias;
  std::int64_t k = 0;
  std::int64_t count = 0;          // output elements to compute
  double alpha = 1, beta = 1;
  const float* scale_a = nullptr;  // f32 scales (scaled_mm, mixed_mm)
  const float* scale_b = nullptr;
  const std::int64_t* indices = nullptr;  // (batch, row, col) per element
  double* out = nullptr;                  // (value, magnitude) per element
  std::int32_t integer = 0;      // int_mm: int64 sum wrapped to int32
  std::int32_t bias_kind = 0;    // static_cast<int>(BiasKind)
  std::int32_t activation = 0;   // static_cast<int>(Activation)
  std::int32_t scale_a_kind = 0; // static_cast<int>(ScaleKind), 0 when unscaled
  std::int32_t scale_b_kind = 0;
  std::int32_t wide = 0;         // f64 inputs: double-double accumulation
};
static_assert(sizeof(ReferenceParams) == 3 * 56 + 8 * 8 + 6 * 4);

// DeviceRuntime::gather on the device: out[s] = the `width`-byte element
// at src + offsets[s] * width, for s < count (one thread per element).
struct GatherParams {
  const unsigned char* src = nullptr;
  const std::int64_t* offsets = nullptr;
  unsigned char* out = nullptr;
  std::int64_t count = 0;
  std::int32_t width = 0;  // 1, 2, 4 or 8
  std::int32_t pad = 0;
};
static_assert(sizeof(GatherParams) == 4 * 8 + 2 * 4);

// One unfused epilogue pass (kEpilogueSource; launched by epilogue_pass.h):
// dst = act(src + beta * bias) over batch x outer x inner elements, element
// (b, o, i) of X at X + b*X_bs + o*X_os + i*X_is. src null: no product;
// bias null: no bias. `vector`: the inner strides of src and dst are 1, the
// bias's 0 or 1, and every row starts 16-byte aligned.
struct EpilogueParams {
  const void* src = nullptr;
  const void* bias = nullptr;
  void* dst = nullptr;
  std::int64_t src_os = 0, src_is = 0, src_bs = 0;
  std::int64_t bias_os = 0, bias_is = 0, bias_bs = 0;
  std::int64_t dst_os = 0, dst_is = 0, dst_bs = 0;
  std::int64_t batch = 0, outer = 0, inner = 0;
  double beta = 1;
  std::int32_t vector = 0;
  std::int32_t pad = 0;
};
static_assert(sizeof(EpilogueParams) == 3 * 8 + 12 * 8 + 8 + 8);

inline constexpr const char* kReferenceKernel = "gemmtune_reference";
inline constexpr const char* kGatherKernel = "gemmtune_gather";

// The CUDA C++ source of the reference and gather kernels (no includes:
// NVRTC needs none).
extern const char* const kKernelSource;

// The epilogue pass template, without instantiations (epilogue_pass.cpp adds
// the extern "C" kernels it compiles).
extern const char* const kEpilogueSource;

// What NVRTC compiles: each source above after the activations they share.
std::string reference_kernel_source();
std::string epilogue_template_source();

}  // namespace gemmtune::cuda
