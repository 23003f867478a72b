// The CPP backend's framework: turns one problem and one KernelConfig into a
// runnable kernel. It owns the loops (batches, the thread grid, NC/KC/MC
// blocks, register tiles and their edges), the packing buffers and the
// per-call epilogue data; the arithmetic happens in the TileKernel it is given.
//
//   for each batch (split over tb thread groups)
//     for each thread's tm x tn region of C
//       for jc in NC blocks:  for pc in KC blocks:  pack B (KC x NC)
//         for ic in MC blocks:  pack A (MC x KC)
//           for jr, ir:  tile (MR x NR) -> partial sums, or epilogue on the last KC block
//
// The direct path skips packing: each tile reads f32 A and B in place.
#pragma once

#include <memory>

#include "backends/cpp/config.h"
#include "gemmtune/backend.h"

namespace gemmtune::backends::cpp {

// Builds the kernel for a config that check_config_for() accepted for this
// problem. Allocates the packing buffers (per thread) up front; fails with
// out_of_resources when they cannot be allocated. The kernel is correct for
// any input data matching the problem; run() is not reentrant.
Expected<std::unique_ptr<Kernel>> make_gemm_kernel(const Problem&, const KernelConfig&, const TileKernel&);

}  // namespace gemmtune::backends::cpp
