// The dot-product path (B with K-contiguous columns, the nt layout of
// torch.nn.Linear): every dot tile against the exact reference on odd sizes
// (M 1..16, N and K odd, K below one vector, K not a multiple of 16 or 32),
// every epilogue, f32/f16/bf16 inputs and outputs, int8 weights, batches,
// strided operands and outputs, K split into blocks; and where it is offered
// or rejected.
#include <gtest/gtest.h>

#include "testing/problem_specs.h"

#include <string>
#include <vector>

#include "backends/cpp/tile_catalog.h"
#include "cpp_test_support.h"

namespace gemmtune::cpp_test {
namespace {

using backends::cpp::Arith;
using backends::cpp::dot_catalog;
using backends::cpp::DotKernel;

ProblemSpec nt(Op op, std::int64_t m, std::int64_t n, std::int64_t k, DType dtype = DType::f32) {
  return testing::spec(op, m, n, k, dtype, "nt");
}

std::string dot_name(const DotKernel& d, std::int64_t kc, int tn = 1) {
  return "cpp_avx512_" + std::string(backends::cpp::to_string(d.arith)) + "_dot_mr" + std::to_string(d.mr) + "_nr" +
         std::to_string(d.nr) + "_kc" + std::to_string(kc) + "_t1x" + std::to_string(tn);
}

std::vector<const DotKernel*> dots(Arith arith) { return backends::cpp::dots_of(backends::cpp::Isa::avx512, arith); }

bool has_dot_choice(const Problem& p) {
  auto choices = backend().enumerate(p, context());
  if (!choices) return false;
  for (const auto& c : choices.value())
    if (c.name.find("_dot_") != std::string::npos) return true;
  return false;
}

class CppDot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cpu_has_avx512()) GTEST_SKIP() << "dot tiles are AVX-512 only";
  }
};

TEST_F(CppDot, SkinnyNtProblemsOfferTheDotPathAndRowMajorBDoesNot) {
  for (DType dtype : {DType::f32, DType::f16, DType::bf16}) {
    SCOPED_TRACE(std::string(to_string(dtype)));
    EXPECT_TRUE(has_dot_choice(problem_of(nt(Op::mm, 16, 4096, 4096, dtype))));
    EXPECT_TRUE(has_dot_choice(problem_of(nt(Op::mm, 1, 4096, 1024, dtype))));
    EXPECT_TRUE(has_dot_choice(problem_of(nt(Op::mixed_mm, 8, 1024, 1024, dtype))));
    ProblemSpec nn = nt(Op::mm, 16, 4096, 4096, dtype);
    nn.transpose_b = false;  // B rows contiguous: the dot path cannot read it
    EXPECT_FALSE(has_dot_choice(problem_of(nn)));
    ProblemSpec tt = nt(Op::mm, 16, 4096, 4096, dtype);
    tt.transpose_a = true;  // A not K-contiguous
    EXPECT_FALSE(has_dot_choice(problem_of(tt)));
  }
  EXPECT_FALSE(has_dot_choice(problem_of(nt(Op::int_mm, 8, 1024, 1024, DType::u8))));
}

TEST_F(CppDot, EveryTileMatchesReferenceOnOddSizesAndShortK) {
  // M 1..16 (every row count of every tile), N below, at and past one strip,
  // K below one vector, at, between and past multiples of 16 and 32.
  for (Arith arith : {Arith::f32, Arith::bf16}) {
    const DType dtype = arith == Arith::f32 ? DType::f32 : DType::bf16;
    for (const DotKernel* d : dots(arith)) {
      for (std::int64_t m = 1; m <= 16; ++m)
        for (std::int64_t n : {1, 5, 17, 33})
          for (std::int64_t k : {1, 7, 16, 17, 33, 100}) {
            const Problem p = problem_of(nt(Op::mm, m, n, k, dtype));
            const std::string name = dot_name(*d, k, n >= 2 ? 2 : 1);
            ASSERT_TRUE(matches_reference(p, choice_named(name), context())) << name << " " << describe(p);
          }
    }
  }
}

