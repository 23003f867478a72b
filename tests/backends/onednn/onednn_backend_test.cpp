#include "backends/onednn/onednn_backend.h"

#include <gtest/gtest.h>

#include "testing/problem_specs.h"
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <vector>

#include "conformance/check_choice.h"
#include "util/cpu_info.h"

namespace gemmtune::backends {
namespace {

using conformance::builds_runs_and_verifies;

const TuningContext kCtx{SearchSpace::standard, 1};
const TuningContext kExhaustive{SearchSpace::exhaustive, 1};

// The tests' spelling: dtype first, transposes as flags, 3 batches.
ProblemSpec spec(Op op, DType dtype, std::int64_t m, std::int64_t n, std::int64_t k, bool ta = false,
                 bool tb = false) {
  const char* layouts[2][2] = {{"nn", "nt"}, {"tn", "tt"}};
  return testing::spec(op, m, n, k, dtype, layouts[ta][tb], 3);
}

Rejection rejection_for(const Problem& p, const TuningContext& ctx = kCtx) {
  auto choices = make_onednn_backend()->enumerate(p, ctx);
  EXPECT_FALSE(choices) << "expected a rejection for " << describe(p);
  return choices ? Rejection{} : choices.error();
}

std::vector<Choice> choices_for(const Problem& p, const TuningContext& ctx = kCtx) {
  auto choices = make_onednn_backend()->enumerate(p, ctx);
  EXPECT_TRUE(choices) << describe(p) << ": " << choices.error().to_string();
  return choices ? choices.value() : std::vector<Choice>{};
}

const Choice* find(const std::vector<Choice>& choices, const std::string& name) {
  for (const auto& c : choices)
    if (c.name == name) return &c;
  return nullptr;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(OneDnnBackend, RejectsF16WhenThisCpuHasNoF16Kernel) {
  if (cpu::info().avx512_fp16)
    GTEST_SKIP() << "this CPU has AVX512_FP16; oneDNN may serve f16 here";
  for (DType out : {DType::f16, DType::f32}) {
    ProblemSpec s = spec(Op::mm, DType::f16, 32, 32, 32);
    s.out_dtype = out;
    Rejection r = rejection_for(make_problem(s));
    EXPECT_EQ(r.reason, Reason::unsupported_dtype);
    EXPECT_TRUE(contains(r.message, "oneDNN has no f16 matmul for this CPU")) << r.message;
  }
}

TEST(OneDnnBackend, RejectsF64Fp8AndMixedMmAsUnsupportedDtypes) {
  Rejection f64 = rejection_for(make_problem(spec(Op::mm, DType::f64, 8, 8, 8)));
  EXPECT_EQ(f64.reason, Reason::unsupported_dtype);
  EXPECT_TRUE(contains(f64.message, "f64")) << f64.message;
  Rejection fp8 = rejection_for(make_problem(spec(Op::scaled_mm, DType::f8e4m3, 8, 8, 8)));
  EXPECT_EQ(fp8.reason, Reason::unsupported_dtype);
  EXPECT_TRUE(contains(fp8.message, "fp8")) << fp8.message;
  Rejection mixed = rejection_for(make_problem(spec(Op::mixed_mm, DType::f32, 8, 8, 8)));
  EXPECT_EQ(mixed.reason, Reason::unsupported_dtype);
  EXPECT_TRUE(contains(mixed.message, "int8 weights")) << mixed.message;
}

TEST(OneDnnBackend, OffersOnlyRealAlternativesWithStableNamesAndImplementationInDescription) {
  Problem p = make_problem(spec(Op::mm, DType::f32, 96, 160, 128));
  auto choices = choices_for(p);
  ASSERT_FALSE(choices.empty());
  EXPECT_EQ(choices[0].name, onednn::kPlainChoice);
  const std::set<std::string> known{onednn::kPlainChoice, onednn::kPackedBChoice, onednn::kRuntimeDimsChoice};
  std::set<std::string> impls;
  for (const auto& c : choices) {
    EXPECT_TRUE(known.count(c.name)) << c.name;
    // impl_info_str() leads the description: "brg:avx512_core; ...".
    const std::string impl = c.description.substr(0, c.description.find(';'));
    EXPECT_TRUE(contains(impl, ":")) << c.description;
    EXPECT_FALSE(contains(impl, "ref")) << "the reference kernel is not offered in the default space";
    impls.insert(impl);
  }
  if (const Choice* packed = find(choices, onednn::kPackedBChoice)) {
    EXPECT_TRUE(contains(packed->description, "reordered")) << packed->description;
  }
  if (const Choice* runtime = find(choices, onednn::kRuntimeDimsChoice)) {
    EXPECT_TRUE(contains(runtime->description, "run-time dimension")) << runtime->description;
    EXPECT_NE(runtime->description.substr(0, runtime->description.find(';')),
              choices[0].description.substr(0, choices[0].description.find(';')))
        << "a run-time-dims choice with the plain choice's kernel is no alternative";
  }
  for (const auto& c : choices) EXPECT_TRUE(builds_runs_and_verifies(*make_onednn_backend(), p, c, kCtx)) << c.name;
}

TEST(OneDnnBackend, PackedWeightsAreReorderedFromTheCurrentBOnEveryCall) {
  Problem p = make_problem(spec(Op::mm, DType::f32, 16, 64, 64));
  auto choices = choices_for(p);
  const Choice* packed = find(choices, onednn::kPackedBChoice);
  if (packed == nullptr) GTEST_SKIP() << "oneDNN prefers the given weight format here: no packed_b choice";
  auto kernel = make_onednn_backend()->build(p, *packed, kCtx);
  ASSERT_TRUE(kernel);
  EXPECT_GT(kernel.value()->workspace_bytes(), 0u) << "the packed copy of B is workspace";
  std::vector<float> a(16 * 64, 1.0f), b(64 * 64, 1.0f), c(16 * 64, 0.0f);
  ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), c.data()}, {}));
  EXPECT_EQ(c[0], 64.0f);
  std::fill(b.begin(), b.end(), 2.0f);
  ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), c.data()}, {}));
  EXPECT_EQ(c[0], 128.0f) << "a stale packed B was used";
  // A B at another address must be the one reordered too.
  std::vector<float> other_b(64 * 64, 3.0f);
  ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), other_b.data(), c.data()}, {}));
  EXPECT_EQ(c[0], 192.0f) << "the reorder read B from an earlier call's address";
}

