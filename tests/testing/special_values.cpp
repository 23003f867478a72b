#include "testing/special_values.h"

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "backends/reference/reference_math.h"
#include "testing/problem_specs.h"
#include "util/numeric.h"

namespace gemmtune::testing {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

void put(const measure::HostBuffer& buffer, const MatrixDesc& d, std::int64_t batch, std::int64_t i, std::int64_t j,
         double v) {
  if (!is_floating(d.dtype)) return;  // int8 weights hold no NaN
  numeric::store_from_double(buffer.data(), d.dtype, reference::offset(d, batch, i, j), v);
}

// NaN and Inf scattered through A and B (every row of A gets one).
void poison_operands(const Problem& p, measure::HostData& d) {
  for (std::int64_t b = 0; b < (p.a.batch_stride ? p.batch : 1); ++b)
    for (std::int64_t i = 0; i < p.m; ++i) put(d.a, p.a, b, i, (i * 3) % p.k, i % 2 ? kInf : kNaN);
  put(d.b, p.b, 0, p.k - 1, p.n - 1, -kInf);
}

void poison_bias(const Problem& p, measure::HostData& d) {
  const std::int64_t rows = p.bias == BiasKind::row ? 1 : p.m;
  for (std::int64_t b = 0; b < (p.bias_desc.batch_stride ? p.batch : 1); ++b)
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < p.n; ++j) put(d.bias, p.bias_desc, b, i, j, (i + j) % 3 == 0 ? kNaN : (j % 2 ? kInf : -kInf));
}

Problem make(Op op, DType dtype, std::optional<BiasKind> bias, double alpha, double beta, Activation act,
             std::int64_t batch = 1) {
  ProblemSpec s = spec(op, 5, 7, 9, dtype, "nn", batch);
  s.bias = bias;
  s.alpha = alpha;
  s.beta = beta;
  s.activation = act;
  return make_problem(s);
}

std::vector<SpecialValueCase> build_cases() {
  std::vector<SpecialValueCase> out;
  for (DType dtype : {DType::f32, DType::bf16}) {
    const std::string t(to_string(dtype));
    out.push_back({t + "_addmm_row_bias_beta0_ignores_nan_inf_bias",
                   make(Op::addmm, dtype, BiasKind::row, 1.5, 0.0, Activation::none), poison_bias,
                   "beta = 0: the bias is not read; every element finite"});
    out.push_back({t + "_addmm_full_bias_beta0_relu_ignores_nan_inf_bias",
                   make(Op::addmm, dtype, BiasKind::full, 1.0, 0.0, Activation::relu), poison_bias,
                   "beta = 0: the bias is not read; every element finite"});
    out.push_back({t + "_addmm_alpha0_ignores_nan_inf_operands",
                   make(Op::addmm, dtype, BiasKind::row, 0.0, 2.0, Activation::none), poison_operands,
                   "alpha = 0: A.B is not evaluated; C = beta * bias"});
    out.push_back({t + "_addmm_full_bias_alpha0_relu",
                   make(Op::addmm, dtype, BiasKind::full, 0.0, -1.0, Activation::relu), poison_operands,
                   "alpha = 0: C = relu(beta * bias)"});
    out.push_back({t + "_mm_alpha0_gelu_is_zero", make(Op::mm, dtype, std::nullopt, 0.0, 1.0, Activation::gelu),
                   poison_operands, "alpha = 0 and no bias: C = gelu(0) = 0"});
    out.push_back({t + "_mm_relu_keeps_nan", make(Op::mm, dtype, std::nullopt, 1.0, 1.0, Activation::relu),
                   poison_operands, "relu(NaN) = NaN, relu(-Inf) = 0, relu(Inf) = Inf"});
    out.push_back({t + "_addmm_nan_inf_bias_propagates", make(Op::addmm, dtype, BiasKind::row, 1.0, 1.0, Activation::none),
                   poison_bias, "beta != 0: NaN and Inf in the bias reach C"});
  }
  for (Activation act : {Activation::none, Activation::gelu, Activation::silu})
    out.push_back({std::string("f32_mm_inf_operands_") + std::string(to_string(act)),
                   make(Op::mm, DType::f32, std::nullopt, 1.0, 1.0, act), poison_operands,
                   "Inf and NaN propagate as the reference's formulas say (gelu(-Inf) = silu(-Inf) = NaN, as in "
                   "PyTorch)"});
  out.push_back({"f32_baddbmm_alpha0_relu", make(Op::baddbmm, DType::f32, BiasKind::row, 0.0, 1.0, Activation::relu, 3),
                 poison_operands, "alpha = 0 in every batch"});
  out.push_back({"f32_bmm_relu_keeps_nan", make(Op::bmm, DType::f32, std::nullopt, 1.0, 1.0, Activation::relu, 3),
                 poison_operands, "relu(NaN) = NaN in every batch"});
  {
    Problem p = make(Op::mixed_mm, DType::f32, BiasKind::row, 0.0, 1.0, Activation::none);
    out.push_back({"f32_mixed_mm_alpha0_ignores_nan_scales", p,
                   [](const Problem& q, measure::HostData& d) {
                     auto* scales = static_cast<float*>(d.scale_b.data());
                     for (std::int64_t j = 0; j < q.n; ++j) scales[j] = j % 2 ? INFINITY : NAN;
                   },
                   "alpha = 0: neither B nor its scales are read; C = beta * bias"});
  }
  {
    Problem p = make(Op::mixed_mm, DType::f32, std::nullopt, 1.0, 1.0, Activation::none);
    out.push_back({"f32_mixed_mm_nan_scale_propagates", p,
                   [](const Problem&, measure::HostData& d) { static_cast<float*>(d.scale_b.data())[2] = NAN; },
                   "a NaN scale makes its column NaN"});
  }
  return out;
}

