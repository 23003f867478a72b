// The oracle is checked against arithmetic done by hand, so the conformance
// suite does not trust it blindly: tiny products, the epilogue order,
// strides, broadcast batches, int32 wrap-around, and the rounding of
// bf16/f16/fp8 values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "backends/reference/reference_math.h"
#include "util/numeric.h"

namespace gemmtune {
namespace {

using numeric::bf16_to_float;
using numeric::float_to_bf16;

Problem dense(Op op, DType a, DType b, DType c, std::int64_t m, std::int64_t n, std::int64_t k) {
  Problem p;
  p.op = op;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = MatrixDesc::row_major(a, m, k);
  p.b = MatrixDesc::row_major(b, k, n);
  p.c = MatrixDesc::row_major(c, m, n);
  return p;
}

TEST(ReferenceOracle, TwoByTwoProductWorkedByHand) {
  // [1 2; 3 4] . [5 6; 7 8] = [19 22; 43 50]
  Problem p = dense(Op::mm, DType::f32, DType::f32, DType::f32, 2, 2, 2);
  ASSERT_NO_THROW(validate(p));
  std::vector<float> a{1, 2, 3, 4}, b{5, 6, 7, 8}, c(4, NAN);
  reference::compute(p, GemmArgs{a.data(), b.data(), c.data()}, 1);
  EXPECT_EQ(c, (std::vector<float>{19, 22, 43, 50}));
}

TEST(ReferenceOracle, ColumnMajorOperandsReadTransposedStorage) {
  // Same product, A and B stored column-major: memory holds A^T and B^T.
  Problem p = dense(Op::mm, DType::f32, DType::f32, DType::f32, 2, 2, 2);
  p.a = MatrixDesc::col_major(DType::f32, 2, 2);
  p.b = MatrixDesc::col_major(DType::f32, 2, 2);
  p.c = MatrixDesc::col_major(DType::f32, 2, 2);
  ASSERT_NO_THROW(validate(p));
  std::vector<float> a{1, 3, 2, 4}, b{5, 7, 6, 8}, c(4, NAN);
  reference::compute(p, GemmArgs{a.data(), b.data(), c.data()}, 1);
  EXPECT_EQ(c, (std::vector<float>{19, 43, 22, 50}));  // column-major C
}

TEST(ReferenceOracle, AddmmAppliesAlphaThenBetaBiasThenActivation) {
  // relu(2 * [19 22; 43 50] + 0.5 * [-80, 4]) = relu([-2 46; 46 102])
  Problem p = dense(Op::addmm, DType::f32, DType::f32, DType::f32, 2, 2, 2);
  p.bias = BiasKind::row;
  p.bias_desc = MatrixDesc::row_major(DType::f32, 1, 2);
  p.alpha = 2.0;
  p.beta = 0.5;
  p.activation = Activation::relu;
  ASSERT_NO_THROW(validate(p));
  std::vector<float> a{1, 2, 3, 4}, b{5, 6, 7, 8}, bias{-80, 4}, c(4, NAN);
  reference::compute(p, GemmArgs{a.data(), b.data(), c.data(), bias.data()}, 1);
  EXPECT_EQ(c, (std::vector<float>{0, 46, 46, 102}));
}

TEST(ReferenceOracle, KZeroGivesActivatedScaledBias) {
  Problem p = dense(Op::addmm, DType::f32, DType::f32, DType::f32, 2, 2, 0);
  p.bias = BiasKind::full;
  p.bias_desc = MatrixDesc::row_major(DType::f32, 2, 2);
  p.beta = -2.0;
  p.activation = Activation::relu;
  ASSERT_NO_THROW(validate(p));
  std::vector<float> bias{1, -1, 3, -0.5}, c(4, NAN);
  reference::compute(p, GemmArgs{nullptr, nullptr, c.data(), bias.data()}, 1);
  EXPECT_EQ(c, (std::vector<float>{0, 2, 0, 1}));
}

TEST(ReferenceOracle, BroadcastBatchReusesTheSameB) {
  // Batch 0: [1 2].[3;4] = 11; batch 1: [5 6].[3;4] = 39.
  Problem p = dense(Op::bmm, DType::f64, DType::f64, DType::f64, 1, 1, 2);
  p.batch = 2;
  p.a.batch_stride = 2;
  p.b.batch_stride = 0;
  p.c.batch_stride = 1;
  ASSERT_NO_THROW(validate(p));
  std::vector<double> a{1, 2, 5, 6}, b{3, 4}, c(2, NAN);
  reference::compute(p, GemmArgs{a.data(), b.data(), c.data()}, 1);
  EXPECT_EQ(c, (std::vector<double>{11, 39}));
}

TEST(ReferenceOracle, IntMmWrapsAroundLikeInt32) {
  // 255 * -128 = -32640 per product; 65794 of them sum to -2147516160,
  // which is below INT32_MIN and wraps to -2147516160 + 2^32 = 2147451136.
  const std::int64_t k = 65794;
  Problem p = dense(Op::int_mm, DType::u8, DType::i8, DType::i32, 1, 1, k);
  ASSERT_NO_THROW(validate(p));
  std::vector<std::uint8_t> a(k, 255);
  std::vector<std::int8_t> b(k, -128);
  std::int32_t c = 0;
  reference::compute(p, GemmArgs{a.data(), b.data(), &c}, 1);
  EXPECT_EQ(c, 2147451136);
  // relu sees the wrapped (positive) value, as an int32 kernel would.
  p.activation = Activation::relu;
  c = 0;
  reference::compute(p, GemmArgs{a.data(), b.data(), &c}, 1);
  EXPECT_EQ(c, 2147451136);
}

TEST(ReferenceOracle, IntMmSignedTimesSignedByHand) {
  // [-1 2 -3] . [4; -5; 6] = -4 - 10 - 18 = -32; relu -> 0.
  Problem p = dense(Op::int_mm, DType::i8, DType::i8, DType::i32, 1, 1, 3);
  std::vector<std::int8_t> a{-1, 2, -3}, b{4, -5, 6};
  std::int32_t c = 7;
  reference::compute(p, GemmArgs{a.data(), b.data(), &c}, 1);
  EXPECT_EQ(c, -32);
  p.activation = Activation::relu;
  reference::compute(p, GemmArgs{a.data(), b.data(), &c}, 1);
  EXPECT_EQ(c, 0);
}

TEST(ReferenceOracle, Bf16OutputRoundsToNearestEven) {
  // 1 + 2^-8 lies halfway between bf16 neighbours 1 and 1 + 2^-7: ties go
  // to the even mantissa, 1. 1 + 3*2^-9 is above halfway: 1 + 2^-7.
  Problem p = dense(Op::mm, DType::bf16, DType::bf16, DType::bf16, 1, 2, 3);
  ASSERT_NO_THROW(validate(p));
  const float one = 1.0f, tiny8 = std::ldexp(1.0f, -8), tiny9 = std::ldexp(1.0f, -9);
  std::vector<std::uint16_t> a{float_to_bf16(one), float_to_bf16(one), float_to_bf16(one)};
  // column 0: 1*1 + 1*2^-8 + 1*0 ; column 1: 1*1 + 1*2^-8 + 1*2^-9
  std::vector<std::uint16_t> b{float_to_bf16(one),   float_to_bf16(one),   float_to_bf16(tiny8),
                               float_to_bf16(tiny8), float_to_bf16(0.0f), float_to_bf16(tiny9)};
  std::vector<std::uint16_t> c(2, 0xffff);
  reference::compute(p, GemmArgs{a.data(), b.data(), c.data()}, 1);
  EXPECT_EQ(bf16_to_float(c[0]), 1.0f);
  EXPECT_EQ(bf16_to_float(c[1]), 1.0f + std::ldexp(1.0f, -7));
}

TEST(ReferenceOracle, F16OutputOverflowsToInfinity) {
  // 300 * 300 = 90000 > 65504 (f16 max): the stored value is +inf.
  Problem p = dense(Op::mm, DType::f16, DType::f16, DType::f16, 1, 1, 1);
  std::uint16_t a = numeric::float_to_f16(300.0f), b = numeric::float_to_f16(300.0f), c = 0;
  reference::compute(p, GemmArgs{&a, &b, &c}, 1);
  EXPECT_TRUE(std::isinf(numeric::f16_to_float(c)));
  EXPECT_EQ(c, 0x7c00);
}

TEST(ReferenceOracle, Fp8ScaledMmByHand) {
  // e4m3 2 * e5m2 3 = 6, scaled by 0.5 * 0.25 -> 0.75, written as bf16.
  Problem p = dense(Op::scaled_mm, DType::f8e4m3, DType::f8e5m2, DType::bf16, 1, 1, 1);
  p.scale_a = ScaleKind::per_tensor;
  p.scale_b = ScaleKind::per_tensor;
  ASSERT_NO_THROW(validate(p));
  std::uint8_t a = numeric::float_to_fp8(2.0f, numeric::kE4M3);
  std::uint8_t b = numeric::float_to_fp8(3.0f, numeric::kE5M2);
  EXPECT_EQ(a, 0x40);  // e4m3: exponent 1+7=8, mantissa 0
  EXPECT_EQ(b, 0x42);  // e5m2: exponent 1+15=16, mantissa 0b10
  float sa = 0.5f, sb = 0.25f;
  std::uint16_t c = 0;
  reference::compute(p, GemmArgs{&a, &b, &c, nullptr, &sa, &sb}, 1);
  EXPECT_EQ(bf16_to_float(c), 0.75f);
}

TEST(ReferenceOracle, Fp8EncodingsOfTheEdges) {
  EXPECT_EQ(numeric::fp8_to_float(0x7e, numeric::kE4M3), 448.0f);  // largest finite e4m3
  EXPECT_TRUE(std::isnan(numeric::fp8_to_float(0x7f, numeric::kE4M3)));
  EXPECT_TRUE(std::isinf(numeric::fp8_to_float(0x7c, numeric::kE5M2)));
  EXPECT_EQ(numeric::fp8_to_float(0x7b, numeric::kE5M2), 57344.0f);
  EXPECT_EQ(numeric::float_to_fp8(1000.0f, numeric::kE4M3), 0x7e);  // saturates
  EXPECT_EQ(numeric::fp8_to_float(0x01, numeric::kE4M3), std::ldexp(1.0f, -9));  // smallest subnormal
  // 1.0625 is halfway between e4m3 1.0 and 1.125: ties to even -> 1.0.
  EXPECT_EQ(numeric::float_to_fp8(1.0625f, numeric::kE4M3), 0x38);
}

TEST(ReferenceOracle, ScaledMmPerChannelScalesPickRowAndColumn) {
  // C[i][j] = sa[i] * sb[j] * A[i].B[:,j]; A = [1; 2], B = [1 1], sa = [1, 4], sb = [0.5, 2]
  Problem p = dense(Op::scaled_mm, DType::f8e4m3, DType::f8e4m3, DType::f32, 2, 2, 1);
  p.scale_a = ScaleKind::per_channel;
  p.scale_b = ScaleKind::per_channel;
  ASSERT_NO_THROW(validate(p));
  const auto e = [](float v) { return numeric::float_to_fp8(v, numeric::kE4M3); };
  std::vector<std::uint8_t> a{e(1), e(2)}, b{e(1), e(1)};
  std::vector<float> sa{1, 4}, sb{0.5f, 2}, c(4, NAN);
  reference::compute(p, GemmArgs{a.data(), b.data(), c.data(), nullptr, sa.data(), sb.data()}, 1);
  EXPECT_EQ(c, (std::vector<float>{0.5f, 2, 4, 16}));
}

TEST(ReferenceOracle, MixedMmScalesInt8WeightsPerColumn) {
  // [1 2] . [3 1; -4 2] = [-5 5]; scales [0.5 3] -> [-2.5 15]
  Problem p = dense(Op::mixed_mm, DType::f32, DType::i8, DType::f32, 1, 2, 2);
  p.scale_b = ScaleKind::per_channel;
  ASSERT_NO_THROW(validate(p));
  std::vector<float> a{1, 2}, scales{0.5f, 3}, c(2, NAN);
  std::vector<std::int8_t> b{3, 1, -4, 2};
  reference::compute(p, GemmArgs{a.data(), b.data(), c.data(), nullptr, nullptr, scales.data()}, 1);
  EXPECT_EQ(c, (std::vector<float>{-2.5f, 15}));
}

TEST(ReferenceOracle, ActivationsMatchTheirClosedForms) {
  // gelu(x) = x * Phi(x); Phi(1) = 0.841344746068543; silu(1) = 1 / (1 + e^-1)
  EXPECT_NEAR(numeric::activate(Activation::gelu, 1.0), 0.8413447460685429, 1e-15);
  EXPECT_NEAR(numeric::activate(Activation::gelu, -1.0), -0.15865525393145707, 1e-15);
  EXPECT_NEAR(numeric::activate(Activation::silu, 1.0), 0.7310585786300049, 1e-15);
  // gelu_tanh(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), values from
  // a 30-digit evaluation; it differs from the erf form in the 4th digit.
  EXPECT_NEAR(numeric::activate(Activation::gelu_tanh, 1.0), 0.8411919906082767, 1e-15);
  EXPECT_NEAR(numeric::activate(Activation::gelu_tanh, -1.0), -0.1588080093917233, 1e-15);
  EXPECT_NEAR(numeric::activate(Activation::gelu_tanh, -3.0), -0.003637392081773019, 1e-16);
  EXPECT_NEAR(numeric::activate(Activation::gelu_tanh, 3.0), 2.996362607918227, 1e-15);
  EXPECT_EQ(numeric::activate(Activation::relu, -3.0), 0.0);
  EXPECT_EQ(numeric::activate(Activation::relu, 3.0), 3.0);
}

TEST(ReferenceOracle, MagnitudeSumsAbsoluteProductsForTheTolerance) {
  // 1*5 + 2*(-7) = -9, magnitude |5| + |-14| = 19 (plus |beta*bias| = 1).
  Problem p = dense(Op::addmm, DType::f32, DType::f32, DType::f32, 1, 1, 2);
  p.bias = BiasKind::row;
  p.bias_desc = MatrixDesc::row_major(DType::f32, 1, 1);
  std::vector<float> a{1, 2}, b{5, -7}, bias{-2};
  p.beta = 0.5;
  auto v = reference::element(p, GemmArgs{a.data(), b.data(), nullptr, bias.data()}, 0, 0, 0);
  EXPECT_EQ(v.value, -10.0);
  EXPECT_EQ(v.magnitude, 20.0);
}

}  // namespace
}  // namespace gemmtune
