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
// The dot path reads A and B in place too, both K-contiguous (B as in nt),
// with dot products along K.
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
// The same for a dot-path config: `dot` is the dot kernel's function for this
// problem's operand dtypes (DotKernel::fn[dot_inputs_for(problem)]).
Expected<std::unique_ptr<Kernel>> make_dot_kernel(const Problem&, const KernelConfig&, DotFn dot);

}  // namespace gemmtune::backends::cpp
