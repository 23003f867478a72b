// Which KernelConfigs the CPP backend offers for a problem.
//
// default: a handful of configs. The tiles come from a small efficiency model
// (edge waste, accumulator count, B re-reads) or, for large problems, the two
// shapes measured fastest; the cache blocks from the cache sizes the CPU
// reports (KC: 512 K-groups per tile call, MC: a quarter of L2 for the A
// block, NC: a share of L3 for the B block); the thread grid from the work
// (about 100k multiply-adds per thread) and the shape (split N for few rows,
// batches when there are enough). Small and skinny f32 problems also get the
// direct (unpacked) path; problems with K-contiguous A and B (nt) and at most
// 32 rows, or small ones, get the dot path.
// exhaustive: every tile, K block, L2 share, thread count and grid, both paths.
#pragma once

#include <vector>

#include "backends/cpp/config.h"
#include "gemmtune/backend.h"

namespace gemmtune::backends::cpp {

// The choices for a problem: never empty, or the catalogued reason there are
// none (unsupported_op, unsupported_dtype, missing_isa). Pure and cheap.
Expected<std::vector<KernelConfig>> search_space(const Problem&, const TuningContext&, const CpuFeatures&);

}  // namespace gemmtune::backends::cpp
