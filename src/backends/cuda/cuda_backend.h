// CUDA: gemmtune's own GPU kernels, compiled at run time by NVRTC for the
// device at hand from the .cu sources embedded in the library. Three template
// families (one folder each, README.md beside this file):
//   skinny   M <= 32: a stream over B on mma.sync (decode-time projections)
//   hopper   sm_90a: persistent warp-specialized TMA + wgmma, split-K, clusters
//   portable sm_80+: mma.sync + cp.async / element-wise loads, any layout
// Together they serve every bf16/f16 mm, addmm, bmm and baddbmm with f32 or
// input-dtype output and every fused epilogue on any sm_80+ card; anything
// else is rejected with the reason.
#pragma once

#include <memory>

#include "backends/cuda/framework/family.h"
#include "gemmtune/backend.h"

namespace gemmtune::backends {

std::shared_ptr<Backend> make_cuda_backend();

namespace cuda_kernels {
// The families in the order they are asked.
const std::vector<const TemplateFamily*>& families();
// The family that made a choice name; null for names of no family.
const TemplateFamily* owner(std::string_view choice);
// What the backend offers on a device (no GPU needed: tests pass the
// description of one), after check_common().
Expected<std::vector<Choice>> offer(const Problem&, const FamilyContext&);
}  // namespace cuda_kernels

}  // namespace gemmtune::backends
