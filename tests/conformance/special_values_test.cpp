// Every available CPU backend on the special-value table (NaN and Inf in
// operands, bias and scales; alpha = 0, beta = 0; relu): every choice it
// offers must give what the reference gives, element by element, NaN for
// NaN. The GPU suite runs the same table on the CUDA backends
// (tests/gpu/special_values_gpu_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backends/reference/reference_math.h"
#include "gemmtune/tuner.h"
#include "runtime/device_runtime.h"
#include "testing/special_values.h"

namespace gemmtune::testing {
namespace {

struct Param {
  std::string backend;
  std::size_t case_index;
};

void PrintTo(const Param& p, std::ostream* out) { *out << p.backend << " on " << special_value_cases()[p.case_index].name; }

const std::vector<std::shared_ptr<Backend>>& registered() {
  static const std::vector<std::shared_ptr<Backend>> list = builtin_backends();
  return list;
}

std::vector<Param> params() {
  std::vector<Param> out;
  for (const auto& b : registered())
    if (b->device_kind() == DeviceKind::cpu && b->availability().available)
      for (std::size_t i = 0; i < special_value_cases().size(); ++i) out.push_back({std::string(b->name()), i});
  return out;
}

class SpecialValues : public ::testing::TestWithParam<Param> {};

TEST_P(SpecialValues, EveryChoiceGivesTheReferenceNaNForNaN) {
  const SpecialValueCase& c = special_value_cases()[GetParam().case_index];
  SCOPED_TRACE(c.rule);
  std::shared_ptr<Backend> backend;
  for (const auto& b : registered())
    if (b->name() == GetParam().backend) backend = b;
  ASSERT_TRUE(backend);
  const TuningContext ctx{SearchSpace::exhaustive, 2};
  auto choices = backend->enumerate(c.problem, ctx);
  if (!choices) {
    // Not serving a problem is allowed (the conformance table says where it
    // is not); serving it with another semantics is not.
    EXPECT_TRUE(is_unsupported(choices.error().reason)) << choices.error().to_string();
    return;
  }
  runtime::DeviceRuntime& rt = runtime::cpu_runtime();
  const measure::HostData host = special_value_inputs(c, c.problem, 7);
  for (const Choice& choice : choices.value()) {
    SCOPED_TRACE(choice.name + " (" + choice.description + ")");
    auto kernel = backend->build(c.problem, choice, ctx);
    ASSERT_TRUE(kernel) << kernel.error().to_string();
    EXPECT_TRUE(matches_reference_with_special_values(c.problem, *kernel.value(), rt, host));
  }
}

INSTANTIATE_TEST_SUITE_P(CpuBackends, SpecialValues, ::testing::ValuesIn(params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return info.param.backend + "_" + special_value_cases()[info.param.case_index].name;
                         });

// The rules themselves, on the reference (the oracle every backend is held
// to): checked here so that a change to the oracle cannot silently change
// the semantics.
TEST(SpecialValueSemantics, TheReferenceDropsAbsentTermsAndKeepsNaNThroughRelu) {
  for (const SpecialValueCase& c : special_value_cases()) {
    SCOPED_TRACE(c.name);
    const Problem& p = c.problem;
    const measure::HostData host = special_value_inputs(c, p, 7);
    const GemmArgs args = host.args();
    for (std::int64_t b = 0; b < p.batch; ++b)
      for (std::int64_t i = 0; i < p.m; ++i)
        for (std::int64_t j = 0; j < p.n; ++j) {
          const double v = reference::element(p, args, b, i, j).value;
          // These cases poison only the term that is absent.
          if (c.name.find("beta0") != std::string::npos || c.name.find("alpha0") != std::string::npos) {
            EXPECT_TRUE(std::isfinite(v)) << "(" << b << "," << i << "," << j << ") = " << v;
          }
          if (p.alpha == 0 && p.bias == BiasKind::none) {
            EXPECT_EQ(v, 0.0);
          }
        }
    if (c.name.find("relu_keeps_nan") != std::string::npos) {
      // poison_operands puts NaN in every even row of A.
      EXPECT_TRUE(std::isnan(reference::element(p, args, 0, 0, 0).value));
      EXPECT_TRUE(std::isnan(reference::element(p, args, 0, 2, 3).value));
    }
  }
}

}  // namespace
}  // namespace gemmtune::testing
