// ONEDNN: oneDNN's matmul primitive (2.x API). f32, bf16 (bf16 or f32
// output), f16 where the CPU has a kernel for it, int_mm (u8 or s8 x s8 ->
// s32); alpha as an output scale, bias as the matmul bias argument or a
// binary post-op, activation as an eltwise post-op. Its choices are real
// alternatives of how oneDNN is driven (weights in their given strides,
// weights reordered into oneDNN's preferred format on every call, M as a
// run-time dimension), each offered only when oneDNN can create it.
#pragma once

#include <memory>

#include "gemmtune/backend.h"

namespace gemmtune::backends {

std::shared_ptr<Backend> make_onednn_backend();

namespace onednn {

// Choice names; stable, because the store keeps them.
inline constexpr const char* kPlainChoice = "onednn_plain";
inline constexpr const char* kPackedBChoice = "onednn_packed_b";
inline constexpr const char* kRuntimeDimsChoice = "onednn_runtime_dims";

}  // namespace onednn
}  // namespace gemmtune::backends
