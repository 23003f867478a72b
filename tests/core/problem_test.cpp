// Problem validation: every malformed problem is an InvalidProblemError that
// names the offending field; valid edge cases (M, N or K = 0) pass.
#include <gtest/gtest.h>

#include "testing/problem_specs.h"

#include <limits>

#include "gemmtune/errors.h"
#include "gemmtune/options.h"
#include "gemmtune/problem.h"

namespace gemmtune {
namespace {

using gemmtune::testing::spec;

std::string field_of(const Problem& p) {
  try {
    validate(p);
  } catch (const InvalidProblemError& e) {
    return e.field();
  }
  return "(valid)";
}

TEST(ProblemValidation, DenseProblemsOfEveryOpAreValid) {
  EXPECT_NO_THROW(validate(make_problem(spec(Op::mm, 3, 5, 7))));
  EXPECT_NO_THROW(validate(make_problem(spec(Op::addmm, 3, 5, 7, DType::bf16))));
  auto b = spec(Op::bmm, 3, 5, 7, DType::f64);
  b.batch = 4;
  EXPECT_NO_THROW(validate(make_problem(b)));
  EXPECT_NO_THROW(validate(make_problem(spec(Op::int_mm, 3, 5, 7, DType::i8))));
  EXPECT_NO_THROW(validate(make_problem(spec(Op::int_mm, 3, 5, 7, DType::u8))));
  EXPECT_NO_THROW(validate(make_problem(spec(Op::mixed_mm, 3, 5, 7, DType::bf16))));
  EXPECT_NO_THROW(validate(make_problem(spec(Op::scaled_mm, 16, 16, 32, DType::f8e4m3))));
}

TEST(ProblemValidation, ZeroSizesAreValid) {
  EXPECT_NO_THROW(validate(make_problem(spec(Op::mm, 0, 5, 7))));
  EXPECT_NO_THROW(validate(make_problem(spec(Op::mm, 3, 0, 7))));
  EXPECT_NO_THROW(validate(make_problem(spec(Op::addmm, 3, 5, 0))));
}

TEST(ProblemValidation, BatchedProblemWithKZeroIsValid) {
  auto s = spec(Op::baddbmm, 3, 5, 0);
  s.batch = 4;
  EXPECT_NO_THROW(validate(make_problem(s)));
}

TEST(ProblemValidation, NegativeSizeNamesTheDimension) {
  EXPECT_EQ(field_of(make_problem(spec(Op::mm, 3, 5, 7)) ), "(valid)");
  Problem p = make_problem(spec(Op::mm, 3, 5, 7));
  p.k = -1;
  EXPECT_EQ(field_of(p), "k");
  EXPECT_THROW(make_problem(spec(Op::mm, -2, 5, 7)), InvalidProblemError);
}

TEST(ProblemValidation, OverflowingSizesAreRejected) {
  const std::int64_t huge = std::int64_t{1} << 40;
  Problem p = make_problem(spec(Op::mm, 8, 8, 8));
  p.m = huge;
  p.n = huge;
  p.a.rows = huge;
  p.c.rows = huge;
  p.c.cols = huge;
  p.b.cols = huge;
  p.c.row_stride = huge;
  p.b.row_stride = huge;
  EXPECT_THROW(validate(p), InvalidProblemError);
}

TEST(ProblemValidation, OverlappingStridesNameTheStride) {
  Problem p = make_problem(spec(Op::mm, 4, 6, 5));
  p.a.row_stride = 3;  // rows of 5 elements, 3 apart: overlap
  EXPECT_EQ(field_of(p), "a.row_stride");
  p = make_problem(spec(Op::mm, 4, 6, 5));
  p.c.col_stride = 0;
  EXPECT_EQ(field_of(p), "c.col_stride");
}

TEST(ProblemValidation, NegativeStrideIsRejected) {
  Problem p = make_problem(spec(Op::mm, 4, 6, 5));
  p.b.col_stride = -1;
  EXPECT_EQ(field_of(p), "b.col_stride");
}

TEST(ProblemValidation, GeneralNonOverlappingStridesAreValid) {
  Problem p = make_problem(spec(Op::mm, 4, 6, 5));
  p.a.row_stride = 20;  // a column slice of a wider matrix, every other column
  p.a.col_stride = 2;
  EXPECT_NO_THROW(validate(p));
  p.c.row_stride = 9;  // padded output rows
  EXPECT_NO_THROW(validate(p));
}

TEST(ProblemValidation, OutputBatchBroadcastIsRejectedButInputBroadcastIsFine) {
  auto s = spec(Op::bmm, 4, 6, 5);
  s.batch = 3;
  s.broadcast_b = true;
  Problem p = make_problem(s);
  EXPECT_NO_THROW(validate(p));
  p.c.batch_stride = 0;
  EXPECT_EQ(field_of(p), "c.batch_stride");
}

TEST(ProblemValidation, DtypeCombinationsOpsDoNotDefineAreRejected) {
  Problem p = make_problem(spec(Op::mm, 4, 4, 4, DType::f32));
  p.b.dtype = DType::bf16;
  EXPECT_EQ(field_of(p), "b.dtype");
  EXPECT_EQ(field_of(make_problem(spec(Op::mm, 4, 4, 4, DType::i8))), "a.dtype");
  auto s = spec(Op::int_mm, 4, 4, 4, DType::i8);
  s.out_dtype = DType::f32;
  EXPECT_EQ(field_of(make_problem(s)), "c.dtype");
  s = spec(Op::scaled_mm, 4, 4, 4, DType::f8e5m2);
  EXPECT_EQ(field_of(make_problem(s)), "b.dtype");  // e5m2 x e5m2 is not defined
  s = spec(Op::mixed_mm, 4, 4, 4, DType::f64);
  EXPECT_EQ(field_of(make_problem(s)), "a.dtype");
}

TEST(ProblemValidation, BiasRulesFollowTheOp) {
  auto s = spec(Op::mm, 4, 4, 4);
  s.bias = BiasKind::row;
  EXPECT_EQ(field_of(make_problem(s)), "bias");
  s = spec(Op::addmm, 4, 4, 4);
  s.bias = BiasKind::none;
  EXPECT_EQ(field_of(make_problem(s)), "bias");
  s = spec(Op::addmm, 4, 4, 4, DType::bf16);
  s.bias_dtype = DType::f16;
  EXPECT_EQ(field_of(make_problem(s)), "bias_desc.dtype");
}

TEST(ProblemValidation, IntMmRejectsNonIntegerEpilogues) {
  auto s = spec(Op::int_mm, 4, 4, 4, DType::i8);
  s.activation = Activation::gelu;
  EXPECT_EQ(field_of(make_problem(s)), "activation");
  s.activation = Activation::relu;
  EXPECT_EQ(field_of(make_problem(s)), "(valid)");
  s.alpha = 2;
  EXPECT_EQ(field_of(make_problem(s)), "alpha");
}

TEST(ProblemValidation, NonBatchedOpsNeedBatchOne) {
  Problem p = make_problem(spec(Op::mm, 4, 4, 4));
  p.batch = 2;
  EXPECT_EQ(field_of(p), "batch");
}

TEST(ProblemValidation, AlignmentMustBeAPowerOfTwo) {
  auto s = spec(Op::mm, 4, 4, 4);
  s.alignment = 48;
  EXPECT_EQ(field_of(make_problem(s)), "alignment");
}

TEST(ProblemValidation, NonFiniteAlphaIsRejected) {
  auto s = spec(Op::mm, 4, 4, 4);
  s.alpha = std::numeric_limits<double>::infinity();
  EXPECT_EQ(field_of(make_problem(s)), "alpha");
}

TEST(ArgsValidation, NullAndMisalignedPointersNameTheOperand) {
  Problem p = make_problem(spec(Op::mm, 2, 2, 2));
  alignas(64) float a[4], b[4], c[4];
  GemmArgs args{a, b, c};
  EXPECT_NO_THROW(validate_args(p, args));
  args.b = nullptr;
  try {
    validate_args(p, args);
    FAIL() << "null B accepted";
  } catch (const InvalidProblemError& e) {
    EXPECT_EQ(e.field(), "b.data");
  }
  args.b = reinterpret_cast<const char*>(b) + 4;  // 4-byte aligned only
  try {
    validate_args(p, args);
    FAIL() << "misaligned B accepted";
  } catch (const InvalidProblemError& e) {
    EXPECT_EQ(e.field(), "b.data");
  }
}

TEST(ArgsValidation, OutputOverlappingAnInputIsRejected) {
  Problem p = make_problem(spec(Op::mm, 2, 2, 2));
  alignas(64) float buffer[32];
  GemmArgs args{buffer, buffer + 16, buffer + 2};  // C starts inside A
  p.alignment = 4;
  try {
    validate_args(p, args);
    FAIL() << "overlap accepted";
  } catch (const InvalidProblemError& e) {
    EXPECT_EQ(e.field(), "c.data");
    EXPECT_NE(std::string(e.what()).find("overlaps A"), std::string::npos) << e.what();
  }
}

TEST(ArgsValidation, EmptyOutputNeedsNoPointers) {
  Problem p = make_problem(spec(Op::mm, 0, 2, 2));
  EXPECT_NO_THROW(validate_args(p, GemmArgs{}));
}

TEST(Describe, NamesOpDtypeShapeLayoutAndEpilogue) {
  auto s = spec(Op::addmm, 128, 4096, 768, DType::bf16);
  s.transpose_b = true;
  s.activation = Activation::gelu;
  EXPECT_EQ(describe(make_problem(s)), "addmm bf16 128x4096x768 nt bias=row act=gelu");
}

TEST(Names, ParseIsCaseInsensitiveAndRoundTrips) {
  EXPECT_EQ(parse_dtype("BF16"), DType::bf16);
  EXPECT_EQ(parse_dtype("float8_e4m3fn"), DType::f8e4m3);
  EXPECT_EQ(parse_op("Int_MM"), Op::int_mm);
  EXPECT_EQ(parse_search_space("default"), SearchSpace::standard);
  EXPECT_EQ(parse_device("cuda:1")->index, 1);
  EXPECT_FALSE(parse_device("cuda:x").has_value());
  EXPECT_FALSE(parse_dtype("f12").has_value());
  EXPECT_EQ(parse_verify_mode("Sampled"), VerifyMode::sampled);
  EXPECT_EQ(parse_verify_mode("auto"), VerifyMode::automatic);
  EXPECT_FALSE(parse_verify_mode("sometimes").has_value());
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i8, DType::u8, DType::i32, DType::f8e4m3,
                  DType::f8e5m2})
    EXPECT_EQ(parse_dtype(to_string(t)), t);
}

