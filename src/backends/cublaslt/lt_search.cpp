#include "backends/cublaslt/lt_search.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

namespace gemmtune::backends::cublaslt {

std::string algo_name(const AlgoConfig& c) {
  std::ostringstream out;
  out << "lt_a" << c.algo_id << "_t" << c.tile << "_s" << c.stages << "_sk" << c.split_k << "_r" << c.reduction
      << "_sw" << c.swizzle << "_c" << c.custom << "_i" << c.inner_shape << "_cl" << c.cluster_shape;
  return out.str();
}

std::optional<AlgoConfig> parse_algo_name(std::string_view name, std::string* rest) {
  AlgoConfig c;
  std::size_t pos = 0;
  // Every field is a non-negative number but split-K: cuBLASLt's heuristic
  // reports SPLITK_NUM = -1 for some algorithms (algo 11 for f32 on an H100),
  // and the name must bring back exactly what it reported.
  auto field = [&](std::string_view prefix, auto& out, std::int64_t least = 0) -> bool {
    if (name.substr(pos, prefix.size()) != prefix) return false;
    pos += prefix.size();
    std::int64_t value = 0;
    const char* begin = name.data() + pos;
    const char* end = name.data() + name.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr == begin || value < least) return false;
    pos += static_cast<std::size_t>(ptr - begin);
    out = static_cast<std::remove_reference_t<decltype(out)>>(value);
    return true;
  };
  if (!field("lt_a", c.algo_id) || !field("_t", c.tile) || !field("_s", c.stages) || !field("_sk", c.split_k, -1) ||
      !field("_r", c.reduction) || !field("_sw", c.swizzle) || !field("_c", c.custom) ||
      !field("_i", c.inner_shape) || !field("_cl", c.cluster_shape))
    return std::nullopt;
  if (c.split_k == 0) return std::nullopt;
  if (rest) *rest = std::string(name.substr(pos));
  return c;
}


namespace {

Expected<AlgoConfig> read_config(const cublasLtMatmulAlgo_t& algo) {
  AlgoConfig c;
  auto get = [&](cublasLtMatmulAlgoConfigAttributes_t attribute, auto& value, const char* what) -> Status {
    std::size_t written = 0;
    return lt_check(lt().cublasLtMatmulAlgoConfigGetAttribute(&algo, attribute, &value, sizeof(value), &written),
                    std::string("cublasLtMatmulAlgoConfigGetAttribute(") + what + ")");
  };
  Status s = get(CUBLASLT_ALGO_CONFIG_ID, c.algo_id, "ID");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_TILE_ID, c.tile, "TILE_ID");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_STAGES_ID, c.stages, "STAGES_ID");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_SPLITK_NUM, c.split_k, "SPLITK_NUM");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, c.reduction, "REDUCTION_SCHEME");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, c.swizzle, "CTA_SWIZZLING");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, c.custom, "CUSTOM_OPTION");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID, c.inner_shape, "INNER_SHAPE_ID");
  if (s) s = get(CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, c.cluster_shape, "CLUSTER_SHAPE_ID");
  if (!s) return s.error();
  return c;
}


template <typename T>
std::vector<T> cap_array(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoCapAttributes_t attribute) {
  std::size_t bytes = 0;
  if (lt().cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, nullptr, 0, &bytes) != CUBLAS_STATUS_SUCCESS ||
      bytes == 0)
    return {};
  std::vector<T> values(bytes / sizeof(T));
  if (lt().cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, values.data(), values.size() * sizeof(T), &bytes) !=
      CUBLAS_STATUS_SUCCESS)
    return {};
  return values;
}

template <typename T>
T cap_value(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoCapAttributes_t attribute, T fallback) {
  T value{};
  std::size_t written = 0;
  if (lt().cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, &value, sizeof(value), &written) !=
      CUBLAS_STATUS_SUCCESS)
    return fallback;
  return value;
}

