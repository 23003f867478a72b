// CUBLASLT: cublasLtMatmul, with the algorithms as choices. The `default`
// search space offers the heuristic's top few algorithms and the first one's
// other kernel variants and cluster shapes; `exhaustive` varies up to 16 of
// the heuristic's results on every axis (also split-K, swizzle, tile) and
// enumerates algorithm ids with the tiles, stages, split-K, reduction
// schemes and swizzles their capabilities list, each checked with
// cublasLtMatmulAlgoCheck. Fused epilogues where cuBLASLt has them: bias
// (row bias, beta = 1), relu, and its GELU -- the tanh form -- for
// gelu_tanh (with the unfused variant standing by); gelu (the exact erf
// form), silu and what else cuBLASLt cannot do run in one elementwise pass
// (runtime/cuda/epilogue_pass.h). scaled_mm on fp8 (e4m3/e5m2) with
// per-tensor scales, and per-channel (outer-vector) scales on sm_90.
// cuBLASLt is loaded at run time. Sources: lt_descriptors (library access,
// descriptors), lt_epilogue (epilogue decisions), lt_search (algorithms and
// their names), cublaslt_backend.cpp (kernel, backend).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gemmtune/backend.h"

namespace gemmtune::backends {

namespace cublaslt {

inline constexpr std::size_t kDefaultWorkspaceBytes = std::size_t{32} << 20;
inline constexpr int kDefaultHeuristicCount = 8;
inline constexpr int kExhaustiveHeuristicCount = 64;
// At most this many choices per variant (heuristic ones first, then the
// neighbourhood of the best ones, then, exhaustive only, enumerated ids).
inline constexpr int kDefaultLimit = 24;
inline constexpr int kExhaustiveLimit = 320;

// An algorithm's configuration as cublasLtMatmulAlgoConfigGetAttribute
// reports it: the stable identity of a choice (never its position in the
// heuristic's list, which changes between library versions and shapes).
struct AlgoConfig {
  std::int32_t algo_id = 0;
  std::uint32_t tile = 0;
  std::uint32_t stages = 0;
  std::int32_t split_k = 1;
  std::uint32_t reduction = 0;
  std::uint32_t swizzle = 0;
  std::uint32_t custom = 0;
  std::uint16_t inner_shape = 0;
  std::uint16_t cluster_shape = 0;
  friend bool operator==(const AlgoConfig&, const AlgoConfig&) = default;
};

// "lt_a66_t20_s0_sk1_r0_sw0_c0_i0_cl0"
std::string algo_name(const AlgoConfig&);
// Parses the algorithm part at the start of a choice name (what follows it,
// the epilogue tags, is returned in `rest`). nullopt if it is not one.
std::optional<AlgoConfig> parse_algo_name(std::string_view name, std::string* rest = nullptr);

}  // namespace cublaslt

// `max_workspace_bytes`: the most scratch memory an algorithm may use (it
// is passed to the heuristic; each kernel allocates what its algorithm needs
// and reports it through Kernel::workspace_bytes()).
std::shared_ptr<Backend> make_cublaslt_backend(std::size_t max_workspace_bytes = cublaslt::kDefaultWorkspaceBytes);

}  // namespace gemmtune::backends
