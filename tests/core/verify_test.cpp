// Verification and numeric conversions: the checks that decide whether a
// choice may be timed at all must catch real mistakes and pass real results.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "backends/reference/reference_math.h"
#include "measure/inputs.h"
#include "measure/verify.h"
#include "runtime/cpu_runtime.h"
#include "testing/fake_device.h"
#include "util/numeric.h"

namespace gemmtune {
namespace {

using measure::DeviceInputSet;

struct Prepared {
  Problem problem;
  measure::HostData host;
  DeviceInputSet set;
  measure::ReferenceSample sample;
};

Prepared prepare(const Problem& p, VerifyMode mode = VerifyMode::full) {
  auto& rt = runtime::cpu_runtime();
  Prepared out{p, measure::make_host_data(p, 42), {}, {}};
  auto set = measure::upload(rt, out.host);
  EXPECT_TRUE(set.ok());
  out.set = std::move(set.value());
  auto sample = measure::make_reference(rt, p, out.set.args(), mode, 7);
  EXPECT_TRUE(sample.ok());
  out.sample = std::move(sample.value());
  return out;
}

Expected<double> check(Prepared& prep) {
  return measure::verify_output(runtime::cpu_runtime(), prep.problem, prep.set, prep.sample);
}

Problem small(Op op, DType dtype, std::int64_t m = 6, std::int64_t n = 5, std::int64_t k = 33) {
  ProblemSpec s;
  s.op = op;
  s.m = m;
  s.n = n;
  s.k = k;
  s.dtype = dtype;
  return make_problem(s);
}

TEST(Verify, ExactReferenceOutputPasses) {
  for (DType t : {DType::f32, DType::bf16, DType::f16, DType::f64}) {
    auto prep = prepare(small(Op::addmm, t));
    reference::compute(prep.problem, prep.set.args(), 1);
    auto result = check(prep);
    EXPECT_TRUE(result.ok()) << to_string(t) << ": " << (result.ok() ? "" : result.error().to_string());
  }
}

TEST(Verify, UntouchedOutputFailsAsNonFinite) {
  auto prep = prepare(small(Op::mm, DType::f32));
  auto result = check(prep);  // still the poison pattern (NaN)
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().stage, Stage::verify);
  EXPECT_EQ(result.error().reason, Reason::non_finite_result);
}

TEST(Verify, AFiniteExactValueBeyondTheOutputRangeIsRightAsTheInfinityOfItsSign) {
  // alpha 5000, K 1024 in f16: exact values of ~1e5 are -inf or +inf once
  // stored, by the reference and by any correct kernel. Only the infinity of
  // the right sign passes, and not where the exact value is in range.
  Problem p = small(Op::mm, DType::f16, 6, 5, 1024);
  p.alpha = 5000;
  auto prep = prepare(p);
  reference::compute(prep.problem, prep.set.args(), 1);
  auto* c = static_cast<std::uint16_t*>(prep.set.c.get());
  int overflowed = 0;
  for (int i = 0; i < 30; ++i) overflowed += std::isinf(numeric::f16_to_float(c[i]));
  ASSERT_GT(overflowed, 0) << "the inputs should overflow f16 somewhere";
  auto result = check(prep);
  EXPECT_TRUE(result.ok()) << result.error().to_string();
  for (int i = 0; i < 30; ++i) {
    const float v = numeric::f16_to_float(c[i]);
    if (!std::isinf(v)) continue;
    const std::uint16_t kept = c[i];
    c[i] = numeric::float_to_f16(-v);  // the other infinity
    auto flipped = check(prep);
    ASSERT_FALSE(flipped.ok());
    EXPECT_EQ(flipped.error().reason, Reason::non_finite_result);
    c[i] = kept;
    break;
  }
  // A value in range stored as an infinity is still wrong.
  Prepared in_range = prepare(small(Op::mm, DType::f16, 6, 5, 1024));
  reference::compute(in_range.problem, in_range.set.args(), 1);
  static_cast<std::uint16_t*>(in_range.set.c.get())[3] = numeric::float_to_f16(INFINITY);
  EXPECT_FALSE(check(in_range).ok());
}

TEST(ColdCache, OnlyTheBytesARunTouchesAreEvictedNotTheGapsOfAWiderTensor) {
  // A 64x64x64 mm whose A is a slice of a 64 x 262144 tensor (--lda): 64 rows
  // of 256 bytes, not the 64 MB the buffer spans.
  Problem p = small(Op::mm, DType::f32, 64, 64, 64);
  p.a.row_stride = 262144;
  p.alignment = 64;
  validate(p);
  auto prep = prepare(p, VerifyMode::sampled);
  const auto ranges = prep.set.ranges(p);
  std::size_t a_bytes = 0, total = 0;
  const auto* a0 = static_cast<const char*>(prep.set.a.get());
  for (const auto& r : ranges) {
    total += r.bytes;
    const auto* at = static_cast<const char*>(r.data);
    if (at >= a0 && at < a0 + prep.set.a.bytes()) {
      a_bytes += r.bytes;
      EXPECT_EQ(r.bytes, 256u);
      EXPECT_EQ((at - a0) % (262144 * 4), 0);
    }
  }
  EXPECT_EQ(a_bytes, 64u * 256u);
  EXPECT_EQ(total, 3u * 64u * 256u) << "B and C are dense: one run each";
  // Dense operands are one run each, whatever their size.
  Problem dense = small(Op::addmm, DType::f32, 300, 200, 100);
  auto dense_prep = prepare(dense, VerifyMode::sampled);
  EXPECT_EQ(dense_prep.set.ranges(dense).size(), 4u);
}

TEST(Verify, SmallErrorInOneElementIsCaughtAndNamed) {
  auto prep = prepare(small(Op::mm, DType::f32));
  reference::compute(prep.problem, prep.set.args(), 1);
  auto* c = static_cast<float*>(prep.set.c.get());
  c[2 * 5 + 3] += 1e-3f;  // far above f32 rounding for K = 33
  auto result = check(prep);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, Reason::wrong_result);
  EXPECT_NE(result.error().message.find("C[2,3]"), std::string::npos) << result.error().message;
}

