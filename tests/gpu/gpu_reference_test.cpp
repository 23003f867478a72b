// The GPU reference kernel against the host reference on the same data, for
// every op, dtype, epilogue and layout class: both are the exact definition,
// so they agree to rounding of the last double operation (the kernel is
// compiled without FMA contraction, as the host code is).
#include <gtest/gtest.h>

#include <cmath>

#include "backends/reference/reference_math.h"
#include "gpu/gpu_testing.h"
#include "measure/inputs.h"

namespace gemmtune {
namespace {

using gpu_testing::gpu_problem;
using gpu_testing::Shape;

struct RefCase {
  std::string name;
  Problem problem;
};

std::vector<RefCase> make_reference_cases() {
  std::vector<RefCase> out;
  auto add = [&](std::string name, Problem p) { out.push_back({std::move(name), std::move(p)}); };
  add("mm_f32_nn_odd", gpu_problem(Op::mm, DType::f32, {1, 33, 17, 29}));
  add("mm_f64_nt", gpu_problem(Op::mm, DType::f64, {1, 19, 23, 301}, "nt"));
  add("mm_f16_tn", gpu_problem(Op::mm, DType::f16, {1, 21, 18, 40}, "tn"));
  add("mm_bf16_tt", gpu_problem(Op::mm, DType::bf16, {1, 16, 24, 64}, "tt"));
  {
    Problem p = gpu_problem(Op::mm, DType::bf16, {1, 12, 20, 33}, "nt");
    p.c.dtype = DType::f32;
    add("mm_bf16_to_f32", p);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f32, {1, 17, 19, 23});
    p.alpha = 0.5;
    p.beta = -1.5;
    p.activation = Activation::relu;
    add("addmm_f32_rowbias_relu_alpha_beta", p);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f32, {1, 9, 14, 31});
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::f32, 9, 14);
    p.activation = Activation::gelu;
    add("addmm_f32_fullbias_gelu", p);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 11, 13, 45}, "nt");
    p.bias_desc.dtype = DType::f32;
    p.activation = Activation::silu;
    add("addmm_bf16_f32bias_silu", p);
  }
  {
    Problem p = gpu_problem(Op::bmm, DType::bf16, {3, 10, 12, 17});
    p.b.batch_stride = 0;  // one B for every batch
    add("bmm_bf16_broadcast_b", p);
  }
  {
    Problem p = gpu_problem(Op::baddbmm, DType::f32, {2, 7, 9, 11});
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::f32, 7, 9);
    p.bias_desc.batch_stride = 63;
    p.beta = 0.25;
    add("baddbmm_f32_batched_fullbias", p);
  }
  {
    Problem p = gpu_problem(Op::int_mm, DType::i8, {1, 16, 24, 200}, "nt");
    p.activation = Activation::relu;
    add("int_mm_i8_relu", p);
  }
  add("int_mm_u8", gpu_problem(Op::int_mm, DType::u8, {1, 8, 16, 64}));
  add("scaled_mm_e4m3_per_tensor", gpu_problem(Op::scaled_mm, DType::f8e4m3, {1, 16, 32, 64}, "nt"));
  {
    Problem p = gpu_problem(Op::scaled_mm, DType::f8e4m3, {1, 16, 32, 64}, "nt");
    p.b.dtype = DType::f8e5m2;
    p.c.dtype = DType::f32;
    p.scale_a = ScaleKind::per_channel;
    p.scale_b = ScaleKind::per_channel;
    add("scaled_mm_e4m3_e5m2_per_channel_f32", p);
  }
  {
    Problem p = gpu_problem(Op::scaled_mm, DType::f8e5m2, {1, 8, 16, 32}, "nt");
    p.b.dtype = DType::f8e4m3;
    p.bias = BiasKind::row;
    p.bias_desc = MatrixDesc::row_major(DType::bf16, 1, 16);
    add("scaled_mm_e5m2_e4m3_rowbias", p);
  }
  add("mixed_mm_bf16_int8", gpu_problem(Op::mixed_mm, DType::bf16, {1, 12, 24, 40}));
  {
    Problem p = gpu_problem(Op::mm, DType::f32, {1, 13, 11, 9});
    p.a.row_stride = 16;  // padded rows
    p.c = MatrixDesc::col_major(DType::f32, 13, 11);
    add("mm_f32_padded_a_colmajor_c", p);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f16, {1, 6, 10, 0});
    p.beta = 3.0;
    add("addmm_f16_k0", p);
  }
  return out;
}