// Relative tolerance of the output dtype (the inputs are small and exactly
// representable; the only errors are accumulation order and the final
// rounding, plus the CPU kernels' f32 activation approximations).
double tolerance(DType c) {
  switch (c) {
    case DType::f64: return 1e-12;
    case DType::f32: return 2e-5;
    case DType::f16: return 3e-3;
    default: return 1.6e-2;
  }
}

}  // namespace

const std::vector<SpecialValueCase>& special_value_cases() {
  static const std::vector<SpecialValueCase> cases = build_cases();
  return cases;
}

measure::HostData special_value_inputs(const SpecialValueCase& c, const Problem& p, std::uint64_t seed) {
  measure::HostData host = measure::make_host_data(p, seed);
  c.poison(p, host);
  return host;
}

::testing::AssertionResult matches_reference_with_special_values(const Problem& p, Kernel& kernel,
                                                                 runtime::DeviceRuntime& rt,
                                                                 const measure::HostData& host) {
  auto set = measure::upload(rt, host);
  if (!set) return ::testing::AssertionFailure() << "upload: " << set.error().to_string();
  if (Status s = measure::poison_output(rt, set.value()); !s)
    return ::testing::AssertionFailure() << "poison: " << s.error().to_string();
  Status ran = kernel.run(set.value().args(), RunContext{rt.stream()});
  if (ran) ran = rt.synchronize();
  if (!ran) return ::testing::AssertionFailure() << "run: " << ran.error().to_string();
  measure::HostBuffer got(set.value().c.bytes());
  if (got.bytes() > 0) {
    if (Status s = rt.copy_to_host(got.data(), set.value().c.get(), got.bytes()); !s)
      return ::testing::AssertionFailure() << "copy back: " << s.error().to_string();
  }
  const GemmArgs args = host.args();
  const double tol = tolerance(p.c.dtype);
  int shown = 0;
  std::ostringstream wrong;
  for (std::int64_t b = 0; b < p.batch; ++b)
    for (std::int64_t i = 0; i < p.m; ++i)
      for (std::int64_t j = 0; j < p.n; ++j) {
        const runtime::ReferenceValue want = reference::element(p, args, b, i, j);
        // What the exact value becomes in the output dtype.
        alignas(8) unsigned char slot[8] = {};
        numeric::store_from_double(slot, p.c.dtype, 0, want.value);
        const double expected = numeric::load_as_double(slot, p.c.dtype, 0);
        const double actual = numeric::load_as_double(got.data(), p.c.dtype, reference::offset(p.c, b, i, j));
        bool ok;
        if (std::isnan(expected)) ok = std::isnan(actual);
        else if (std::isinf(expected)) ok = actual == expected;
        else ok = std::isfinite(actual) && std::fabs(actual - expected) <= tol * (want.magnitude + std::fabs(expected)) + 1e-30;
        if (!ok && shown++ < 5)
          wrong << " (" << b << "," << i << "," << j << "): got " << actual << ", want " << expected << ";";
      }
  if (shown > 0) return ::testing::AssertionFailure() << shown << " elements differ from the reference:" << wrong.str();
  return ::testing::AssertionSuccess();
}

}  // namespace gemmtune::testing
