// CUDA: gemmtune's own GPU kernels, compiled at run time by NVRTC for the
// device at hand. Today one family: skinny GEMMs (M <= 32 rows of A, the
// decode-time projections y = x.W^T) on tensor cores, which stream B at
// close to the memory's bandwidth where library kernels, tiled for large
// M, leave most SMs waiting. mm and addmm (row bias), bf16/f16 in, the
// input dtype or f32 out, alpha/beta/relu/gelu/silu fused. Anything else is
// rejected with the reason; the libraries serve it.
#pragma once

#include <memory>

#include "gemmtune/backend.h"

namespace gemmtune::backends {

namespace cuda_backend {
inline constexpr std::int64_t kMaxRows = 32;  // M served (two 16-row MMA tiles)
}

std::shared_ptr<Backend> make_cuda_backend();

}  // namespace gemmtune::backends
