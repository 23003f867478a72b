// NVRTC source of the CUDA backend's skinny GEMM kernels (few rows of A:
// decode-time projections y = x.W^T with M <= 32) and the parameter struct
// the host passes to them. One compiled module holds every configuration of
// one (input dtype, B layout); each configuration is an extern "C" kernel
// named by skinny_kernel_name().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gemmtune::backends::cuda_skinny {

// B's layout: k_major = each column of B (a row of W) contiguous along K
// (nn.Linear's weight, layout "nt"); n_major = B row-major K x N (layout "nn").
enum class BLayout { k_major, n_major };

// One kernel configuration.
struct SkinnyConfig {
  BLayout layout = BLayout::k_major;
  bool bf16 = true;   // else f16 inputs
  int m_tiles = 1;    // 16-row MMA tiles of A: M <= 16 * m_tiles
  int n_tiles = 1;    // 8-column MMA tiles per warp (k_major: 1, 2, 4; n_major: always 8)
  int warps = 8;      // per CTA; they split the CTA's K range
  int unroll = 2;     // K steps loaded before they are multiplied
  int split_k = 1;    // CTAs along K (> 1: f32 atomics into scratch, the last CTA writes C)

  int columns_per_cta() const { return 8 * n_tiles; }
  int k_step() const { return layout == BLayout::k_major ? 32 : 16; }
};

// The kernel's parameters, passed by value; layout shared with the source.
struct SkinnyParams {
  const void* a;          // M x K, K contiguous
  const void* b;          // k_major: W (N x K) rows; n_major: B (K x N) rows
  void* c;                // output
  const void* bias;       // row bias (one per column n) or null
  float* work;            // split_k > 1: M x N f32 scratch, all zero between runs
  unsigned* tickets;      // split_k > 1: one counter per CTA column, zero between runs
  std::int64_t lda, ldb;  // elements between rows of A, and of W (k_major) or B (n_major)
  std::int64_t c_rs, c_cs, bias_stride;
  float alpha, beta;
  std::int32_t m, n, k;
  std::int32_t k_per_split;  // a multiple of the K step
  std::int32_t activation;   // 0 none, 1 relu, 2 gelu (erf), 3 silu, 4 gelu_tanh
  std::int32_t out_f32;      // 1: C is f32, else the input dtype
  std::int32_t bias_f32;     // 1: bias is f32, else the input dtype
};

std::string skinny_kernel_name(const SkinnyConfig&);
// The tilings (split_k 1) offered for one layout, dtype and row-tile count:
// `default` a few that stream well, `exhaustive` every one whose registers
// and shared memory fit. Each family compiles as a unit.
std::vector<SkinnyConfig> skinny_family(BLayout, bool bf16, int m_tiles, bool exhaustive);
// A digest of the kernel source: part of the backend's version, so stored
// tuning results die with the kernels that produced them.
std::string skinny_source_digest();
// The module source for every configuration in `configs` (all of one
// layout and dtype).
std::string skinny_module_source(const std::vector<SkinnyConfig>& configs);

}  // namespace gemmtune::backends::cuda_skinny