TEST_F(CppDot, F16InputsAndEveryOutputDtypeMatchReference) {
  for (const DotKernel* d : dots(Arith::f32)) {
    for (DType out : {DType::f16, DType::f32}) {
      ProblemSpec s = nt(Op::mm, 5, 37, 45, DType::f16);
      s.out_dtype = out;
      EXPECT_TRUE(matches_reference(problem_of(s), choice_named(dot_name(*d, 45, 2)), context()));
    }
  }
  for (const DotKernel* d : dots(Arith::bf16)) {
    ProblemSpec s = nt(Op::mm, 6, 37, 77, DType::bf16);
    s.out_dtype = DType::f32;
    EXPECT_TRUE(matches_reference(problem_of(s), choice_named(dot_name(*d, 77, 2)), context()));
  }
}

TEST_F(CppDot, EveryEpilogueMatchesReference) {
  for (DType dtype : {DType::f32, DType::bf16, DType::f16}) {
    const Arith arith = dtype == DType::bf16 ? Arith::bf16 : Arith::f32;
    for (BiasKind bias : {BiasKind::row, BiasKind::full}) {
      for (Activation act : {Activation::none, Activation::relu, Activation::gelu, Activation::silu}) {
        SCOPED_TRACE(std::string(to_string(dtype)) + " bias=" + std::string(to_string(bias)) +
                     " act=" + std::string(to_string(act)));
        ProblemSpec s = nt(Op::addmm, 11, 53, 71, dtype);
        s.bias = bias;
        s.activation = act;
        s.alpha = 1.5;
        s.beta = -0.75;
        const Problem p = problem_of(s);
        for (const DotKernel* d : dots(arith))
          EXPECT_TRUE(matches_reference(p, choice_named(dot_name(*d, 71, 2)), context()));
        EXPECT_TRUE(has_dot_choice(p));
        EXPECT_TRUE(every_choice_matches(p, context()));
      }
    }
  }
}

TEST_F(CppDot, KSplitIntoBlocksAccumulatesInOutputOrWorkspace) {
  // f32 row-major output keeps partial sums in place; bf16 and column-major
  // outputs (and a fused epilogue) use the workspace.
  for (DType dtype : {DType::f32, DType::bf16}) {
    const Arith arith = dtype == DType::bf16 ? Arith::bf16 : Arith::f32;
    for (const DotKernel* d : dots(arith)) {
      for (std::int64_t m : {1, 3, 9, 16}) {
        for (std::int64_t kc : {7, 32, 100}) {
          ProblemSpec s = nt(Op::addmm, m, 45, 301, dtype);
          s.activation = Activation::silu;
          Problem p = problem_of(s);
          const Choice c = choice_named(dot_name(*d, kc, 2));
          EXPECT_TRUE(matches_reference(p, c, context())) << c.name;
          p.c = MatrixDesc::col_major(p.c.dtype, p.m, p.n);
          validate(p);
          EXPECT_TRUE(matches_reference(p, c, context())) << c.name << " column-major C";
          EXPECT_TRUE(matches_reference(problem_of(nt(Op::mm, m, 45, 301, dtype)), c, context())) << c.name;
        }
      }
    }
  }
}

