// BLAS: OpenBLAS through CBLAS, the CPU's library backend (the analogue of
// ATen's call). It serves mm/addmm/bmm/baddbmm in f32 and f64 (bf16 through
// cblas_sbgemm when the loaded OpenBLAS has it) and mixed_mm with f32
// activations by dequantizing the int8 weights per call. It uses the library
// the way a framework does: bias copied into C before the call, activation
// as a separate pass afterwards, batches as a loop of GEMM calls.
//
// Threads: every run() sets OpenBLAS's thread count to the TuningContext's
// (openblas_set_num_threads). That count is process-global, so BLAS kernels
// with different thread counts running at the same time set it for each
// other; results stay correct, their speed does not.
#pragma once

#include <memory>
#include <string>

#include "gemmtune/backend.h"

namespace gemmtune::backends {

std::shared_ptr<Backend> make_blas_backend();

namespace blas {

// Choice names; stable, because the store keeps them.
inline constexpr const char* kSgemmChoice = "blas_sgemm";
inline constexpr const char* kDgemmChoice = "blas_dgemm";
inline constexpr const char* kSbgemmChoice = "blas_sbgemm";
inline constexpr const char* kDequantChoice = "blas_sgemm_dequant_int8";

// Whether the OpenBLAS loaded in this process exports cblas_sbgemm (looked
// up once, at run time, so that a build linked against an OpenBLAS without
// it still links and one with it uses it).
bool has_sbgemm();

}  // namespace blas
}  // namespace gemmtune::backends