TEST(Verify, IntegerResultsMustMatchExactly) {
  auto prep = prepare(small(Op::int_mm, DType::i8));
  reference::compute(prep.problem, prep.set.args(), 1);
  EXPECT_TRUE(check(prep).ok());
  static_cast<std::int32_t*>(prep.set.c.get())[7] += 1;
  EXPECT_FALSE(check(prep).ok());
}

TEST(Verify, WriteIntoAStridedOutputGapIsCaught) {
  Problem p = small(Op::mm, DType::f32);
  p.c.row_stride = 8;  // 3 padding elements per row
  auto prep = prepare(p);
  reference::compute(prep.problem, prep.set.args(), 1);
  EXPECT_TRUE(check(prep).ok());
  static_cast<float*>(prep.set.c.get())[6] = 0.0f;  // a gap in row 0
  auto result = check(prep);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("outside"), std::string::npos);
}

TEST(Verify, SampledCheckStillSeesTheLastRowAndColumn) {
  Problem p = small(Op::mm, DType::f32, 300, 301, 64);
  auto prep = prepare(p, VerifyMode::sampled);
  EXPECT_FALSE(prep.sample.full);
  reference::compute(prep.problem, prep.set.args(), 2);
  EXPECT_TRUE(check(prep).ok());
  static_cast<float*>(prep.set.c.get())[299 * 301 + 300] += 0.5f;  // the very last element
  EXPECT_FALSE(check(prep).ok());
}

