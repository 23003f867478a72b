// The Hopper family (hopper_gemm.cu): persistent warp-specialized TMA +
// wgmma kernels for sm_90a (H100, H200). Serves mm/addmm/bmm/baddbmm in
// bf16/f16 whenever TMA can read A and B: 16-byte aligned data, one unit
// stride per operand and leading/batch strides that are multiples of 16
// bytes. Everything else goes to the portable family.
//
// Choice names: cuda_sm90_<BM>x<BN>_s<stages>_c<cluster>_k<splits>[_pp][_direct],
// e.g. cuda_sm90_128x256_s4_c2_k1 or cuda_sm90_128x128_s6_c1_k1_pp (the
// layouts and the epilogue come from the problem, not the name).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "backends/cuda/framework/family.h"

namespace gemmtune::backends::cuda_kernels::hopper {

struct Config {
  int bm = 128;      // tile rows: 64 (one consumer warpgroup), 128 or 256 (two)
  int bn = 256;      // tile columns: 64, 128, 192 or 256
  int stages = 4;    // shared-memory ring depth
  int cluster = 1;   // CTAs along M sharing B by TMA multicast: 1 or 2
  int splits = 1;    // split-K factor (1..16)
  // Ping-pong: two consumer warpgroups each own whole tiles and take turns,
  // one's epilogue overlapping the other's multiplies (tiles of 64 or 128
  // rows, no split-K, no cluster).
  bool pingpong = false;
  // The epilogue: staged through shared memory (a rolled loop, 16-byte
  // stores; the default) or direct (each thread stores its accumulator pairs
  // from registers, fully unrolled: the exhaustive space keeps it so the two
  // can be compared by measurement).
  bool direct = false;

  int consumers() const { return pingpong || bm != 64 ? 2 : 1; }
  int threads() const { return 128 * (consumers() + 1); }
  // Consumer warpgroups sharing one tile.
  int tile_consumers() const { return pingpong ? 1 : consumers(); }
  // f32 accumulators per consumer thread.
  int accumulators() const { return bm / (64 * tile_consumers()) * bn / 2; }
  // Two CTAs per SM fit (registers and shared memory) for small one-consumer tiles.
  int min_blocks() const;
  std::size_t stage_bytes() const { return static_cast<std::size_t>(bm + bn) * 64 * 2; }
  // Shared memory of the staged epilogue: one chunk of 16 rows of
  // kEpilogueStride floats per consumer warp (hopper_gemm.cu's GT_EP_STRIDE;
  // a disagreement fails the kernel's compile through GT_HOST_SMEM_BYTES).
  static constexpr std::size_t kEpilogueStride = 40;
  std::size_t epilogue_bytes() const {
    return direct ? 0 : static_cast<std::size_t>(consumers()) * 4 * 16 * kEpilogueStride * sizeof(float);
  }
  // Dynamic shared memory asked for: the ring, its barriers, the split-K
  // flag, the epilogue's chunks, and the slack the kernel spends aligning
  // its base to 1 KiB.
  static constexpr std::size_t kAlignmentSlack = 1024;
  std::size_t smem_bytes() const {
    return stages * stage_bytes() + 16 * stages + 16 + epilogue_bytes() + kAlignmentSlack;
  }
  // Why this configuration cannot exist, or empty.
  std::string invalid() const;

  friend bool operator==(const Config&, const Config&) = default;
};

std::string name(const Config&);
// Round trip of name(); nullopt for anything that is not a valid name.
std::optional<Config> parse(std::string_view);

class HopperFamily final : public TemplateFamily {
 public:
  std::string_view prefix() const override { return "cuda_sm90_"; }
  Expected<std::vector<Choice>> enumerate(const Problem&, const FamilyContext&) const override;
  Expected<KernelSource> source(const Problem&, std::string_view name, const FamilyContext&) const override;
  Expected<std::unique_ptr<Kernel>> make_kernel(const Problem&, std::string_view name, CUfunction,
                                                cuda::CudaRuntime&) const override;
};

// The configurations enumerate() would offer on a device with `sm_count`
// SMs, before the problem checks (tests and the cost model's report).
std::vector<Config> candidates(const Problem&, int sm_count, SearchSpace);

}  // namespace gemmtune::backends::cuda_kernels::hopper