TEST(OneDnnBackend, BiasIsTheMatmulArgumentOnlyWhenAlphaEqualsBeta) {
  // oneDNN 2.x scales the bias argument by the output scale too.
  for (auto [alpha, beta, form] : {std::tuple{2.0, 2.0, "bias as matmul argument"},
                                   std::tuple{0.5, 2.0, "bias as binary post-op"},
                                   std::tuple{1.0, -3.0, "bias as binary post-op"}}) {
    ProblemSpec s = spec(Op::addmm, DType::f32, 33, 65, 17);
    s.alpha = alpha;
    s.beta = beta;
    s.activation = Activation::gelu;
    Problem p = make_problem(s);
    auto choices = choices_for(p);
    ASSERT_FALSE(choices.empty());
    EXPECT_TRUE(contains(choices[0].description, form)) << choices[0].description;
    EXPECT_TRUE(builds_runs_and_verifies(*make_onednn_backend(), p, choices[0], kCtx));
  }
}

TEST(OneDnnBackend, GeluTanhPostOpIsAccurateAcrossItsWholeRange) {
  // oneDNN's own gelu_tanh post-op serves gelu_tanh only if it is as exact
  // as gemmtune's f32 epilogues: pre-activations from -40 to 40 through the
  // bias (A is zero), against the double-precision formula.
  const int n = 801;
  ProblemSpec s = spec(Op::addmm, DType::f32, 1, n, 1);
  s.activation = Activation::gelu_tanh;
  Problem p = make_problem(s);
  for (const Choice& choice : choices_for(p)) {
    SCOPED_TRACE(choice.name);
    auto kernel = make_onednn_backend()->build(p, choice, kCtx);
    ASSERT_TRUE(kernel) << kernel.error().to_string();
    std::vector<float> a{0.0f}, b(n, 0.0f), bias(n), c(n, NAN);
    for (int j = 0; j < n; ++j) bias[j] = -40.0f + 0.1f * static_cast<float>(j);
    ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), c.data(), bias.data()}, {}));
    double worst = 0;
    for (int j = 0; j < n; ++j) {
      const double x = bias[j];
      const double exact = 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
      worst = std::max(worst, std::fabs(c[j] - exact) / std::fabs(x));
      EXPECT_NEAR(c[j], exact, 2.5e-7 * std::fabs(x) + 1e-38) << "x = " << x;
    }
    std::printf("[ measured ] %s: gelu_tanh error up to %.2g |x|\n", choice.name.c_str(), worst);
  }
}