TEST(Verify, SampledVerificationReadsOnlyTheSampledElements) {
  Problem p = small(Op::mm, DType::f32, 300, 301, 64);
  auto prep = prepare(p, VerifyMode::sampled);
  ASSERT_FALSE(prep.sample.full);
  reference::compute(prep.problem, prep.set.args(), 2);
  testing::FakeDevice device(DeviceKind::cuda, "fake", std::make_shared<testing::FakeClock>());
  auto verify = [&] { return measure::verify_output(device, prep.problem, prep.set, prep.sample); };
  ASSERT_TRUE(verify().ok());
  // The sampled elements came back, not the whole 361 KB output.
  EXPECT_EQ(device.bytes_to_host(), prep.sample.indices.size() * sizeof(float));
  EXPECT_LT(device.bytes_to_host(), prep.set.c.bytes() / 10);

  // NaN in an element outside the sample is never read.
  std::vector<bool> sampled(300 * 301, false);
  for (const auto& at : prep.sample.indices) sampled[static_cast<std::size_t>(at.row * 301 + at.col)] = true;
  std::size_t unsampled = 0;
  while (sampled[unsampled]) ++unsampled;
  auto* c = static_cast<float*>(prep.set.c.get());
  c[unsampled] = NAN;
  EXPECT_TRUE(verify().ok());

  // A wrong value at a random sampled position is read at its packed place.
  const runtime::OutputIndex at = prep.sample.indices[5];
  c[at.row * 301 + at.col] += 0.5f;
  auto result = verify();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().stage, Stage::verify);
  EXPECT_EQ(result.error().reason, Reason::wrong_result);
  const std::string name = "C[" + std::to_string(at.row) + "," + std::to_string(at.col) + "]";
  EXPECT_NE(result.error().message.find(name), std::string::npos) << result.error().message;
}

TEST(Verify, FullVerificationStillCopiesTheWholeOutputWithItsGaps) {
  Problem p = small(Op::mm, DType::f32);
  p.c.row_stride = 8;
  auto prep = prepare(p);
  ASSERT_TRUE(prep.sample.full);
  reference::compute(prep.problem, prep.set.args(), 1);
  testing::FakeDevice device(DeviceKind::cuda, "fake", std::make_shared<testing::FakeClock>());
  EXPECT_TRUE(measure::verify_output(device, prep.problem, prep.set, prep.sample).ok());
  EXPECT_EQ(device.bytes_to_host(), prep.set.c.bytes());
}

TEST(CpuRuntime, GatherPacksTheElementsAtTheOffsetsInOrder) {
  runtime::CpuRuntime rt;
  std::vector<std::uint16_t> src(64);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::uint16_t>(0x1000 + i);
  const std::vector<std::int64_t> offsets{63, 0, 17, 17, 2};
  std::vector<std::uint16_t> out(offsets.size() + 1, 0xffff);
  ASSERT_TRUE(rt.gather(out.data(), src.data(), 2, offsets));
  EXPECT_EQ(out, (std::vector<std::uint16_t>{0x103f, 0x1000, 0x1011, 0x1011, 0x1002, 0xffff}));
  EXPECT_TRUE(rt.gather(nullptr, src.data(), 2, {}));
}

TEST(Verify, AutomaticModeChecksSmallProblemsInFull) {
  auto prep = prepare(small(Op::mm, DType::f32), VerifyMode::automatic);
  EXPECT_TRUE(prep.sample.full);
  EXPECT_EQ(prep.sample.indices.size(), 30u);
}

TEST(Verify, Bf16OutputToleranceAllowsOutputRoundingOnly) {
  auto prep = prepare(small(Op::mm, DType::bf16));
  reference::compute(prep.problem, prep.set.args(), 1);
  ASSERT_TRUE(check(prep).ok());
  // Two bf16 ulps off the largest element is more than rounding.
  auto* c = static_cast<std::uint16_t*>(prep.set.c.get());
  int largest = 0;
  for (int i = 1; i < 30; ++i)
    if (std::fabs(numeric::bf16_to_float(c[i])) > std::fabs(numeric::bf16_to_float(c[largest]))) largest = i;
  c[largest] = static_cast<std::uint16_t>(c[largest] + 2);
  EXPECT_FALSE(check(prep).ok());
}

TEST(Verify, RandomInputsAreNeverAllZero) {
  Problem p = small(Op::mm, DType::bf16, 16, 16, 16);
  auto host = measure::make_host_data(p, 1);
  int zeros = 0;
  for (int i = 0; i < 256; ++i) zeros += static_cast<const std::uint16_t*>(host.a.data())[i] == 0;
  EXPECT_LT(zeros, 8);
}