// Split-K reduction schemes whose rounding gemmtune's verification admits:
// partial sums reduced in a 16-bit output type (in place or as the output
// type) lose more than one rounding of the result, so only the compute type
// reduces for 16-bit outputs.
std::uint32_t admissible_reductions(const Setup& s) {
  if (s.dt == CUDA_R_16F || s.dt == CUDA_R_16BF) return CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
  return CUBLASLT_REDUCTION_SCHEME_INPLACE | CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE |
         CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE;
}

bool accept(cublasLtHandle_t handle, const Setup& s, const Descs& d, std::size_t max_workspace,
            const AlgoConfig& config, const char* origin, std::vector<Candidate>& out) {
  auto algo = algo_from_config(handle, s, config);
  if (!algo) return false;
  cublasLtMatmulHeuristicResult_t result{};
  if (lt().cublasLtMatmulAlgoCheck(handle, d.op, d.x, d.y, d.c, d.d, &algo.value(), &result) !=
          CUBLAS_STATUS_SUCCESS ||
      result.state != CUBLAS_STATUS_SUCCESS || result.workspaceSize > max_workspace)
    return false;
  out.push_back(Candidate{algo.value(), config, result.workspaceSize, result.wavesCount, origin});
  return true;
}

}  // namespace

Expected<cublasLtMatmulAlgo_t> algo_from_config(cublasLtHandle_t handle, const Setup& s, const AlgoConfig& c) {
  cublasLtMatmulAlgo_t algo;
  if (Status st = lt_check(lt().cublasLtMatmulAlgoInit(handle, s.compute, s.scale_type, s.xt, s.yt, s.ct, s.dt,
                                                       c.algo_id, &algo),
                           "cublasLtMatmulAlgoInit(algo " + std::to_string(c.algo_id) + ")");
      !st)
    return st.error();
  auto set = [&](cublasLtMatmulAlgoConfigAttributes_t attribute, const auto& value, const char* what) -> Status {
    return lt_check(lt().cublasLtMatmulAlgoConfigSetAttribute(&algo, attribute, &value, sizeof(value)),
                    std::string("cublasLtMatmulAlgoConfigSetAttribute(") + what + ")");
  };
  Status st = set(CUBLASLT_ALGO_CONFIG_TILE_ID, c.tile, "TILE_ID");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_STAGES_ID, c.stages, "STAGES_ID");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_SPLITK_NUM, c.split_k, "SPLITK_NUM");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, c.reduction, "REDUCTION_SCHEME");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, c.swizzle, "CTA_SWIZZLING");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, c.custom, "CUSTOM_OPTION");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID, c.inner_shape, "INNER_SHAPE_ID");
  if (st) st = set(CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, c.cluster_shape, "CLUSTER_SHAPE_ID");
  if (!st) return st.error();
  return algo;
}

std::vector<Candidate> heuristic(cublasLtHandle_t handle, const Descs& d, int count, cublasStatus_t& status) {
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<std::size_t>(count));
  int returned = 0;
  status = lt().cublasLtMatmulAlgoGetHeuristic(handle, d.op, d.x, d.y, d.c, d.d, d.pref, count, results.data(),
                                               &returned);
  std::vector<Candidate> out;
  if (status != CUBLAS_STATUS_SUCCESS) return out;
  for (int i = 0; i < returned; ++i) {
    if (results[static_cast<std::size_t>(i)].state != CUBLAS_STATUS_SUCCESS) continue;
    auto config = read_config(results[static_cast<std::size_t>(i)].algo);
    if (!config) continue;
    out.push_back(Candidate{results[static_cast<std::size_t>(i)].algo, config.value(),
                            results[static_cast<std::size_t>(i)].workspaceSize,
                            results[static_cast<std::size_t>(i)].wavesCount,
                            "heuristic #" + std::to_string(i + 1)});
  }
  return out;
}