TEST(OneDnnBackend, StridedOrBroadcastBiasIsCopiedDenseBecauseOneDnnIgnoresBiasStrides) {
  // oneDNN 2.6's brgemm read a row bias with stride 3 as if it were dense.
  Problem strided = make_problem(spec(Op::addmm, DType::f32, 17, 63, 31));
  strided.bias_desc.col_stride = 3;
  strided.bias_desc.row_stride = 3 * 63;
  ProblemSpec per_batch_spec = spec(Op::baddbmm, DType::bf16, 17, 63, 31);
  Problem per_batch = make_problem(per_batch_spec);
  per_batch.bias_desc.batch_stride = 64;  // one row bias per batch
  for (const Problem& p : {strided, per_batch}) {
    ASSERT_NO_THROW(validate(p));
    auto choices = choices_for(p);
    ASSERT_FALSE(choices.empty());
    for (const auto& c : choices) {
      EXPECT_TRUE(contains(c.description, "copied to a dense buffer")) << c.description;
      EXPECT_TRUE(builds_runs_and_verifies(*make_onednn_backend(), p, c, kCtx)) << c.name;
    }
  }
}

TEST(OneDnnBackend, IntMmReluStaysExactAbove2To24WithASeparatePass) {
  // 255 * 127 * 1101 = 35655885 is odd and above 2^25: an f32 epilogue
  // would round it to a multiple of 4.
  ProblemSpec s = spec(Op::int_mm, DType::u8, 3, 5, 1101);
  s.activation = Activation::relu;
  Problem p = make_problem(s);
  auto choices = choices_for(p);
  ASSERT_FALSE(choices.empty());
  for (const auto& c : choices) {
    EXPECT_TRUE(contains(c.description, "separate exact int32 pass")) << c.description;
    auto kernel = make_onednn_backend()->build(p, c, kCtx);
    ASSERT_TRUE(kernel);
    std::vector<std::uint8_t> a(3 * 1101, 255);
    std::vector<std::int8_t> b(1101 * 5, 127);
    for (std::int64_t kk = 0; kk < 1101; ++kk) b[kk * 5 + 4] = -127;  // last column negative -> relu 0
    std::vector<std::int32_t> out(15, -1);
    ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), out.data()}, {}));
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 4; ++j) EXPECT_EQ(out[i * 5 + j], 35655885) << c.name;
      EXPECT_EQ(out[i * 5 + 4], 0) << c.name;
    }
  }
  // Small K: every sum is exact in f32, so relu is fused as a post-op.
  s.k = 64;
  auto fused = choices_for(make_problem(s));
  ASSERT_FALSE(fused.empty());
  EXPECT_TRUE(contains(fused[0].description, "relu as eltwise post-op")) << fused[0].description;
}

TEST(OneDnnBackend, GeneralStridesGetOnlyTheReferenceKernelOfferedInExhaustiveSpace) {
  Problem p = make_problem(spec(Op::mm, DType::f32, 9, 7, 5));
  p.a.col_stride = 2;
  p.a.row_stride = 13;
  ASSERT_NO_THROW(validate(p));
  Rejection r = rejection_for(p);
  EXPECT_EQ(r.reason, Reason::unsupported_layout);
  EXPECT_TRUE(contains(r.message, "ref:any")) << r.message;
  auto exhaustive = choices_for(p, kExhaustive);
  ASSERT_FALSE(exhaustive.empty());
  EXPECT_TRUE(contains(exhaustive[0].description, "ref:any")) << exhaustive[0].description;
  EXPECT_TRUE(builds_runs_and_verifies(*make_onednn_backend(), p, exhaustive[0], kExhaustive));
}

TEST(OneDnnBackend, RejectsBatchStridesOneDnnCannotDescribeNamingTheOperand) {
  Problem p = make_problem(spec(Op::bmm, DType::f32, 4, 6, 5));
  p.b.row_stride = 8;  // padded rows...
  p.b.batch_stride = 4 * 8 + 6;  // ...and batches that start right after the last row's 6 elements
  ASSERT_NO_THROW(validate(p));
  Rejection r = rejection_for(p);
  EXPECT_EQ(r.reason, Reason::unsupported_layout);
  EXPECT_EQ(r.message.rfind("B's batch stride", 0), 0u) << r.message;
}

