// The portable family (portable_gemm.cu): mma.sync + ldmatrix kernels for
// every sm_80+ card. It serves every bf16/f16 problem the backend takes,
// whatever its layout, strides and alignment: 16-byte cp.async rings when
// each operand has a unit stride and 16-byte aligned leading and batch
// strides, element-wise loads otherwise. On Hopper the TMA templates are
// faster wherever they apply, so the default space offers these only where
// the Hopper family cannot serve (the exhaustive space always does).
//
// Choice names: cuda_mma_<BM>x<BN>_w<warps M>x<warps N>_s<stages>,
// e.g. cuda_mma_128x128_w2x4_s3.
#pragma once

#include <optional>
#include <string>

#include "backends/cuda/framework/family.h"

namespace gemmtune::backends::cuda_kernels::portable {

struct Config {
  int bm = 128, bn = 128;
  int warps_m = 2, warps_n = 4;
  int stages = 3;  // cp.async ring depth (element-wise loads use one stage)

  int threads() const { return 32 * warps_m * warps_n; }
  std::string invalid() const;
  friend bool operator==(const Config&, const Config&) = default;
};

std::string name(const Config&);
std::optional<Config> parse(std::string_view);

// Every configuration of the space (standard: the two suited to the size).
std::vector<Config> candidates(const Problem&, SearchSpace);

class PortableFamily final : public TemplateFamily {
 public:
  std::string_view prefix() const override { return "cuda_mma_"; }
  Expected<std::vector<Choice>> enumerate(const Problem&, const FamilyContext&) const override;
  Expected<KernelSource> source(const Problem&, std::string_view name, const FamilyContext&) const override;
  Expected<std::unique_ptr<Kernel>> make_kernel(const Problem&, std::string_view name, CUfunction,
                                                cuda::CudaRuntime&) const override;
};

}  // namespace gemmtune::backends::cuda_kernels::portable
