#include "backends/blas/blas_backend.h"

#include <cblas.h>
#include <gtest/gtest.h>

#include "testing/problem_specs.h"

#include <climits>
#include <cmath>
#include <vector>

#include "conformance/check_choice.h"

namespace gemmtune::backends {
namespace {

using conformance::builds_runs_and_verifies;

// The tests' spelling: dtype first, transposes as flags, 2 batches.
ProblemSpec spec(Op op, DType dtype, std::int64_t m, std::int64_t n, std::int64_t k, bool ta = false,
                 bool tb = false) {
  const char* layouts[2][2] = {{"nn", "nt"}, {"tn", "tt"}};
  return testing::spec(op, m, n, k, dtype, layouts[ta][tb], 2);
}

const TuningContext kCtx{SearchSpace::standard, 1};

Rejection rejection_for(const Problem& p) {
  auto choices = make_blas_backend()->enumerate(p, kCtx);
  EXPECT_FALSE(choices) << "expected a rejection for " << describe(p);
  return choices ? Rejection{} : choices.error();
}

std::vector<Choice> choices_for(const Problem& p, const TuningContext& ctx = kCtx) {
  auto choices = make_blas_backend()->enumerate(p, ctx);
  EXPECT_TRUE(choices) << describe(p) << ": " << choices.error().to_string();
  return choices ? choices.value() : std::vector<Choice>{};
}

TEST(BlasBackend, RejectsInt8WithUnsupportedDtypeMentioningInt8) {
  Rejection r = rejection_for(make_problem(spec(Op::int_mm, DType::i8, 8, 8, 8)));
  EXPECT_EQ(r.reason, Reason::unsupported_dtype);
  EXPECT_EQ(r.stage, Stage::enumerate);
  EXPECT_NE(r.message.find("int8"), std::string::npos) << r.message;
}

TEST(BlasBackend, RejectsFp8AndF16AsUnsupportedDtypes) {
  ProblemSpec s = spec(Op::scaled_mm, DType::f8e4m3, 8, 8, 8);
  Rejection fp8 = rejection_for(make_problem(s));
  EXPECT_EQ(fp8.reason, Reason::unsupported_dtype);
  EXPECT_NE(fp8.message.find("fp8"), std::string::npos) << fp8.message;
  Rejection f16 = rejection_for(make_problem(spec(Op::mm, DType::f16, 8, 8, 8)));
  EXPECT_EQ(f16.reason, Reason::unsupported_dtype);
  EXPECT_NE(f16.message.find("f16"), std::string::npos) << f16.message;
}

TEST(BlasBackend, RejectsBf16WhenThisOpenBlasLacksSbgemm) {
  if (blas::has_sbgemm()) GTEST_SKIP() << "the loaded OpenBLAS exports cblas_sbgemm, so bf16 is served here";
  Rejection r = rejection_for(make_problem(spec(Op::mm, DType::bf16, 8, 8, 8)));
  EXPECT_EQ(r.reason, Reason::unsupported_dtype);
  EXPECT_NE(r.message.find("cblas_sbgemm"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("bf16"), std::string::npos) << r.message;
}

TEST(BlasBackend, RejectsMixedMmWithHalfPrecisionActivations) {
  Rejection r = rejection_for(make_problem(spec(Op::mixed_mm, DType::bf16, 8, 8, 8)));
  EXPECT_EQ(r.reason, Reason::unsupported_dtype);
  EXPECT_NE(r.message.find("bf16"), std::string::npos) << r.message;
}

TEST(BlasBackend, RejectsGeneralStridesNamingTheOperand) {
  for (char operand : {'A', 'B', 'C'}) {
    Problem p = make_problem(spec(Op::mm, DType::f32, 6, 5, 4));
    MatrixDesc& d = operand == 'A' ? p.a : operand == 'B' ? p.b : p.c;
    d.col_stride = 2;
    d.row_stride = 2 * d.cols + 1;
    ASSERT_NO_THROW(validate(p));
    Rejection r = rejection_for(p);
    EXPECT_EQ(r.reason, Reason::unsupported_layout) << operand;
    EXPECT_EQ(r.message.rfind(std::string(1, operand) + " has general strides", 0), 0u) << r.message;
  }
}

TEST(BlasBackend, GeneralStridesDoNotMatterWhenKIsZero) {
  // Nothing of A or B is read: the layout cannot be a reason to refuse.
  Problem p = make_problem(spec(Op::addmm, DType::f32, 6, 5, 0));
  p.a.col_stride = 2;
  p.a.row_stride = 3;
  auto choices = choices_for(p);
  ASSERT_EQ(choices.size(), 1u);
  EXPECT_TRUE(builds_runs_and_verifies(*make_blas_backend(), p, choices[0], kCtx));
}

TEST(BlasBackend, RejectsDimensionsAboveIntMaxAsUnsupportedShape) {
  // Never built or run: enumerate only looks at the description.
  Problem p = make_problem(spec(Op::mm, DType::f32, 2, 2, std::int64_t{INT_MAX} + 1));
  Rejection r = rejection_for(p);
  EXPECT_EQ(r.reason, Reason::unsupported_shape);
  EXPECT_NE(r.message.find("K="), std::string::npos) << r.message;
}

TEST(BlasBackend, RejectsAnotherDevice) {
  Problem p = make_problem(spec(Op::mm, DType::f32, 4, 4, 4));
  p.device = Device{DeviceKind::cuda, 0};
  EXPECT_EQ(rejection_for(p).reason, Reason::wrong_device);
}

TEST(BlasBackend, ChoiceNamesAreStable) {
  EXPECT_EQ(choices_for(make_problem(spec(Op::mm, DType::f32, 4, 4, 4)))[0].name, "blas_sgemm");
  EXPECT_EQ(choices_for(make_problem(spec(Op::baddbmm, DType::f64, 4, 4, 4)))[0].name, "blas_dgemm");
  EXPECT_EQ(choices_for(make_problem(spec(Op::mixed_mm, DType::f32, 4, 4, 4)))[0].name, "blas_sgemm_dequant_int8");
  // Edge cases keep the dtype's name, so a stored winner stays meaningful.
  EXPECT_EQ(choices_for(make_problem(spec(Op::mm, DType::f32, 4, 4, 0)))[0].name, "blas_sgemm");
  EXPECT_EQ(choices_for(make_problem(spec(Op::mm, DType::f64, 0, 4, 4)))[0].name, "blas_dgemm");
  // Exhaustive offers nothing more: one library call is one choice.
  EXPECT_EQ(choices_for(make_problem(spec(Op::mm, DType::f32, 4, 4, 4)), {SearchSpace::exhaustive, 1}).size(), 1u);
}

TEST(BlasBackend, ColumnMajorOutputIsComputedAsTheTransposedProduct) {
  Problem p = make_problem(spec(Op::addmm, DType::f32, 7, 5, 3, true, false));
  p.c = MatrixDesc::col_major(DType::f32, 7, 5);
  auto choices = choices_for(p);
  ASSERT_EQ(choices.size(), 1u);
  EXPECT_NE(choices[0].description.find("ColMajor"), std::string::npos) << choices[0].description;
  EXPECT_TRUE(builds_runs_and_verifies(*make_blas_backend(), p, choices[0], kCtx));
}

TEST(BlasBackend, TwoByTwoProductByHand) {
  Problem p = make_problem(spec(Op::mm, DType::f64, 2, 2, 2));
  auto kernel = make_blas_backend()->build(p, choices_for(p)[0], kCtx);
  ASSERT_TRUE(kernel);
  std::vector<double> a{1, 2, 3, 4}, b{5, 6, 7, 8}, c(4, NAN);
  ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), c.data()}, {}));
  EXPECT_EQ(c, (std::vector<double>{19, 22, 43, 50}));
}