std::vector<Candidate> neighbours(cublasLtHandle_t handle, const Setup& s, const Descs& d, std::size_t max_workspace,
                                  const std::vector<Candidate>& seeds, Neighbourhood how, std::size_t wanted) {
  std::vector<Candidate> out;
  std::set<std::string> seen;
  for (const auto& c : seeds) seen.insert(cublaslt::algo_name(c.config));
  const std::uint32_t admissible = admissible_reductions(s);
  std::vector<std::vector<AlgoConfig>> variants;
  for (std::size_t i = 0; i < std::min(seeds.size(), how.seeds); ++i) {
    const cublasLtMatmulAlgo_t& algo = seeds[i].algo;
    const AlgoConfig& base = seeds[i].config;
    const bool split = cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT, 0) != 0;
    const std::uint32_t mask = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK, 0) & admissible;
    const bool swizzle = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT, 0) != 0;
    const int custom_max = std::min(cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX, 0), 15);
    std::vector<AlgoConfig> custom, cluster, splits, tiles;
    for (int v = 0; v <= custom_max; ++v) {
      AlgoConfig c = base;
      c.custom = static_cast<std::uint32_t>(v);
      custom.push_back(c);
    }
    if (base.cluster_shape != 0) {  // cluster shapes exist (sm_90+): 1x1, 2x1, 1x2, 4x1, 1x4, 2x2
      for (std::uint16_t id : {CUBLASLT_CLUSTER_SHAPE_1x1x1, CUBLASLT_CLUSTER_SHAPE_2x1x1, CUBLASLT_CLUSTER_SHAPE_1x2x1,
                               CUBLASLT_CLUSTER_SHAPE_4x1x1, CUBLASLT_CLUSTER_SHAPE_1x4x1, CUBLASLT_CLUSTER_SHAPE_2x2x1}) {
        AlgoConfig c = base;
        c.cluster_shape = id;
        cluster.push_back(c);
      }
    }
    for (std::int32_t sk : {1, 2, 3, 4, 6, 8, 12, 16}) {
      if (!how.split_and_tile || (sk > 1 && !split)) break;
      AlgoConfig c = base;
      c.split_k = sk;
      if (sk == 1) {
        c.reduction = CUBLASLT_REDUCTION_SCHEME_NONE;
      } else if (!(base.reduction & mask)) {
        if (mask & CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE) c.reduction = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
        else if (mask) c.reduction = mask & (~mask + 1);
        else continue;
      }
      splits.push_back(c);
    }
    if (swizzle && how.split_and_tile) {
      AlgoConfig c = base;
      c.swizzle = base.swizzle ? 0 : 1;
      splits.push_back(c);
    }
    if (how.split_and_tile) {
      for (std::uint32_t tile : cap_array<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_TILE_IDS)) {
        AlgoConfig c = base;
        c.tile = tile;
        tiles.push_back(c);
      }
    }
    // Interleave the axes so that a cap takes some of each.
    std::vector<AlgoConfig> list;
    const std::vector<AlgoConfig>* axes[] = {&custom, &cluster, &splits, &tiles};
    for (std::size_t j = 0;; ++j) {
      bool any = false;
      for (const auto* axis : axes)
        if (j < axis->size()) {
          list.push_back((*axis)[j]);
          any = true;
        }
      if (!any) break;
    }
    variants.push_back(std::move(list));
  }
  for (std::size_t j = 0; out.size() < wanted; ++j) {
    bool any = false;
    for (const auto& list : variants) {
      if (j >= list.size() || out.size() >= wanted) continue;
      any = true;
      if (!seen.insert(cublaslt::algo_name(list[j])).second) continue;
      accept(handle, s, d, max_workspace, list[j], "neighbour of a heuristic result", out);
    }
    if (!any) break;
  }
  return out;
}

