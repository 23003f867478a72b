#include "backends/reference/reference_math.h"

#include <cmath>
#include <thread>
#include <vector>

#include "util/numeric.h"

namespace gemmtune::reference {
namespace {

double scale_value(ScaleKind kind, const float* scales, std::int64_t index) {
  switch (kind) {
    case ScaleKind::none: return 1.0;
    case ScaleKind::per_tensor: return scales[0];
    case ScaleKind::per_channel: return scales[index];
  }
  return 1.0;
}

// Sum of products and sum of their absolute values along K.
template <typename Acc>
void dot(const Problem& p, const GemmArgs& args, std::int64_t batch, std::int64_t i, std::int64_t j,
         Acc& sum, Acc& abs_sum) {
  sum = 0;
  abs_sum = 0;
  for (std::int64_t kk = 0; kk < p.k; ++kk) {
    Acc a = static_cast<Acc>(numeric::load_as_double(args.a, p.a.dtype, offset(p.a, batch, i, kk)));
    Acc b = static_cast<Acc>(numeric::load_as_double(args.b, p.b.dtype, offset(p.b, batch, kk, j)));
    sum += a * b;
    abs_sum += (a * b < 0) ? -(a * b) : a * b;
  }
}

}  // namespace

runtime::ReferenceValue element(const Problem& p, const GemmArgs& args, std::int64_t batch, std::int64_t i,
                                std::int64_t j) {
  runtime::ReferenceValue out;
  if (p.op == Op::int_mm) {
    std::int64_t sum = 0;
    for (std::int64_t kk = 0; kk < p.k; ++kk) {
      auto a = static_cast<std::int64_t>(numeric::load_as_double(args.a, p.a.dtype, offset(p.a, batch, i, kk)));
      auto b = static_cast<std::int64_t>(numeric::load_as_double(args.b, p.b.dtype, offset(p.b, batch, kk, j)));
      sum += a * b;
    }
    auto wrapped = static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(sum)));
    out.value = numeric::activate(p.activation, static_cast<double>(wrapped));
    out.magnitude = std::fabs(static_cast<double>(wrapped));
    return out;
  }

  // An absent term is not evaluated (not multiplied by zero): NaN or Inf in
  // its operands must not reach C.
  double pre = 0, magnitude = 0;
  if (!product_term_absent(p)) {
    double sum, abs_sum;
    if (p.a.dtype == DType::f64 || p.b.dtype == DType::f64) {
      long double s, as;
      dot<long double>(p, args, batch, i, j, s, as);
      sum = static_cast<double>(s);
      abs_sum = static_cast<double>(as);
    } else {
      dot<double>(p, args, batch, i, j, sum, abs_sum);
    }
    double scale = std::fabs(p.alpha);
    double signed_scale = p.alpha;
    if (p.op == Op::scaled_mm || p.op == Op::mixed_mm) {
      double s = scale_value(p.scale_a, args.scale_a, i) * scale_value(p.scale_b, args.scale_b, j);
      signed_scale *= s;
      scale *= std::fabs(s);
    }
    pre = signed_scale * sum;
    magnitude = scale * abs_sum;
  }
  if (!bias_term_absent(p)) {
    std::int64_t row = p.bias == BiasKind::row ? 0 : i;
    double bias = numeric::load_as_double(args.bias, p.bias_desc.dtype, offset(p.bias_desc, batch, row, j));
    pre += p.beta * bias;
    magnitude += std::fabs(p.beta * bias);
  }
  out.value = numeric::activate(p.activation, pre);
  // gelu (either form) and silu have slopes up to about 1.129 and 1.1; relu up to 1.
  out.magnitude = p.activation == Activation::none ? magnitude : 1.13 * magnitude;
  return out;
}

void compute(const Problem& p, const GemmArgs& args, int threads) {
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  std::int64_t rows = p.batch * p.m;
  int workers = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(threads, rows)));
  auto work = [&](int w) {
    for (std::int64_t r = w; r < rows; r += workers) {
      std::int64_t batch = r / p.m, i = r % p.m;
      for (std::int64_t j = 0; j < p.n; ++j) {
        double v = element(p, args, batch, i, j).value;
        numeric::store_from_double(args.c, p.c.dtype, offset(p.c, batch, i, j), v);
      }
    }
  };
  if (workers == 1) {
    work(0);
    return;
  }
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back(work, w);
  for (auto& t : pool) t.join();
}

}  // namespace gemmtune::reference