// Built once: tests hold references into it.
const std::vector<RefCase>& reference_cases() {
  static const std::vector<RefCase> cases = make_reference_cases();
  return cases;
}

class GpuReference : public ::testing::TestWithParam<std::size_t> {};

TEST_P(GpuReference, MatchesTheHostReferenceOnEveryElement) {
  GEMMTUNE_REQUIRE_GPU();
  const RefCase& c = reference_cases()[GetParam()];
  const Problem& p = c.problem;
  validate(p);
  auto& rt = gpu_testing::device();
  const measure::HostData host = measure::make_host_data(p, 1234 + GetParam());
  auto set = measure::upload(rt, host);
  ASSERT_TRUE(set.ok()) << set.error().to_string();
  std::vector<runtime::OutputIndex> indices;
  for (std::int64_t b = 0; b < p.batch; ++b)
    for (std::int64_t i = 0; i < p.m; ++i)
      for (std::int64_t j = 0; j < p.n; ++j) indices.push_back({b, i, j});
  auto gpu = rt.reference(p, set.value().args(), indices);
  ASSERT_TRUE(gpu.ok()) << gpu.error().to_string();
  ASSERT_EQ(gpu.value().size(), indices.size());
  const GemmArgs host_args = host.args();
  int checked = 0;
  for (std::size_t s = 0; s < indices.size(); ++s) {
    const auto& at = indices[s];
    const runtime::ReferenceValue want = reference::element(p, host_args, at.batch, at.row, at.col);
    const runtime::ReferenceValue got = gpu.value()[s];
    const double slack = 1e-13 * (want.magnitude + std::fabs(want.value)) + 1e-300;
    ASSERT_LE(std::fabs(got.value - want.value), slack)
        << c.name << " C[" << at.batch << "," << at.row << "," << at.col << "]: gpu " << got.value << " host "
        << want.value;
    ASSERT_LE(std::fabs(got.magnitude - want.magnitude), 1e-13 * want.magnitude + 1e-300)
        << c.name << " magnitude at C[" << at.batch << "," << at.row << "," << at.col << "]";
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(p.batch * p.m * p.n));
}

INSTANTIATE_TEST_SUITE_P(AllOps, GpuReference, ::testing::Range<std::size_t>(0, reference_cases().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return reference_cases()[info.param].name;
                         });

TEST(GpuReferenceSample, LargeProblemIsCheckedOnASample) {
  GEMMTUNE_REQUIRE_GPU();
  const Problem p = gpu_problem(Op::mm, DType::bf16, {1, 1024, 1536, 2048}, "nt");
  auto& rt = gpu_testing::device();
  const measure::HostData host = measure::make_host_data(p, 99);
  auto set = measure::upload(rt, host);
  ASSERT_TRUE(set.ok()) << set.error().to_string();
  std::vector<runtime::OutputIndex> indices{{0, 0, 0}, {0, 1023, 1535}, {0, 511, 77}, {0, 3, 1500}};
  auto gpu = rt.reference(p, set.value().args(), indices);
  ASSERT_TRUE(gpu.ok()) << gpu.error().to_string();
  for (std::size_t s = 0; s < indices.size(); ++s) {
    const auto want = reference::element(p, host.args(), 0, indices[s].row, indices[s].col);
    EXPECT_NEAR(gpu.value()[s].value, want.value, 1e-12 * want.magnitude);
    EXPECT_GT(gpu.value()[s].magnitude, 0.0);  // random inputs, never zeros
  }
}

}  // namespace
}  // namespace gemmtune
