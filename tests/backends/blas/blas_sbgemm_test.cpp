// The bf16 path of BLAS, on a machine whose OpenBLAS lacks cblas_sbgemm:
// this executable exports its own cblas_sbgemm (a plain, exact loop with
// CBLAS semantics), which the backend finds through dlsym exactly as it
// would find OpenBLAS's. What is tested is the backend's side: operand
// orders and transposes, the f32 workspace and bf16 conversion, bias and
// activation passes, batch loops.
#include <cblas.h>
#include <gtest/gtest.h>

#include "backends/blas/blas_backend.h"
#include "conformance/check_choice.h"
#include "util/numeric.h"

namespace {
int g_sbgemm_calls = 0;
}

// Same prototype as cblas.h declares (and OpenBLAS >= 0.3.10 exports).
extern "C" void cblas_sbgemm(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_a,
                             OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_b, OPENBLAS_CONST blasint m,
                             OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k, OPENBLAS_CONST float alpha,
                             OPENBLAS_CONST bfloat16* a, OPENBLAS_CONST blasint lda, OPENBLAS_CONST bfloat16* b,
                             OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float* c,
                             OPENBLAS_CONST blasint ldc) {
  ++g_sbgemm_calls;
  using gemmtune::numeric::bf16_to_float;
  // Element (i, j) of a matrix stored in `order` with leading dimension ld.
  auto at = [&](std::int64_t i, std::int64_t j, std::int64_t ld) {
    return order == CblasRowMajor ? i * ld + j : i + j * ld;
  };
  for (blasint i = 0; i < m; ++i)
    for (blasint j = 0; j < n; ++j) {
      double sum = 0;
      for (blasint kk = 0; kk < k; ++kk) {
        const float x = bf16_to_float(a[trans_a == CblasNoTrans ? at(i, kk, lda) : at(kk, i, lda)]);
        const float y = bf16_to_float(b[trans_b == CblasNoTrans ? at(kk, j, ldb) : at(j, kk, ldb)]);
        sum += static_cast<double>(x) * y;
      }
      float& out = c[at(i, j, ldc)];
      out = static_cast<float>(alpha * sum + (beta == 0.0f ? 0.0 : static_cast<double>(beta) * out));
    }
}

namespace gemmtune::backends {
namespace {

using conformance::builds_runs_and_verifies;

const TuningContext kCtx{SearchSpace::standard, 1};

ProblemSpec bf16_spec(Op op, std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb) {
  ProblemSpec s;
  s.op = op;
  s.dtype = DType::bf16;
  s.m = m;
  s.n = n;
  s.k = k;
  s.batch = is_batched(op) ? 3 : 1;
  s.transpose_a = ta;
  s.transpose_b = tb;
  return s;
}

void expect_served_and_correct(const Problem& p) {
  SCOPED_TRACE(describe(p));
  auto backend = make_blas_backend();
  auto choices = backend->enumerate(p, kCtx);
  ASSERT_TRUE(choices) << choices.error().to_string();
  ASSERT_EQ(choices.value().size(), 1u);
  EXPECT_EQ(choices.value()[0].name, "blas_sbgemm");
  const int calls_before = g_sbgemm_calls;
  EXPECT_TRUE(builds_runs_and_verifies(*backend, p, choices.value()[0], kCtx));
  EXPECT_GT(g_sbgemm_calls, calls_before) << "cblas_sbgemm was not called";
}

TEST(BlasSbgemm, FindsAnExportedCblasSbgemmAtRunTime) {
  EXPECT_TRUE(blas::has_sbgemm());
  EXPECT_NE(make_blas_backend()->version().find("sbgemm=yes"), std::string::npos);
}

TEST(BlasSbgemm, ServesBf16WithBf16OutputThroughAnF32Workspace) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Problem p = make_problem(bf16_spec(Op::mm, 17, 9, 13, ta, tb));
      auto choices = make_blas_backend()->enumerate(p, kCtx);
      ASSERT_TRUE(choices);
      EXPECT_NE(choices.value()[0].description.find("f32 workspace"), std::string::npos);
      expect_served_and_correct(p);
    }
}

TEST(BlasSbgemm, ServesBf16WithF32OutputDirectlyInEitherOrder) {
  ProblemSpec s = bf16_spec(Op::addmm, 17, 9, 13, true, false);
  s.out_dtype = DType::f32;
  s.alpha = 0.5;
  s.beta = 2;
  s.activation = Activation::gelu;
  Problem p = make_problem(s);
  expect_served_and_correct(p);
  p.c = MatrixDesc::col_major(DType::f32, 17, 9);
  expect_served_and_correct(p);
}

TEST(BlasSbgemm, Bf16OutputMayHaveAnyStridesBecauseItIsWrittenByTheConversionPass) {
  ProblemSpec s = bf16_spec(Op::baddbmm, 7, 5, 11, false, true);
  s.bias = BiasKind::full;
  s.bias_dtype = DType::f32;
  s.activation = Activation::silu;
  s.broadcast_b = true;
  Problem p = make_problem(s);
  p.c.col_stride = 2;
  p.c.row_stride = 11;
  p.c.batch_stride = 80;
  ASSERT_NO_THROW(validate(p));
  expect_served_and_correct(p);
}

TEST(BlasSbgemm, ConversionPassSplitAcrossThreadsStaysCorrect) {
  ProblemSpec s = bf16_spec(Op::addmm, 130, 260, 5, true, true);
  s.activation = Activation::relu;
  Problem p = make_problem(s);
  const TuningContext two{SearchSpace::standard, 2};
  auto choices = make_blas_backend()->enumerate(p, two);
  ASSERT_TRUE(choices);
  EXPECT_TRUE(builds_runs_and_verifies(*make_blas_backend(), p, choices.value()[0], two));
}

TEST(BlasSbgemm, KZeroAndEmptyOutputsNeverCallTheLibrary) {
  const int calls_before = g_sbgemm_calls;
  for (auto [m, n, k] : {std::tuple{4, 5, 0}, std::tuple{0, 5, 3}}) {
    ProblemSpec s = bf16_spec(Op::addmm, m, n, k, false, false);
    Problem p = make_problem(s);
    auto choices = make_blas_backend()->enumerate(p, kCtx);
    ASSERT_TRUE(choices);
    EXPECT_TRUE(builds_runs_and_verifies(*make_blas_backend(), p, choices.value()[0], kCtx));
  }
  EXPECT_EQ(g_sbgemm_calls, calls_before);
}

}  // namespace
}  // namespace gemmtune::backends
