// The conformance table: every op and dtype, odd sizes, transposed, strided
// and broadcast layouts, empty dimensions and every epilogue; and which
// backend must serve which of them (a rejection there is a failure, not a
// shrug).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gemmtune/problem.h"

namespace gemmtune::conformance {

struct Case {
  std::string name;  // readable and unique; letters, digits and '_' only
  Problem problem;   // on the CPU; the suite moves it to the backend's device
  // Also run with the exhaustive search space (layouts and sizes where
  // backends keep slower kernels out of the default space).
  bool exhaustive_too = false;
};

// The whole table, built once.
const std::vector<Case>& cases();

// Backends named in the must-serve table, whether registered or not.
std::vector<std::string> must_serve_backends();

// Why `backend` must serve `problem` ("BLAS serves mm-family f32/f64 with
// row- or column-major operands"), or nullopt when a catalogued
// "unsupported" rejection is acceptable.
std::optional<std::string> must_serve(std::string_view backend, const Problem& problem);

// Whether a matrix has a unit stride in one dimension (with the other
// stride covering that extent): what every BLAS-like library can take.
bool is_blas_layout(const MatrixDesc&);

}  // namespace gemmtune::conformance
