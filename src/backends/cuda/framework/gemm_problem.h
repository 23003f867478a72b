// What the CUDA backend's template families share: the ops, dtypes and
// epilogues they serve, the -D constants and run-time parameters of the
// fused epilogue (kernels/gt_common.cuh), and scratch memory per stream.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::backends::cuda_kernels {

using Defines = std::vector<std::pair<std::string, std::string>>;

// The host mirror of GtEpilogue (kernels/gt_common.cuh), passed by value.
struct EpilogueParams {
  void* c = nullptr;
  const void* bias = nullptr;
  std::int64_t c_rs = 0, c_cs = 0, c_bs = 0;
  std::int64_t bias_rs = 0, bias_cs = 0, bias_bs = 0;
  float alpha = 1, beta = 1;
  std::int32_t m = 0, n = 0;
  std::int32_t pair_store = 0;
  std::int32_t vec_store = 0;
};
static_assert(sizeof(EpilogueParams) == 2 * 8 + 6 * 8 + 2 * 4 + 4 * 4);

// Why none of the families can serve the problem (op, dtypes, epilogue,
// sizes), or nothing.
Status check_common(const Problem&);

// bf16 or f16 inputs.
bool is_bf16(const Problem&);

// -D constants of the fused epilogue (GT_BF16, GT_OUT_F32, GT_BIAS,
// GT_BIAS_F32, GT_ACT).
Defines epilogue_defines(const Problem&);

// The epilogue's run-time part for one call. Everything but the pointers is
// fixed by the problem.
EpilogueParams epilogue_params(const Problem&);
void set_pointers(EpilogueParams&, const Problem&, const GemmArgs&);

// How an operand is stored, seen from the GEMM: with its K contiguous
// (k_major) or its M (A) / N (B) contiguous, the stride between contiguous
// runs (`lead`, elements; 0 when there is only one run, so any value serves)
// and the batch stride (0 when one matrix serves every batch or batch = 1).
struct OperandLayout {
  bool k_major = true;
  std::int64_t lead = 0;
  std::int64_t batch_stride = 0;
};
// Every way A (M x K) and B (K x N) can be read with a unit stride, K-major
// first; empty when neither dimension has one.
std::vector<OperandLayout> layouts_a(const Problem&);
std::vector<OperandLayout> layouts_b(const Problem&);
// The lead as a whole number of 16-byte units is what TMA and 16-byte
// copies need: true when `lead` (0 = any) and the batch stride are multiples
// of 16 bytes and the data pointers 16-byte aligned.
bool aligned16(const Problem&, const OperandLayout&);

// Zeroed device scratch of a fixed size, one per stream (runs on different
// streams never share it). Kernels that use it leave it zero again.
class StreamScratch {
 public:
  explicit StreamScratch(std::size_t bytes) : bytes_(bytes) {}
  std::size_t bytes() const { return bytes_; }
  Expected<void*> get(cuda::CudaRuntime& rt, CUstream stream);

 private:
  std::size_t bytes_;
  std::mutex mutex_;
  std::map<CUstream, runtime::DeviceBuffer> buffers_;
};

}  // namespace gemmtune::backends::cuda_kernels