TEST_F(CppDot, BatchesBroadcastBAndPaddedStridesMatchReference) {
  for (DType dtype : {DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(std::string(to_string(dtype)));
    ProblemSpec s = nt(Op::bmm, 7, 35, 41, dtype);
    s.batch = 3;
    s.broadcast_b = true;
    Problem p = problem_of(s);
    EXPECT_TRUE(has_dot_choice(p));
    EXPECT_TRUE(every_choice_matches(p, context()));
    EXPECT_TRUE(every_choice_matches(p, context(1)));
    s.op = Op::baddbmm;
    s.bias = BiasKind::full;
    s.activation = Activation::gelu;
    s.broadcast_b = false;
    p = with_padded_strides(problem_of(s), /*general=*/false);  // padded leading dimensions keep K contiguous
    EXPECT_TRUE(has_dot_choice(p));
    EXPECT_TRUE(every_choice_matches(p, context()));
    // Strided output only (A and B dense).
    Problem strided = problem_of(s);
    strided.c.row_stride = 2 * strided.n + 3;
    strided.c.col_stride = 2;
    strided.c.batch_stride = strided.c.row_stride * strided.m + 5;
    validate(strided);
    EXPECT_TRUE(every_choice_matches(strided, context()));
  }
}

TEST_F(CppDot, MixedMmInt8WeightsWithColumnScalesMatchReference) {
  for (DType a : {DType::f32, DType::f16, DType::bf16}) {
    for (ScaleKind scale : {ScaleKind::per_channel, ScaleKind::per_tensor}) {
      SCOPED_TRACE(std::string(to_string(a)) + (scale == ScaleKind::per_channel ? " per channel" : " per tensor"));
      for (std::int64_t m : {1, 4, 13}) {
        ProblemSpec s = nt(Op::mixed_mm, m, 67, 99, a);
        s.scale_b = scale;
        s.bias = BiasKind::row;
        s.activation = Activation::silu;
        s.alpha = 0.5;
        const Problem p = problem_of(s);
        EXPECT_TRUE(has_dot_choice(p));
        EXPECT_TRUE(every_choice_matches(p, context()));
        for (const DotKernel* d : dots(a == DType::bf16 ? Arith::bf16 : Arith::f32))
          EXPECT_TRUE(matches_reference(p, choice_named(dot_name(*d, 40, 2)), context()));
      }
    }
  }
}

TEST_F(CppDot, LargeSkinnyProblemsMatchReference) {
  // The benchmark's shapes (with N and K off the vector width), one thread
  // and two.
  for (auto [m, n, k] : std::vector<std::tuple<int, int, int>>{{1, 4099, 1027}, {8, 1024, 1024}, {16, 1030, 2050}}) {
    for (DType dtype : {DType::f32, DType::bf16}) {
      ProblemSpec s = nt(Op::addmm, m, n, k, dtype);
      s.activation = Activation::gelu;
      const Problem p = problem_of(s);
      EXPECT_TRUE(every_choice_matches(p, context(2)));
      EXPECT_TRUE(every_choice_matches(p, context(1)));
    }
  }
}

TEST_F(CppDot, RejectsLayoutsAndDtypesItCannotRead) {
  const std::string f32_name = dot_name(*dots(Arith::f32).front(), 64, 1);
  ProblemSpec nn = nt(Op::mm, 4, 64, 64);
  nn.transpose_b = false;
  auto built = backend().build(problem_of(nn), choice_named(f32_name), context());
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().reason, Reason::unsupported_layout);

  Problem general = with_padded_strides(problem_of(nt(Op::mm, 4, 64, 64)), /*general=*/true);
  built = backend().build(general, choice_named(f32_name), context());
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().reason, Reason::unsupported_layout);
  EXPECT_FALSE(has_dot_choice(general));

  // The bf16 arithmetic does not read f32 operands.
  built = backend().build(problem_of(nt(Op::mm, 4, 64, 64)), choice_named(dot_name(*dots(Arith::bf16).front(), 64)),
                          context());
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().reason, Reason::unsupported_dtype);
}

TEST_F(CppDot, DotNamesRoundTrip) {
  for (const auto& d : dot_catalog()) {
    const std::string name = dot_name(d, 4096, 2);
    auto parsed = backends::cpp::parse_config_name(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(parsed->path, backends::cpp::Path::dot);
    EXPECT_EQ(backends::cpp::config_name(*parsed), name);
  }
  EXPECT_FALSE(backends::cpp::parse_config_name("cpp_avx512_f32_dot_mr4_nr4_kc64_mc8_nc64_t1x1").has_value());
}

}  // namespace
}  // namespace gemmtune::cpp_test
