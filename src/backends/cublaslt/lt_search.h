// CUBLASLT: the search over algorithms -- a choice's name from an
// algorithm's configuration and back, the heuristic's results, their
// neighbourhood (one setting changed), and (exhaustive) the algorithm ids x
// the configurations their capabilities list, each checked with
// cublasLtMatmulAlgoCheck.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "backends/cublaslt/cublaslt_backend.h"
#include "backends/cublaslt/lt_descriptors.h"
#include "backends/cublaslt/lt_epilogue.h"

namespace gemmtune::backends::cublaslt {

// One algorithm on offer for a setup.
struct Candidate {
  cublasLtMatmulAlgo_t algo;
  AlgoConfig config;
  std::size_t workspace = 0;
  float waves = 0;
  std::string origin;  // "heuristic #3" or "enumerated"
};

// The library's descriptor of an algorithm configuration, for a setup's
// types (an id the library does not have, or a setting it refuses, is a
// rejection).
Expected<cublasLtMatmulAlgo_t> algo_from_config(cublasLtHandle_t, const Setup&, const AlgoConfig&);

// The heuristic's best `count` algorithms (fewer when it has fewer); on a
// failed call, none and the library's status in `status`.
std::vector<Candidate> heuristic(cublasLtHandle_t, const Descs&, int count, cublasStatus_t& status);

// The neighbourhood of the heuristic's best algorithms: each seed with one
// setting changed (kernel variant = custom option, cluster shape, split-K
// factor, CTA swizzle, tile), where a better kernel for a shape most often
// is; round-robin over seeds and axes so that a cap keeps variety.
struct Neighbourhood {
  std::size_t seeds = 16;         // how many of the heuristic's best to vary
  bool split_and_tile = true;     // also split-K, swizzle and tile (not only kernel variant and cluster)
};
std::vector<Candidate> neighbours(cublasLtHandle_t, const Setup&, const Descs&, std::size_t max_workspace,
                                  const std::vector<Candidate>& seeds, Neighbourhood, std::size_t wanted);

// Exhaustive: algorithm ids x the configurations their capabilities list,
// round-robin over ids so that a cap keeps variety, each one checked; at
// most `wanted`.
std::vector<Candidate> enumerate_configs(cublasLtHandle_t, const Setup&, const Descs&, std::size_t max_workspace,
                                         std::size_t wanted);

// A choice's description: the algorithm, where it came from, and the
// epilogue.
std::string describe_candidate(const Candidate&, const Setup&, const Problem&);

}  // namespace gemmtune::backends::cublaslt
