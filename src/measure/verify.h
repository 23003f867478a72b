// Verification: a choice's output against the exact reference, before any
// timing. Small problems are checked element by element in full; large ones
// on a random sample plus the last row and column. Tolerances depend on the
// dtypes and K; integers must match exactly; NaN never passes.
#pragma once

#include <cstdint>
#include <vector>

#include "gemmtune/options.h"
#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "measure/inputs.h"
#include "runtime/device_runtime.h"

namespace gemmtune::measure {

// |out - ref| <= accumulate * magnitude + output * |ref| + floor, per
// element, where magnitude is the sum of |products| (so cancellation cannot
// cause false alarms); and ||out - ref|| / ||ref|| <= norm over the checked
// elements.
struct Tolerance {
  bool exact = false;     // integers
  double accumulate = 0;  // rounding while summing K products
  double output = 0;      // rounding of the stored output dtype
  double floor = 0;       // absolute slack for tiny values (subnormals)
  double norm = 0;
};
Tolerance tolerance_for(const Problem&);

// The elements checked for one problem and their exact values, computed once
// per tuning on set-0 inputs and shared by every choice.
struct ReferenceSample {
  bool full = false;  // every output element
  std::vector<runtime::OutputIndex> indices;
  std::vector<runtime::ReferenceValue> values;
  std::vector<std::int64_t> offsets;  // each index's element offset in C (what a sampled check gathers)
};

// Problems with at most this many multiply-adds are checked in full under
// VerifyMode::automatic.
inline constexpr std::int64_t kFullCheckMacs = std::int64_t{1} << 25;

Expected<ReferenceSample> make_reference(runtime::DeviceRuntime&, const Problem&, const GemmArgs& device_args,
                                         VerifyMode, std::uint64_t seed);

// Checks the output of `set` against the sample. On success returns the
// largest error seen, relative to the element's magnitude. In full mode it
// copies the whole output back and also checks that gaps of a strided output
// still hold the poison pattern; a sampled check reads only the sampled
// elements (DeviceRuntime::gather).
// Failure: a rejection at stage verify (wrong_result or non_finite_result)
// naming the first bad element.
Expected<double> verify_output(runtime::DeviceRuntime&, const Problem&, const DeviceInputSet& set,
                               const ReferenceSample&);

}  // namespace gemmtune::measure
