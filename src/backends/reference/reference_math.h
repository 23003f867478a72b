// The exact definition of every op, element by element, on host data. It is
// the oracle: verification, the REFERENCE backend and the conformance tests
// all use it. Floats accumulate in double (long double for f64 inputs),
// integers in int64, so the only rounding left is the final store.
#pragma once

#include <cstdint>

#include "gemmtune/problem.h"
#include "runtime/device_runtime.h"

namespace gemmtune::reference {

// Value of output element (batch, i, j) after the activation, and the
// magnitude that scales its tolerance. Args point to host memory.
runtime::ReferenceValue element(const Problem&, const GemmArgs&, std::int64_t batch, std::int64_t i,
                                std::int64_t j);

// Offset in elements of (batch, i, j) in a matrix.
inline std::int64_t offset(const MatrixDesc& d, std::int64_t batch, std::int64_t i, std::int64_t j) {
  return batch * d.batch_stride + i * d.row_stride + j * d.col_stride;
}

// Computes the whole output into args.c (host memory), rounding each element
// to the output dtype. `threads` splits the rows.
void compute(const Problem&, const GemmArgs&, int threads);

}  // namespace gemmtune::reference
