// Every choice of the CPP backend against the exact reference: ops, dtypes,
// layouts, strides, odd sizes, empty and K = 0 problems, batches, epilogues.
// Each check builds the choice, runs it on fresh random inputs (int8 over its
// full range) and compares every output element, plus the untouched gaps of
// strided outputs.
#include <gtest/gtest.h>

#include <cstdio>

#include "testing/check_kernel.h"
#include "testing/problem_specs.h"

#include <array>
#include <tuple>

#include "cpp_test_support.h"

namespace gemmtune::cpp_test {
namespace {

using gemmtune::testing::spec;

using Shape = std::tuple<std::int64_t, std::int64_t, std::int64_t>;

// Odd sizes: 1, 3, 17, 63, 129, and sizes that are multiples of no tile.
const std::vector<Shape> kOddShapes = {{1, 1, 1}, {3, 17, 63}, {17, 3, 129}, {63, 129, 17}, {130, 47, 301}};

// Runs `make(shape, ta, tb)` over the odd shapes and all four layouts.
template <class Make>
void check_shapes_and_layouts(Make make, const TuningContext& ctx = context()) {
  for (const auto& shape : kOddShapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        SCOPED_TRACE(std::string("layout ") + (ta ? 't' : 'n') + (tb ? 't' : 'n'));
        EXPECT_TRUE(every_choice_matches(make(shape, ta, tb), ctx));
      }
}

Problem plain(Op op, DType dtype, const Shape& shape, bool ta, bool tb) {
  ProblemSpec s = spec(op, std::get<0>(shape), std::get<1>(shape), std::get<2>(shape), dtype);
  s.transpose_a = ta;
  s.transpose_b = tb;
  return problem_of(s);
}

TEST(CppCorrectness, F32MmEveryLayoutAndOddSizeMatchesReference) {
  check_shapes_and_layouts([](const Shape& s, bool ta, bool tb) { return plain(Op::mm, DType::f32, s, ta, tb); });
}

TEST(CppCorrectness, F32MmOnOneThreadMatchesReference) {
  check_shapes_and_layouts([](const Shape& s, bool ta, bool tb) { return plain(Op::mm, DType::f32, s, ta, tb); },
                           context(1));
}

TEST(CppCorrectness, Bf16MmWithBf16AndF32OutputMatchesReference) {
  check_shapes_and_layouts([](const Shape& s, bool ta, bool tb) { return plain(Op::mm, DType::bf16, s, ta, tb); });
  for (const auto& shape : kOddShapes) {
    ProblemSpec s = spec(Op::mm, std::get<0>(shape), std::get<1>(shape), std::get<2>(shape), DType::bf16);
    s.out_dtype = DType::f32;
    EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
  }
}

TEST(CppCorrectness, F16MmConvertedThroughF32MatchesReference) {
  check_shapes_and_layouts([](const Shape& s, bool ta, bool tb) { return plain(Op::mm, DType::f16, s, ta, tb); });
}

TEST(CppCorrectness, IntMmU8S8AndS8S8FullRangeMatchReferenceExactly) {
  for (DType a : {DType::u8, DType::i8}) {
    SCOPED_TRACE(std::string(to_string(a)));
    check_shapes_and_layouts([a](const Shape& s, bool ta, bool tb) { return plain(Op::int_mm, a, s, ta, tb); });
  }
}

TEST(CppCorrectness, IntMmWithReluMatchesReference) {
  ProblemSpec s = spec(Op::int_mm, 33, 65, 130, DType::i8);
  s.activation = Activation::relu;
  EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
}

TEST(CppCorrectness, MixedMmDequantizesWithPerColumnScale) {
  for (DType a : {DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(std::string(to_string(a)));
    check_shapes_and_layouts([a](const Shape& s, bool ta, bool tb) { return plain(Op::mixed_mm, a, s, ta, tb); });
  }
}

TEST(CppCorrectness, MixedMmWithPerTensorScaleBiasAndF32Output) {
  ProblemSpec s = spec(Op::mixed_mm, 37, 70, 99, DType::bf16);
  s.scale_b = ScaleKind::per_tensor;
  s.out_dtype = DType::f32;
  s.bias = BiasKind::row;
  s.alpha = 0.5;
  EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
}

TEST(CppCorrectness, AddmmEveryEpilogueMatchesReference) {
  for (DType dtype : {DType::f32, DType::bf16}) {
    for (BiasKind bias : {BiasKind::row, BiasKind::full}) {
      for (Activation act : {Activation::none, Activation::relu, Activation::gelu, Activation::silu}) {
        SCOPED_TRACE(std::string(to_string(dtype)) + " bias=" + std::string(to_string(bias)) +
                     " act=" + std::string(to_string(act)));
        ProblemSpec s = spec(Op::addmm, 45, 67, 77, dtype);
        s.bias = bias;
        s.activation = act;
        s.alpha = 1.5;
        s.beta = -0.75;
        EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
      }
    }
  }
}

TEST(CppCorrectness, AddmmWithF32BiasOnBf16OutputMatchesReference) {
  ProblemSpec s = spec(Op::addmm, 20, 33, 40, DType::bf16);
  s.bias = BiasKind::full;
  s.bias_dtype = DType::f32;
  s.activation = Activation::gelu;
  EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
}

TEST(CppCorrectness, ActivationsOnLargeMagnitudesStayAccurate) {
  // Pre-activation values of tens: gelu's tail and silu's exp range.
  ProblemSpec s = spec(Op::addmm, 16, 40, 2000);
  s.alpha = 8.0;
  for (Activation act : {Activation::gelu, Activation::silu}) {
    s.activation = act;
    EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
  }
}

TEST(CppCorrectness, BatchedWithBroadcastBMatchesReference) {
  for (DType dtype : {DType::f32, DType::bf16}) {
    ProblemSpec s = spec(Op::bmm, 19, 35, 41, dtype);
    s.batch = 3;
    s.broadcast_b = true;
    EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
    s.op = Op::baddbmm;
    s.bias = BiasKind::full;
    s.activation = Activation::silu;
    s.broadcast_b = false;
    s.transpose_a = true;
    EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
  }
}

TEST(CppCorrectness, ManySmallBatchesSplitAcrossThreadsMatchReference) {
  ProblemSpec s = spec(Op::bmm, 8, 8, 8);
  s.batch = 7;
  EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
}

TEST(CppCorrectness, GeneralStridesAndStridedOutputMatchReferenceAndLeaveGapsUntouched) {
  for (DType dtype : {DType::f32, DType::bf16, DType::f16}) {
    for (bool general : {false, true}) {
      SCOPED_TRACE(std::string(to_string(dtype)) + (general ? " general strides" : " padded"));
      ProblemSpec s = spec(Op::baddbmm, 21, 37, 45, dtype);
      s.batch = 2;
      s.bias = BiasKind::full;
      s.activation = Activation::relu;
      EXPECT_TRUE(every_choice_matches(with_padded_strides(problem_of(s), general), context()));
    }
  }
  for (DType a : {DType::u8, DType::i8}) {
    ProblemSpec s = spec(Op::int_mm, 21, 37, 45, a);
    EXPECT_TRUE(every_choice_matches(with_padded_strides(problem_of(s), true), context()));
  }
  ProblemSpec mixed = spec(Op::mixed_mm, 21, 37, 45, DType::bf16);
  EXPECT_TRUE(every_choice_matches(with_padded_strides(problem_of(mixed), true), context()));
}

TEST(CppCorrectness, ColumnMajorOutputMatchesReference) {
  Problem p = problem_of(spec(Op::mm, 33, 29, 50));
  p.c = MatrixDesc::col_major(DType::f32, 33, 29);
  validate(p);
  EXPECT_TRUE(every_choice_matches(p, context()));
}

TEST(CppCorrectness, KZeroGivesActivatedBetaBias) {
  for (DType dtype : {DType::f32, DType::bf16, DType::u8}) {
    ProblemSpec s = spec(dtype == DType::u8 ? Op::int_mm : Op::addmm, 5, 18, 0, dtype);
    if (dtype != DType::u8) {
      s.beta = 2.0;
      s.activation = Activation::gelu;
    }
    EXPECT_TRUE(every_choice_matches(problem_of(s), context()));
  }
  EXPECT_TRUE(every_choice_matches(problem_of(spec(Op::mm, 7, 9, 0)), context()));
}

TEST(CppCorrectness, EmptyOutputsRunWithoutTouchingAnything) {
  for (auto [m, n] : std::vector<std::pair<int, int>>{{0, 5}, {5, 0}, {0, 0}}) {
    Problem p = problem_of(spec(Op::mm, m, n, 8));
    auto choices = backend().enumerate(p, context());
    ASSERT_TRUE(choices.ok());
    ASSERT_FALSE(choices.value().empty());
    for (const Choice& c : choices.value()) {
      auto kernel = backend().build(p, c, context());
      ASSERT_TRUE(kernel.ok()) << kernel.error().to_string();
      // Null pointers are valid for empty operands: nothing may be read or written.
      EXPECT_TRUE(kernel.value()->run(GemmArgs{}, RunContext{}).ok());
    }
  }
}

TEST(CppCorrectness, LongKSplitIntoSeveralBlocksAccumulatesCorrectly) {
  // Choices with KC far below K, for f32 (partial sums in the output) and
  // bf16/int8 outputs (partial sums in the workspace).
  struct Case {
    Op op;
    DType dtype;
    std::string name;
  };
  const std::vector<Case> cases = {
      {Op::mm, DType::f32, "cpp_avx512_f32_mr14_nr32_kc64_mc28_nc64_t2x1"},
      {Op::mm, DType::f32, "cpp_avx512_f32_mr6_nr64_kc48_mc12_nc128_t1x2"},
      {Op::addmm, DType::bf16, "cpp_avx512_bf16_mr8_nr48_kc66_mc16_nc96_t2x1"},
      {Op::int_mm, DType::i8, "cpp_avx512_s8s8_mr12_nr32_kc72_mc24_nc64_t1x2"},
      {Op::int_mm, DType::u8, "cpp_avx512_u8s8_mr4_nr64_kc100_mc8_nc64_t1x1"},
      {Op::mm, DType::f32, "cpp_avx2_f32_mr6_nr16_kc40_mc12_nc32_t2x1"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    if (c.name.find("avx512") != std::string::npos && !cpu_has_avx512()) {
      std::printf("[ skipped  ] %s: this CPU lacks AVX-512\n", c.name.c_str());
      continue;
    }
    ProblemSpec s = spec(c.op, 61, 150, 333, c.dtype);
    if (c.op == Op::addmm) s.activation = Activation::gelu;
    EXPECT_TRUE(matches_reference(problem_of(s), choice_named(c.name), context()));
    s.transpose_a = s.transpose_b = true;
    EXPECT_TRUE(matches_reference(problem_of(s), choice_named(c.name), context()));
  }
}

TEST(CppCorrectness, DirectPathWithShortKBlocksAccumulatesInOutputOrWorkspace) {
  // Row-major f32 output keeps partial sums in place; a column-major output
  // (and a fused epilogue) needs the workspace. Single and several row tiles.
  for (const char* name : {"cpp_avx512_f32_direct_mr8_nr48_kc16_t1x2", "cpp_avx512_f32_direct_mr4_nr64_kc7_t1x1",
                           "cpp_avx2_f32_direct_mr6_nr16_kc33_t2x1"}) {
    SCOPED_TRACE(name);
    if (std::string(name).find("avx512") != std::string::npos && !cpu_has_avx512()) {
      std::printf("[ skipped  ] %s: this CPU lacks AVX-512\n", name);
      continue;
    }
    for (std::int64_t m : {3, 8, 21}) {
      ProblemSpec s = spec(Op::addmm, m, 100, 200);
      s.activation = Activation::silu;
      Problem p = problem_of(s);
      EXPECT_TRUE(matches_reference(p, choice_named(name), context()));
      p.c = MatrixDesc::col_major(DType::f32, p.m, p.n);
      validate(p);
      EXPECT_TRUE(matches_reference(p, choice_named(name), context()));
      EXPECT_TRUE(matches_reference(problem_of(spec(Op::mm, m, 100, 200)), choice_named(name), context()));
    }
  }
}

TEST(CppCorrectness, BuiltKernelStaysCorrectWhenInputsChangeBetweenRuns) {
  // Nothing input-dependent may be cached at build: run one kernel on two
  // different sets of inputs (and the first again).
  for (DType dtype : {DType::f32, DType::bf16, DType::i8}) {
    ProblemSpec s = spec(dtype == DType::i8 ? Op::int_mm : Op::addmm, 40, 70, 300, dtype);
    Problem p = problem_of(s);
    auto choices = backend().enumerate(p, context());
    ASSERT_TRUE(choices.ok());
    for (const Choice& c : choices.value()) {
      auto kernel = backend().build(p, c, context());
      ASSERT_TRUE(kernel.ok());
      for (std::uint64_t seed : {11u, 12u, 11u})
        EXPECT_TRUE(testing::kernel_matches_reference(p, *kernel.value(), seed)) << c.name << " seed " << seed;
    }
  }
}

TEST(CppCorrectness, SkinnyAndTinyProblemsOfferDirectChoicesThatMatchReference) {
  for (const Shape& shape : std::vector<Shape>{{1, 1030, 1100}, {16, 1024, 1024}, {7, 64, 64}, {64, 64, 64}, {2, 3, 5}}) {
    ProblemSpec s = spec(Op::addmm, std::get<0>(shape), std::get<1>(shape), std::get<2>(shape));
    s.activation = Activation::gelu;
    Problem p = problem_of(s);
    auto choices = backend().enumerate(p, context());
    ASSERT_TRUE(choices.ok());
    bool has_direct = false;
    for (const auto& c : choices.value()) has_direct |= c.name.find("_direct_") != std::string::npos;
    EXPECT_TRUE(has_direct) << describe(p);
    EXPECT_TRUE(every_choice_matches(p, context()));
  }
}

TEST(CppCorrectness, OneTileOfOutputWithLongKStillGetsChoices) {
  // Enough work for two threads, but a single tile of output: no split keeps
  // both busy, so every grid falls back to one thread.
  for (const Shape& shape : std::vector<Shape>{{1, 16, 100000}, {3, 5, 200000}}) {
    for (SearchSpace space : {SearchSpace::standard, SearchSpace::exhaustive}) {
      Problem p = problem_of(spec(Op::mm, std::get<0>(shape), std::get<1>(shape), std::get<2>(shape)));
      EXPECT_TRUE(every_choice_matches(p, context(2, space), space == SearchSpace::exhaustive ? 11 : 1));
    }
  }
}

TEST(CppCorrectness, RandomProblemsMatchReference) {
  // A fixed-seed sweep over ops, dtypes, shapes, layouts, strides, batches
  // and epilogues together, to catch combinations the targeted tests miss.
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&](std::uint64_t n) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<std::int64_t>(state % n);
  };
  const Op ops[] = {Op::mm, Op::addmm, Op::bmm, Op::baddbmm, Op::int_mm, Op::mixed_mm};
  for (int trial = 0; trial < 60; ++trial) {
    ProblemSpec s;
    s.op = ops[next(6)];
    s.m = 1 + next(40);
    s.n = 1 + next(70);
    s.k = next(5) == 0 ? 0 : 1 + next(300);
    s.batch = is_batched(s.op) ? 1 + next(3) : 1;
    s.broadcast_b = is_batched(s.op) && next(2) == 0;
    s.transpose_a = next(2) == 0;
    s.transpose_b = next(2) == 0;
    switch (s.op) {
      case Op::int_mm: s.dtype = next(2) ? DType::u8 : DType::i8; break;
      case Op::mixed_mm: s.dtype = std::array{DType::f32, DType::bf16, DType::f16}[next(3)]; break;
      default: s.dtype = std::array{DType::f32, DType::bf16, DType::f16}[next(3)]; break;
    }
    if (s.op != Op::int_mm) {
      s.alpha = next(2) ? 1.0 : 0.5 + next(4);
      s.activation = std::array{Activation::none, Activation::relu, Activation::gelu, Activation::silu}[next(4)];
      if (s.op == Op::addmm || s.op == Op::baddbmm || (s.op == Op::mixed_mm && next(2))) {
        s.bias = next(2) ? BiasKind::row : BiasKind::full;
        s.beta = next(2) ? 1.0 : -2.0;
      }
      if ((s.dtype == DType::bf16 || s.dtype == DType::f16) && next(2)) s.out_dtype = DType::f32;
    } else if (next(2)) {
      s.activation = Activation::relu;
    }
    Problem p = problem_of(s);
    if (next(3) == 0) p = with_padded_strides(p, next(2) == 0);
    SCOPED_TRACE("trial " + std::to_string(trial) + ": " + describe(p));
    EXPECT_TRUE(every_choice_matches(p, context(1 + static_cast<int>(next(2)))));
  }
}

TEST(CppCorrectness, ExhaustiveSampleMatchesReference) {
  ProblemSpec s = spec(Op::addmm, 50, 70, 90);
  s.activation = Activation::silu;
  EXPECT_TRUE(every_choice_matches(problem_of(s), context(2, SearchSpace::exhaustive), 7));
  ProblemSpec b = spec(Op::mm, 33, 40, 130, DType::bf16);
  EXPECT_TRUE(every_choice_matches(problem_of(b), context(2, SearchSpace::exhaustive), 5));
}

}  // namespace
}  // namespace gemmtune::cpp_test