TEST(OneDnnBackend, KZeroIsServedWithoutCreatingAPrimitive) {
  // oneDNN 2.6 divides by zero (SIGFPE) creating a matmul with K = 0.
  ProblemSpec s = spec(Op::addmm, DType::bf16, 3, 4, 0);
  s.beta = 2;
  s.activation = Activation::silu;
  Problem p = make_problem(s);
  auto choices = choices_for(p);
  ASSERT_EQ(choices.size(), 1u);
  EXPECT_TRUE(contains(choices[0].description, "K=0")) << choices[0].description;
  EXPECT_TRUE(builds_runs_and_verifies(*make_onednn_backend(), p, choices[0], kCtx));
}

TEST(OneDnnBackend, RunSetsTheOpenMpThreadCountWhileEnumerateAndBuildRestoreIt) {
  Problem p = make_problem(spec(Op::mm, DType::f32, 64, 64, 64));
  auto backend = make_onednn_backend();
  for (int threads : {1, 2}) {
    omp_set_num_threads(7);
    const TuningContext ctx{SearchSpace::standard, threads};
    auto choices = backend->enumerate(p, ctx);
    ASSERT_TRUE(choices);
    auto kernel = backend->build(p, choices.value()[0], ctx);
    ASSERT_TRUE(kernel);
    EXPECT_EQ(omp_get_max_threads(), 7) << "enumerate/build must leave the caller's OpenMP setting alone";
    std::vector<float> a(64 * 64, 1), b(64 * 64, 1), c(64 * 64);
    ASSERT_TRUE(kernel.value()->run(GemmArgs{a.data(), b.data(), c.data()}, {}));
    EXPECT_EQ(omp_get_max_threads(), threads);
    EXPECT_EQ(c[0], 64.0f);
  }
}

TEST(OneDnnBackend, VersionNamesOneDnnReleaseAndIsa) {
  const std::string version = make_onednn_backend()->version();
  EXPECT_EQ(version.rfind("onednn-2.", 0), 0u) << version;
  EXPECT_TRUE(contains(version, "isa=avx")) << version;
}

TEST(OneDnnBackend, RejectsDimensionsThatCrashOneDnnInsteadOfCallingIt) {
  // oneDNN 2.6 raises SIGFPE creating a matmul with 2^40 rows.
  Problem p = make_problem(spec(Op::mm, DType::f32, std::int64_t{1} << 40, 8, 8));
  Rejection r = rejection_for(p);
  EXPECT_EQ(r.reason, Reason::unsupported_shape);
  EXPECT_TRUE(contains(r.message, "M=")) << r.message;
}

// A choice is a portable value: its name is all build() needs, even for a
// problem with a bias (whose form build() finds again).
TEST(OneDnnBackend, BuildsAChoiceFromItsNameAlone) {
  Problem p = make_problem(spec(Op::addmm, DType::f32, 8, 8, 8));
  EXPECT_TRUE(builds_runs_and_verifies(*make_onednn_backend(), p, Choice{"onednn_plain", ""}, kCtx));
}

TEST(OneDnnBackend, BuildRejectsANameItNeverMakes) {
  Problem p = make_problem(spec(Op::mm, DType::f32, 8, 8, 8));
  for (const char* name : {"onednn_bogus", "", "cpp_avx2_f32_mr6_nr16_kc256_t1x1"}) {
    auto kernel = make_onednn_backend()->build(p, Choice{name, ""}, kCtx);
    ASSERT_FALSE(kernel) << name;
    EXPECT_EQ(kernel.error().reason, Reason::internal_error) << name;
  }
}

TEST(OneDnnBackend, IsAvailableOnTheCpu) {
  auto backend = make_onednn_backend();
  EXPECT_EQ(backend->name(), "ONEDNN");
  EXPECT_EQ(backend->device_kind(), DeviceKind::cpu);
  EXPECT_TRUE(backend->availability().available) << backend->availability().why;
  EXPECT_TRUE(contains(backend->capabilities(), "int_mm"));
}

}  // namespace
}  // namespace gemmtune::backends