TEST(BlasBackend, AddmmCopiesBiasThenActivatesAfterTheCall) {
  // relu(2 * [19 22; 43 50] + 0.5 * [-80 4]) = [0 46; 46 102]
  ProblemSpec s = spec(Op::addmm, DType::f32, 2, 2, 2);
  s.alpha = 2;
  s.beta = 0.5;
  s.activation = Activation::relu;
  Problem p = make_problem(s);
  auto choices = choices_for(p);
  EXPECT_NE(choices[0].description.find("bias copied into C first"), std::string::npos);
  EXPECT_NE(choices[0].description.find("relu as a separate pass"), std::string::npos);
  auto kernel = make_blas_backend()->build(p, choices[0], kCtx);
  ASSERT_TRUE(kernel);
  std::vector<float> a{1, 2, 3, 4}, b{5, 6, 7, 8}, bias{-80, 4}, c(4, NAN);
  ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), c.data(), bias.data()}, {}));
  EXPECT_EQ(c, (std::vector<float>{0, 46, 46, 102}));
}

TEST(BlasBackend, F32GeluPassIsAccurateAcrossItsWholeRange) {
  // The pass uses a branch-free erf; its error must stay far below the f32
  // tolerance (~1e-5 |x|) everywhere, including where the tail saturates.
  const int n = 801;
  ProblemSpec s = spec(Op::addmm, DType::f32, 1, n, 1);
  s.activation = Activation::gelu;
  Problem p = make_problem(s);
  auto kernel = make_blas_backend()->build(p, choices_for(p)[0], kCtx);
  ASSERT_TRUE(kernel);
  std::vector<float> a{0.0f}, b(n, 0.0f), bias(n), c(n, NAN);
  for (int j = 0; j < n; ++j) bias[j] = -40.0f + 0.1f * static_cast<float>(j);  // pre-activation = bias
  ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), c.data(), bias.data()}, {}));
  for (int j = 0; j < n; ++j) {
    const double x = bias[j];
    const double exact = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    EXPECT_NEAR(c[j], exact, 1e-6 * std::fabs(x) + 1e-7) << "x = " << x;
  }
}

