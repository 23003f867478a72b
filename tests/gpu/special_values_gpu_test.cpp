// The special-value table (tests/testing/special_values.h) on the GPU:
// CUBLAS, CUBLASLT and CUDA must give what the host reference gives, NaN
// for NaN: alpha = 0 never reads A or B, beta = 0 never reads the bias,
// relu keeps NaN. The CPU backends run the same table in the conformance
// suite. Skips, saying why, without a GPU; run with
//   GEMMTUNE_TEST_FILTER='*SpecialValues*' scripts/device/gpu_suite.sh
#include <gtest/gtest.h>

#include "gemmtune/tuner.h"
#include "gpu/gpu_testing.h"
#include "testing/special_values.h"

namespace gemmtune {
namespace {

using testing::special_value_cases;

struct Param {
  std::string backend;
  std::size_t case_index;
};

std::vector<Param> params() {
  std::vector<Param> out;
  for (const char* backend : {"CUBLAS", "CUBLASLT", "CUDA"})
    for (std::size_t i = 0; i < special_value_cases().size(); ++i) out.push_back({backend, i});
  return out;
}

class GpuSpecialValues : public ::testing::TestWithParam<Param> {};

TEST_P(GpuSpecialValues, EveryChoiceGivesTheReferenceNaNForNaN) {
  GEMMTUNE_REQUIRE_GPU();
  const testing::SpecialValueCase& c = special_value_cases()[GetParam().case_index];
  SCOPED_TRACE(c.rule);
  std::shared_ptr<Backend> backend;
  for (const auto& b : builtin_backends())
    if (b->name() == GetParam().backend) backend = b;
  if (!backend) GTEST_SKIP() << GetParam().backend << " is not registered in this build";
  if (!backend->availability().available) GTEST_SKIP() << backend->availability().why;
  Problem p = c.problem;
  p.device = Device{DeviceKind::cuda, 0};
  const TuningContext ctx = gpu_testing::context();
  auto choices = backend->enumerate(p, ctx);
  if (!choices) {
    EXPECT_TRUE(is_unsupported(choices.error().reason)) << choices.error().to_string();
    return;
  }
  runtime::DeviceRuntime& rt = gpu_testing::device();
  const measure::HostData host = testing::special_value_inputs(c, p, 7);
  for (const Choice& choice : choices.value()) {
    SCOPED_TRACE(choice.name + " (" + choice.description + ")");
    auto kernel = backend->build(p, choice, ctx);
    ASSERT_TRUE(kernel) << kernel.error().to_string();
    EXPECT_TRUE(testing::matches_reference_with_special_values(p, *kernel.value(), rt, host));
  }
}

INSTANTIATE_TEST_SUITE_P(GpuBackends, GpuSpecialValues, ::testing::ValuesIn(params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return info.param.backend + "_" + special_value_cases()[info.param.case_index].name;
                         });

}  // namespace
}  // namespace gemmtune