TEST(Names, GeluTanhIsItsOwnActivationSpelledWithUnderscoreOrHyphen) {
  EXPECT_EQ(parse_activation("gelu_tanh"), Activation::gelu_tanh);
  EXPECT_EQ(parse_activation("GELU-TANH"), Activation::gelu_tanh);
  EXPECT_EQ(to_string(Activation::gelu_tanh), "gelu_tanh");
  EXPECT_EQ(parse_activation("gelu"), Activation::gelu);  // the exact erf form stays plain gelu
  EXPECT_FALSE(parse_activation("tanh").has_value());
  for (Activation a : {Activation::none, Activation::relu, Activation::gelu, Activation::silu, Activation::gelu_tanh})
    EXPECT_EQ(parse_activation(to_string(a)), a);
  // Stored records and the C ABI keep the values they always had.
  EXPECT_EQ(static_cast<int>(Activation::silu), 3);
  EXPECT_EQ(static_cast<int>(Activation::gelu_tanh), 4);
}

TEST(ProblemValidation, IntMmRefusesGeluTanh) {
  auto s = spec(Op::int_mm, 4, 4, 4, DType::i8);
  s.activation = Activation::gelu_tanh;
  EXPECT_EQ(field_of(make_problem(s)), "activation");
}

}  // namespace
}  // namespace gemmtune