TEST(Verify, RandomInputsDoNotDependOnHowManyThreadsFillThem) {
  // Large enough to be split (over 1 M elements) and not a multiple of any split.
  const std::size_t count = (std::size_t{3} << 20) + 12345;
  for (DType dtype : {DType::bf16, DType::f16, DType::f32, DType::i8, DType::f8e4m3}) {
    const std::size_t bytes = count * dtype_size(dtype);
    std::vector<unsigned char> one(bytes), three(bytes), all(bytes);
    measure::fill_random(one.data(), dtype, count, 99, 1);
    measure::fill_random(three.data(), dtype, count, 99, 3);
    measure::fill_random(all.data(), dtype, count, 99);
    EXPECT_EQ(std::memcmp(one.data(), three.data(), bytes), 0) << to_string(dtype);
    EXPECT_EQ(std::memcmp(one.data(), all.data(), bytes), 0) << to_string(dtype);
    // A prefix is the same sequence: the first elements of a short fill.
    std::vector<unsigned char> head(64 * dtype_size(dtype));
    measure::fill_random(head.data(), dtype, 64, 99, 1);
    EXPECT_EQ(std::memcmp(one.data(), head.data(), head.size()), 0) << to_string(dtype);
  }
}

TEST(Numeric, Bf16RoundsToNearestEven) {
  EXPECT_EQ(numeric::float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(numeric::float_to_bf16(1.00390625f), 0x3f80);  // halfway: to even
  EXPECT_EQ(numeric::float_to_bf16(1.01171875f), 0x3f82);  // halfway: to even (up)
  EXPECT_EQ(numeric::bf16_to_float(0xc040), -3.0f);
  EXPECT_TRUE(std::isnan(numeric::bf16_to_float(numeric::float_to_bf16(NAN))));
}

TEST(Numeric, F16RoundTripsAndHandlesSubnormalsAndOverflow) {
  for (float v : {1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f, 0.0f})
    EXPECT_EQ(numeric::f16_to_float(numeric::float_to_f16(v)), v) << v;
  EXPECT_TRUE(std::isinf(numeric::f16_to_float(numeric::float_to_f16(70000.0f))));
  EXPECT_EQ(numeric::float_to_f16(1.0f + 1.0f / 2048), 0x3c00);  // halfway to even
}

TEST(Numeric, Fp8ConversionsRoundAndSaturate) {
  using numeric::kE4M3;
  using numeric::kE5M2;
  EXPECT_EQ(numeric::fp8_to_float(numeric::float_to_fp8(448.0f, kE4M3), kE4M3), 448.0f);
  EXPECT_EQ(numeric::fp8_to_float(numeric::float_to_fp8(1000.0f, kE4M3), kE4M3), 448.0f);
  EXPECT_EQ(numeric::fp8_to_float(numeric::float_to_fp8(-0.3f, kE4M3), kE4M3), -0.3125f);
  EXPECT_EQ(numeric::fp8_to_float(numeric::float_to_fp8(1.0f / 512, kE4M3), kE4M3), 1.0f / 512);  // subnormal
  EXPECT_EQ(numeric::fp8_to_float(numeric::float_to_fp8(57344.0f, kE5M2), kE5M2), 57344.0f);
  EXPECT_EQ(numeric::fp8_to_float(numeric::float_to_fp8(1.25f, kE5M2), kE5M2), 1.25f);
  EXPECT_TRUE(std::isnan(numeric::fp8_to_float(0x7f, kE4M3)));
  // Every e4m3 code that is not NaN round-trips.
  for (int code = 0; code < 256; ++code) {
    float v = numeric::fp8_to_float(static_cast<std::uint8_t>(code), kE4M3);
    if (std::isnan(v)) continue;
    EXPECT_EQ(numeric::fp8_to_float(numeric::float_to_fp8(v, kE4M3), kE4M3), v) << code;
  }
}

TEST(Numeric, IntegerStoresWrapLikeTwosComplement) {
  std::int32_t out = 0;
  numeric::store_from_double(&out, DType::i32, 0, 2147483648.0);
  EXPECT_EQ(out, std::numeric_limits<std::int32_t>::min());
  numeric::store_from_double(&out, DType::i32, 0, -5.0);
  EXPECT_EQ(out, -5);
}

}  // namespace
}  // namespace gemmtune
