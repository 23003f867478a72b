// CUBLAS: cuBLAS's cublasGemmEx / cublasGemmStridedBatchedEx, the library
// backend on CUDA (the analogue of ATen's call). It serves mm, addmm, bmm,
// baddbmm (f32, f64, f16, bf16; 16-bit inputs may write f32) and int_mm
// (int8 -> int32 where cuBLAS accepts the layout), with any layout in which
// each operand has a unit stride. It uses the library as a framework does:
// the bias is written into C before the call and scaled by beta, and an
// activation is a separate elementwise kernel afterwards (unfused, honestly
// so). cuBLAS is loaded at run time.
#pragma once

#include <memory>

#include "gemmtune/backend.h"

namespace gemmtune::backends {

std::shared_ptr<Backend> make_cublas_backend();

namespace cublas {

// Choice names; stable, because the store keeps them.
inline constexpr const char* kDefaultChoice = "cublas_default";
inline constexpr const char* kTf32Choice = "cublas_tf32";
inline constexpr const char* kStrictReductionChoice = "cublas_default_strict_reduction";

// cuBLAS workspace per device, as cuBLAS recommends for Hopper.
inline constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;

}  // namespace cublas
}  // namespace gemmtune::backends
