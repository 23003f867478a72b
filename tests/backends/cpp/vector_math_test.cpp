// util/vector_math.h's tanh and gelu_tanh against double precision, on every
// lane type that uses them: the CPP backend's AVX-512 and AVX2 tiles and the
// BLAS backend's vectorized scalar pass. Inputs sweep every binade from the
// subnormals to where tanh saturates and far past it, both signs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "util/cpu_info.h"
#include "util/vector_math.h"
#include "vector_math_lanes.h"

namespace gemmtune::cpp_test {

void math_scalar(MathFn fn, const float* in, float* out, std::size_t n) {
  namespace vm = vector_math;
  using L = vm::ScalarF32;
  for (std::size_t i = 0; i < n; ++i) {
    switch (fn) {
      case MathFn::tanh: out[i] = vm::vtanh<L>(in[i]); break;
      case MathFn::gelu_tanh: out[i] = vm::vgelu_tanh<L>(in[i]); break;
      case MathFn::gelu_erf: out[i] = vm::vgelu_erf<L>(in[i]); break;
      case MathFn::silu: out[i] = vm::vsilu<L>(in[i]); break;
      case MathFn::exp: out[i] = vm::vexp<L>(in[i]); break;
    }
  }
}

namespace {

struct Lane {
  std::string name;
  MathLane fn;
  bool available;
  double tanh_ulps;  // the bound this lane's reciprocal allows
};

std::vector<Lane> lanes() {
  const auto& cpu = cpu::info();
  return {
      {"avx512", &math_avx512, cpu.avx512f && cpu.avx512dq && cpu.fma, 1.5},
      // _mm256_rcp_ps is a 12-bit estimate: one Newton step leaves a little more.
      {"avx2", &math_avx2, cpu.avx2 && cpu.fma, 2.0},
      {"scalar", &math_scalar, true, 1.5},
  };
}

float from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Every 257th positive float from the smallest subnormal to 1e5 (about 4.6
// million), their negatives, and the special values.
std::vector<float> sweep() {
  std::vector<float> out;
  const std::uint32_t last = 0x47c35000u;  // 1e5
  for (std::uint32_t bits = 1; bits < last; bits += 257) {
    out.push_back(from_bits(bits));
    out.push_back(-from_bits(bits));
  }
  for (float v : {0.0f, -0.0f, 0.75f, -0.75f, 9.1f, 1e20f, -1e20f, std::numeric_limits<float>::max(),
                  -std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity()})
    out.push_back(v);
  return out;
}

// The spacing of f32 numbers around |r| (the exact value's own binade,
// subnormal spacing below the normal range).
double ulp_of(double r) {
  r = std::fabs(r);
  if (r == 0 || std::ilogb(r) < -126) return std::ldexp(1.0, -149);
  return std::ldexp(1.0, std::ilogb(r) - 23);
}

double gelu_tanh_exact(double x) {
  return 0.5 * x * (1.0 + std::tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
}

std::vector<float> run(const Lane& lane, MathFn fn, const std::vector<float>& in) {
  std::vector<float> out(in.size());
  lane.fn(fn, in.data(), out.data(), in.size());
  return out;
}

TEST(VectorMath, TanhIsWithinTwoUlpsFromSubnormalsToSaturation) {
  // (1.5 where the reciprocal is exact to within an ulp)
  const std::vector<float> in = sweep();
  for (const Lane& lane : lanes()) {
    if (!lane.available) {
      std::printf("[ skipped  ] %s: this CPU lacks the instructions\n", lane.name.c_str());
      continue;
    }
    SCOPED_TRACE(lane.name);
    const std::vector<float> out = run(lane, MathFn::tanh, in);
    double worst = 0, worst_x = 0;
    int reported = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const double exact = std::tanh(static_cast<double>(in[i]));
      const double ulps = std::fabs(out[i] - exact) / ulp_of(exact);
      if (ulps > worst) worst = ulps, worst_x = in[i];
      if (ulps > lane.tanh_ulps && reported++ < 5)
        ADD_FAILURE() << "tanh(" << in[i] << ") = " << out[i] << ", exact " << exact << ": " << ulps << " ulps";
    }
    std::printf("[ measured ] %s tanh: worst %.2f ulps at x = %g over %zu inputs\n", lane.name.c_str(), worst, worst_x,
                in.size());
  }
}

TEST(VectorMath, TanhKeepsSignsZerosNanAndSaturatesToOne) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> in{0.0f, -0.0f, 1e-40f, -1e-40f, 1e-20f, 9.5f, -9.5f, 1e30f, -inf, inf, NAN};
  for (const Lane& lane : lanes()) {
    if (!lane.available) continue;
    SCOPED_TRACE(lane.name);
    const std::vector<float> out = run(lane, MathFn::tanh, in);
    EXPECT_EQ(out[0], 0.0f);
    EXPECT_FALSE(std::signbit(out[0]));
    EXPECT_TRUE(std::signbit(out[1]));
    EXPECT_EQ(out[2], 1e-40f);  // subnormal: tanh(x) = x
    EXPECT_EQ(out[3], -1e-40f);
    EXPECT_EQ(out[4], 1e-20f);
    EXPECT_EQ(out[5], 1.0f);
    EXPECT_EQ(out[6], -1.0f);
    EXPECT_EQ(out[7], 1.0f);
    EXPECT_EQ(out[8], -1.0f);
    EXPECT_EQ(out[9], 1.0f);
    EXPECT_TRUE(std::isnan(out[10]));
  }
}

TEST(VectorMath, GeluTanhErrorStaysWithinTheF32EpilogueBudget) {
  // What an f32 epilogue can promise: the tanh argument is itself rounded, and
  // 1 + tanh cancels on the negative side, so the error is a few ulps of the
  // result plus a few ulps of |x| (the verification's scale) -- never more.
  std::vector<float> in;
  for (int i = -400000; i <= 400000; ++i) in.push_back(static_cast<float>(i) * 5e-5f);  // [-20, 20]
  for (float v : {1e-30f, -1e-30f, 1e-8f, -1e-8f, 30.0f, -30.0f, 1e4f, -1e4f, 1e20f, -1e20f}) in.push_back(v);
  for (const Lane& lane : lanes()) {
    if (!lane.available) continue;
    SCOPED_TRACE(lane.name);
    const std::vector<float> out = run(lane, MathFn::gelu_tanh, in);
    double worst = 0, worst_x = 0;
    int reported = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const double x = in[i];
      const double exact = gelu_tanh_exact(x);
      const double budget = std::ldexp(std::fabs(x), -22) + 2 * ulp_of(exact);
      const double err = std::fabs(out[i] - exact);
      if (err / budget > worst) worst = err / budget, worst_x = x;
      if (err > budget && reported++ < 5)
        ADD_FAILURE() << "gelu_tanh(" << x << ") = " << out[i] << ", exact " << exact << " (error " << err << ")";
    }
    std::printf("[ measured ] %s gelu_tanh: worst %.2f of the budget at x = %g\n", lane.name.c_str(), worst, worst_x);
  }
}

TEST(VectorMath, GeluTanhOfSpecialValuesFollowsItsFormula) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> in{inf, -inf, NAN, 0.0f, 1e30f, -1e30f};
  for (const Lane& lane : lanes()) {
    if (!lane.available) continue;
    SCOPED_TRACE(lane.name);
    const std::vector<float> out = run(lane, MathFn::gelu_tanh, in);
    EXPECT_EQ(out[0], inf);
    EXPECT_TRUE(std::isnan(out[1]));  // -inf * (1 + tanh(-inf)) = -inf * 0, as in double
    EXPECT_TRUE(std::isnan(out[2]));
    EXPECT_EQ(out[3], 0.0f);
    EXPECT_EQ(out[4], 1e30f);
    EXPECT_EQ(out[5], 0.0f);
  }
}

TEST(VectorMath, EveryLaneAgreesOnGeluErfAndSilu) {
  // The erf and exp fits (moved here from the CPP epilogue) on every lane.
  std::vector<float> in;
  for (int i = -2000; i <= 2000; ++i) in.push_back(static_cast<float>(i) * 0.01f);
  for (const Lane& lane : lanes()) {
    if (!lane.available) continue;
    SCOPED_TRACE(lane.name);
    const std::vector<float> gelu = run(lane, MathFn::gelu_erf, in);
    const std::vector<float> silu = run(lane, MathFn::silu, in);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const double x = in[i];
      EXPECT_NEAR(gelu[i], 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))), 1e-6 * std::fabs(x) + 1e-7) << x;
      EXPECT_NEAR(silu[i], x / (1.0 + std::exp(-x)), 1e-6 * std::fabs(x) + 1e-7) << x;
    }
  }
}

}  // namespace
}  // namespace gemmtune::cpp_test
