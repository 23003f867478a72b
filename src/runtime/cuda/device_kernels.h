// Device code compiled once per process with NVRTC: the exact reference
// (element by element, as src/backends/reference/reference_math.cpp defines
// it) and the small elementwise kernels the library backends need around a
// GEMM call (bias broadcast, activation, conversion out of f32 staging).
//
// The parameter structs are shared with the host: the host copies below and
// the ones inside kKernelSource must stay identical (fields ordered by
// alignment so no compiler inserts padding differently; sizes are asserted).
#pragma once

#include <cstdint>

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

// dst(b,i,j) = scale * bias(b, row ? 0 : i, j), converted to dst's dtype;
// with no bias (bias.data null) dst gets zeros.
struct FillParams {
  DeviceMatrix bias;
  void* dst = nullptr;
  std::int64_t dst_rs = 0, dst_cs = 0, dst_bs = 0;
  std::int64_t batch = 0, m = 0, n = 0;
  double scale = 1;
  std::int32_t dst_dtype = 0;
  std::int32_t row_bias = 0;
};
static_assert(sizeof(FillParams) == 56 + 8 * 8 + 8);

// dst(b,i,j) = act(src(b,i,j)) converted to dst's dtype (src may be dst).
struct FinishParams {
  DeviceMatrix src;
  void* dst = nullptr;
  std::int64_t dst_rs = 0, dst_cs = 0, dst_bs = 0;
  std::int64_t batch = 0, m = 0, n = 0;
  std::int32_t dst_dtype = 0;
  std::int32_t activation = 0;
};
static_assert(sizeof(FinishParams) == 56 + 7 * 8 + 8);

inline constexpr const char* kReferenceKernel = "gemmtune_reference";
inline constexpr const char* kFillKernel = "gemmtune_fill";
inline constexpr const char* kFinishKernel = "gemmtune_finish";

// The CUDA C++ source of all three kernels (no includes: NVRTC needs none).
extern const char* const kKernelSource;

}  // namespace gemmtune::cuda