// Exhaustive: algorithm ids x the configurations their capabilities list,
// round-robin over ids so that a cap keeps variety, each one checked.
std::vector<Candidate> enumerate_configs(cublasLtHandle_t handle, const Setup& s, const Descs& d,
                                         std::size_t max_workspace, std::size_t wanted) {
  std::vector<Candidate> out;
  if (wanted == 0) return out;
  std::vector<int> ids(256);
  int count = 0;
  if (lt().cublasLtMatmulAlgoGetIds(handle, s.compute, s.scale_type, s.xt, s.yt, s.ct, s.dt,
                                    static_cast<int>(ids.size()), ids.data(), &count) != CUBLAS_STATUS_SUCCESS)
    return out;
  ids.resize(static_cast<std::size_t>(std::max(count, 0)));
  std::vector<std::vector<AlgoConfig>> per_id;
  for (int id : ids) {
    cublasLtMatmulAlgo_t algo;
    if (lt().cublasLtMatmulAlgoInit(handle, s.compute, s.scale_type, s.xt, s.yt, s.ct, s.dt, id, &algo) !=
        CUBLAS_STATUS_SUCCESS)
      continue;
    const auto epilogues = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_EPILOGUE_MASK, 0xffffffffu);
    if (s.epilogue != CUBLASLT_EPILOGUE_DEFAULT && (epilogues & s.epilogue) != static_cast<std::uint32_t>(s.epilogue))
      continue;
    if (s.bias_as_c() && cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_OUT_OF_PLACE_RESULT_SUPPORT, 0) == 0) continue;
    auto tiles = cap_array<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_TILE_IDS);
    auto stages = cap_array<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_STAGES_IDS);
    if (tiles.empty()) tiles.push_back(CUBLASLT_MATMUL_TILE_UNDEFINED);
    if (stages.empty()) stages.push_back(CUBLASLT_MATMUL_STAGES_UNDEFINED);
    const bool split = cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT, 0) != 0;
    const auto reductions = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK, 0);
    const bool swizzle = cap_value<std::uint32_t>(algo, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT, 0) != 0;
    const int custom_max = std::min(cap_value<std::int32_t>(algo, CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX, 0), 3);
    std::vector<AlgoConfig> configs;
    for (std::int32_t sk : {1, 2, 4, 8, 16}) {
      if (sk > 1 && !split) break;
      std::vector<std::uint32_t> schemes{CUBLASLT_REDUCTION_SCHEME_NONE};
      if (sk > 1) {
        schemes.clear();
        for (std::uint32_t bit : {CUBLASLT_REDUCTION_SCHEME_INPLACE, CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE,
                                  CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE})
          if (reductions & admissible_reductions(s) & bit) schemes.push_back(bit);
      }
      for (std::uint32_t tile : tiles)
        for (std::uint32_t stage : stages)
          for (std::uint32_t scheme : schemes)
            for (std::uint32_t swz = 0; swz <= (swizzle ? 1u : 0u); ++swz)
              for (int custom = 0; custom <= custom_max; ++custom) {
                AlgoConfig c;
                c.algo_id = id;
                c.tile = tile;
                c.stages = stage;
                c.split_k = sk;
                c.reduction = scheme;
                c.swizzle = swz;
                c.custom = static_cast<std::uint32_t>(custom);
                configs.push_back(c);
              }
    }
    if (!configs.empty()) per_id.push_back(std::move(configs));
  }
  // Checks are cheap (host only) but not free: bound them.
  constexpr std::size_t kMaxChecks = 6000;
  std::size_t checks = 0;
  for (std::size_t round = 0; out.size() < wanted && checks < kMaxChecks; ++round) {
    bool any = false;
    for (const auto& configs : per_id) {
      if (round >= configs.size()) continue;
      any = true;
      if (out.size() >= wanted || checks >= kMaxChecks) break;
      ++checks;
      accept(handle, s, d, max_workspace, configs[round], "enumerated", out);
    }
    if (!any) break;
  }
  return out;
}

std::string describe_candidate(const Candidate& c, const Setup& s, const Problem& p) {
  std::ostringstream out;
  out << "cublasLtMatmul algo " << c.config.algo_id << " tile " << c.config.tile << " stages " << c.config.stages
      << " split-K " << c.config.split_k << " reduction " << c.config.reduction << " swizzle " << c.config.swizzle
      << " custom " << c.config.custom << " inner " << c.config.inner_shape << " cluster " << c.config.cluster_shape
      << "; " << c.origin << ", workspace " << c.workspace << " bytes, waves " << c.waves;
  return out.str() + describe_epilogue(s, p);
}

}  // namespace gemmtune::backends::cublaslt