TEST(BlasBackend, F32GeluTanhPassIsAccurateAcrossItsWholeRange) {
  // gelu_tanh through the shared vector tanh (util/vector_math.h), one lane
  // at a time: pre-activations from -40 (where 1 + tanh cancels) to 40
  // (where tanh saturates), and tiny ones.
  const int n = 803;
  ProblemSpec s = spec(Op::addmm, DType::f32, 1, n, 1);
  s.activation = Activation::gelu_tanh;
  Problem p = make_problem(s);
  auto kernel = make_blas_backend()->build(p, choices_for(p)[0], kCtx);
  ASSERT_TRUE(kernel);
  std::vector<float> a{0.0f}, b(n, 0.0f), bias(n), c(n, NAN);
  for (int j = 0; j < 801; ++j) bias[j] = -40.0f + 0.1f * static_cast<float>(j);  // pre-activation = bias
  bias[801] = 1e-30f;
  bias[802] = -3e-8f;
  ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), c.data(), bias.data()}, {}));
  for (int j = 0; j < n; ++j) {
    const double x = bias[j];
    const double exact = 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    EXPECT_NEAR(c[j], exact, 2.5e-7 * std::fabs(x) + 1e-38) << "x = " << x;
  }
}

TEST(BlasBackend, KZeroWritesActivatedScaledBiasWithoutCallingBlas) {
  ProblemSpec s = spec(Op::addmm, DType::f32, 2, 3, 0);
  s.bias = BiasKind::full;
  s.beta = -1;
  s.activation = Activation::relu;
  Problem p = make_problem(s);
  auto choices = choices_for(p);
  EXPECT_NE(choices[0].description.find("K=0"), std::string::npos);
  auto kernel = make_blas_backend()->build(p, choices[0], kCtx);
  ASSERT_TRUE(kernel);
  std::vector<float> bias{1, -2, 3, -4, 5, -6}, c(6, NAN);
  ASSERT_TRUE(kernel.value()->run(GemmArgs{nullptr, nullptr, c.data(), bias.data()}, {}));
  EXPECT_EQ(c, (std::vector<float>{0, 2, 0, 4, 0, 6}));
}

TEST(BlasBackend, BatchedLoopHonoursBroadcastBatchStrides) {
  ProblemSpec s = spec(Op::baddbmm, DType::f32, 9, 7, 5, false, true);
  s.batch = 4;
  s.broadcast_b = true;
  s.activation = Activation::gelu;
  Problem p = make_problem(s);
  auto choices = choices_for(p);
  EXPECT_NE(choices[0].description.find("one call per batch"), std::string::npos);
  EXPECT_TRUE(builds_runs_and_verifies(*make_blas_backend(), p, choices[0], kCtx));
}

