// The skinny family (skinny_gemm.cu): M <= 32 rows of A, the decode-time
// projections y = x.W^T. The GEMM is then a stream over B at close to the
// memory's bandwidth, where tiled kernels leave most SMs waiting: mma.sync
// with fragments loaded straight from global memory, warps splitting K
// within a CTA and split-K across CTAs.
//
// Serves mm/addmm (one matrix) with A row-major (row stride a multiple of 8
// elements), B contiguous along K (`kmajor`, layout nt) or N (`nmajor`, nn)
// with a leading stride that is a multiple of 8, 16-byte aligned data, any C
// strides, row or full bias.
//
// Choice names: cuda_skinny_<kmajor|nmajor>_<bf16|f16>_m<row tiles>_t<n
// tiles>_w<warps>_u<unroll>_s<split-K>, e.g. cuda_skinny_kmajor_bf16_m1_t1_w8_u2_s4.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/framework/family.h"

namespace gemmtune::backends::cuda_kernels::skinny {

inline constexpr std::int64_t kMaxRows = 32;  // M served (two 16-row MMA tiles)

// B's layout: k_major = each column of B (a row of W) contiguous along K
// (nn.Linear's weight, layout "nt"); n_major = B row-major K x N (layout "nn").
enum class BLayout { k_major, n_major };

struct Config {
  BLayout layout = BLayout::k_major;
  bool bf16 = true;  // else f16 inputs
  int m_tiles = 1;   // 16-row MMA tiles of A: M <= 16 * m_tiles
  int n_tiles = 1;   // 8-column MMA tiles per warp (k_major: 1, 2, 4; n_major: always 8)
  int warps = 8;     // per CTA; they split the CTA's K range
  int unroll = 2;    // K steps loaded before they are multiplied
  int split_k = 1;   // CTAs along K (> 1: f32 atomics into scratch, the last CTA writes C)

  int columns_per_cta() const { return 8 * n_tiles; }
  int k_step() const { return layout == BLayout::k_major ? 32 : 16; }
  friend bool operator==(const Config&, const Config&) = default;
};

std::string name(const Config&);
std::optional<Config> parse(std::string_view);

// The tilings (split_k 1) offered for one layout, dtype and row-tile count:
// `standard` a few that stream well, `exhaustive` every one whose registers
// and shared memory fit.
std::vector<Config> tilings(BLayout, bool bf16, int m_tiles, SearchSpace);

class SkinnyFamily final : public TemplateFamily {
 public:
  std::string_view prefix() const override { return "cuda_skinny_"; }
  Expected<std::vector<Choice>> enumerate(const Problem&, const FamilyContext&) const override;
  Expected<KernelSource> source(const Problem&, std::string_view name, const FamilyContext&) const override;
  Expected<std::unique_ptr<Kernel>> make_kernel(const Problem&, std::string_view name, CUfunction,
                                                cuda::CudaRuntime&) const override;
};

}  // namespace gemmtune::backends::cuda_kernels::skinny