TEST(BlasBackend, MixedMmDequantizesIntoAReportedWorkspace) {
  ProblemSpec s = spec(Op::mixed_mm, DType::f32, 9, 7, 5);
  s.bias = BiasKind::row;
  s.activation = Activation::silu;
  Problem p = make_problem(s);
  auto choices = choices_for(p);
  auto kernel = make_blas_backend()->build(p, choices[0], kCtx);
  ASSERT_TRUE(kernel);
  EXPECT_EQ(kernel.value()->workspace_bytes(), static_cast<std::size_t>(5 * 7) * sizeof(float));
  EXPECT_TRUE(builds_runs_and_verifies(*make_blas_backend(), p, choices[0], kCtx));
}

TEST(BlasBackend, ElementwisePassesSplitAcrossThreadsStayCorrect) {
  // Large enough (>= 2^15 elements) that bias copy, activation and
  // dequantization run on the kernel's threads.
  const TuningContext two{SearchSpace::standard, 2};
  ProblemSpec s = spec(Op::baddbmm, DType::f32, 129, 300, 7, true, false);
  s.bias = BiasKind::full;
  s.beta = 0.5;
  s.activation = Activation::gelu;
  Problem addmm = make_problem(s);
  ProblemSpec mixed_spec = spec(Op::mixed_mm, DType::f32, 33, 160, 257);
  mixed_spec.bias = BiasKind::row;
  mixed_spec.activation = Activation::silu;
  Problem mixed = make_problem(mixed_spec);
  for (const Problem& p : {addmm, mixed}) {
    auto choices = choices_for(p, two);
    ASSERT_EQ(choices.size(), 1u);
    EXPECT_TRUE(builds_runs_and_verifies(*make_blas_backend(), p, choices[0], two)) << describe(p);
  }
}

TEST(BlasBackend, SetsOpenBlasThreadsToTheContextOnEveryRun) {
  Problem p = make_problem(spec(Op::mm, DType::f32, 16, 16, 16));
  auto backend = make_blas_backend();
  std::vector<float> a(256, 1), b(256, 1), c(256);
  for (int threads : {1, 2, 1}) {
    const TuningContext ctx{SearchSpace::standard, threads};
    auto kernel = backend->build(p, choices_for(p, ctx)[0], ctx);
    ASSERT_TRUE(kernel);
    openblas_set_num_threads(threads == 1 ? 2 : 1);  // something else touched the global state
    ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), c.data()}, {}));
    EXPECT_EQ(openblas_get_num_threads(), threads);
    EXPECT_EQ(c[0], 16.0f);
  }
}

TEST(BlasBackend, VersionNamesOpenBlasBuildAndCore) {
  const std::string version = make_blas_backend()->version();
  EXPECT_NE(version.find("OpenBLAS"), std::string::npos) << version;
  EXPECT_NE(version.find(std::string("core=") + openblas_get_corename()), std::string::npos) << version;
  EXPECT_NE(version.find(blas::has_sbgemm() ? "sbgemm=yes" : "sbgemm=no"), std::string::npos) << version;
}

TEST(BlasBackend, IsAvailableAndDescribesItsLimits) {
  auto backend = make_blas_backend();
  EXPECT_EQ(backend->name(), "BLAS");
  EXPECT_EQ(backend->device_kind(), DeviceKind::cpu);
  EXPECT_TRUE(backend->availability().available);
  EXPECT_TRUE(backend->may_be_inexact());
  const std::string caps = backend->capabilities();
  EXPECT_NE(caps.find("f32"), std::string::npos);
  EXPECT_NE(caps.find("f64"), std::string::npos);
  EXPECT_NE(caps.find("sbgemm"), std::string::npos);
}

TEST(BlasBackend, BuildRejectsAChoiceItDidNotOffer) {
  Problem p = make_problem(spec(Op::mm, DType::f32, 4, 4, 4));
  auto kernel = make_blas_backend()->build(p, Choice{"blas_dgemm", ""}, kCtx);
  ASSERT_FALSE(kernel);
  EXPECT_EQ(kernel.error().reason, Reason::internal_error);
}

}  // namespace
}  // namespace gemmtune::backends
