#include "measure/verify.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "backends/reference/reference_math.h"
#include "util/numeric.h"

namespace gemmtune::measure {
namespace {

double output_rounding(DType t) {
  switch (t) {
    case DType::f64: return 0x1.0p-52;
    case DType::f32: return 0x1.0p-23;
    // Half an ulp is at most 2^-p of the value (p = stored mantissa bits + 1).
    case DType::f16: return 0x1.0p-11 * 1.01;
    case DType::bf16: return 0x1.0p-8 * 1.01;
    default: return 0;
  }
}

double smallest_normal(DType t) {
  switch (t) {
    case DType::f64: return 0x1.0p-1022;
    case DType::f32: return 0x1.0p-126;
    case DType::f16: return 0x1.0p-14;
    case DType::bf16: return 0x1.0p-126;
    default: return 0;
  }
}

struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  std::int64_t below(std::int64_t n) { return static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(n)); }
};

std::vector<runtime::OutputIndex> sample_indices(const Problem& p, std::uint64_t seed) {
  std::vector<runtime::OutputIndex> out;
  Rng rng{seed | 1};
  const std::int64_t last_batch = p.batch - 1;
  for (int s = 0; s < 1024; ++s) out.push_back({rng.below(p.batch), rng.below(p.m), rng.below(p.n)});
  // The last row and column catch edge-tile mistakes; sample them evenly.
  const std::int64_t row_points = std::min<std::int64_t>(p.n, 512);
  for (std::int64_t s = 0; s < row_points; ++s) out.push_back({last_batch, p.m - 1, s * p.n / row_points});
  out.push_back({last_batch, p.m - 1, p.n - 1});
  const std::int64_t col_points = std::min<std::int64_t>(p.m, 512);
  for (std::int64_t s = 0; s < col_points; ++s) out.push_back({last_batch, s * p.m / col_points, p.n - 1});
  out.push_back({0, 0, 0});
  return out;
}

std::string where(const Problem& p, const runtime::OutputIndex& at) {
  std::ostringstream out;
  out << "C";
  if (is_batched(p.op)) out << "[" << at.batch << "]";
  out << "[" << at.row << "," << at.col << "]";
  return out.str();
}

}  // namespace

Tolerance tolerance_for(const Problem& p) {
  Tolerance t;
  if (p.op == Op::int_mm) {
    t.exact = true;
    return t;
  }
  const double sqrt_k = std::sqrt(static_cast<double>(std::max<std::int64_t>(p.k, 1)));
  const double k_growth = std::max(1.0, sqrt_k / 64.0);
  if (p.a.dtype == DType::f64) {
    t.accumulate = 1e-13 + 3 * sqrt_k * 0x1.0p-53;
    t.norm = 1e-12 * k_growth;
  } else if (is_fp8(p.a.dtype)) {
    // Hopper's fp8 tensor cores keep fewer accumulator bits than f32.
    t.accumulate = 2e-3;
    t.norm = 1e-2;
  } else if (p.a.dtype == DType::f32 && p.allow_tf32 && p.op != Op::mixed_mm) {
    // tf32 rounds each input to 10 mantissa bits: up to 2^-10 per product.
    t.accumulate = 1.5e-3;
    t.norm = 2e-3;
  } else {
    // f32 accumulation; f16/bf16 products are exact in f32.
    t.accumulate = 1e-5 + 3 * sqrt_k * 0x1.0p-24;
    t.norm = 1e-5 * k_growth;
  }
  t.output = output_rounding(p.c.dtype);
  t.floor = smallest_normal(p.c.dtype);
  if (p.c.dtype == DType::bf16 || p.c.dtype == DType::f16) t.norm = std::max(t.norm, 1e-2);
  return t;
}

Expected<ReferenceSample> make_reference(runtime::DeviceRuntime& rt, const Problem& p, const GemmArgs& args,
                                         VerifyMode mode, std::uint64_t seed) {
  ReferenceSample sample;
  if (p.batch == 0 || p.m == 0 || p.n == 0 || mode == VerifyMode::off) return sample;
  const std::int64_t macs = p.batch * p.m * p.n * std::max<std::int64_t>(p.k, 1);
  sample.full = mode == VerifyMode::full || (mode == VerifyMode::automatic && macs <= kFullCheckMacs);
  if (sample.full) {
    sample.indices.reserve(static_cast<std::size_t>(p.batch * p.m * p.n));
    for (std::int64_t b = 0; b < p.batch; ++b)
      for (std::int64_t i = 0; i < p.m; ++i)
        for (std::int64_t j = 0; j < p.n; ++j) sample.indices.push_back({b, i, j});
  } else {
    sample.indices = sample_indices(p, seed);
  }
  auto values = rt.reference(p, args, sample.indices);
  if (!values) return values.error();
  sample.values = std::move(values.value());
  sample.offsets.reserve(sample.indices.size());
  for (const auto& at : sample.indices) sample.offsets.push_back(reference::offset(p.c, at.batch, at.row, at.col));
  return sample;
}

Expected<double> verify_output(runtime::DeviceRuntime& rt, const Problem& p, const DeviceInputSet& set,
                               const ReferenceSample& sample) {
  if (sample.indices.empty()) return 0.0;
  // Full: the whole output (the gaps of a strided one are checked too).
  // Sampled: only the sampled elements, packed in sample order.
  const std::size_t width = dtype_size(p.c.dtype);
  HostBuffer out;
  Status copied = Status::success();
  if (sample.full) {
    out = HostBuffer(set.c.bytes());
    copied = rt.copy_to_host(out.data(), set.c.get(), set.c.bytes());
  } else {
    out = HostBuffer(sample.offsets.size() * width);
    copied = rt.gather(out.data(), set.c.get(), width, sample.offsets);
  }
  if (!copied) {
    Rejection r = copied.error();
    r.stage = Stage::run;
    return r;
  }
  auto got_at = [&](std::size_t s) {
    const std::int64_t index = sample.full ? sample.offsets[s] : static_cast<std::int64_t>(s);
    return numeric::load_as_double(out.data(), p.c.dtype, index);
  };
  const Tolerance tol = tolerance_for(p);
  auto bad = [&](Reason reason, const std::string& message) {
    return Rejection{Stage::verify, reason, message};
  };

  double worst = 0, err2 = 0, ref2 = 0;
  for (std::size_t s = 0; s < sample.indices.size(); ++s) {
    const auto& at = sample.indices[s];
    const auto& ref = sample.values[s];
    const double got = got_at(s);
    const double allowed =
        tol.exact ? 0.0 : tol.accumulate * ref.magnitude + tol.output * std::fabs(ref.value) + tol.floor;
    if (!std::isfinite(got) && std::isfinite(ref.value)) {
      // A finite exact value beyond the output dtype's range is stored by a
      // correct kernel as the infinity of its sign, as the reference itself
      // stores it (f16 with alpha 5000 and K 1024: -122766 is -inf); within
      // the allowed error of that range, either is right.
      const double reach = ref.value + std::copysign(allowed, ref.value);
      if (std::isinf(got) && std::signbit(got) == std::signbit(ref.value) &&
          std::isinf(numeric::rounded_as(p.c.dtype, reach)))
        continue;
      std::ostringstream msg;
      msg << where(p, at) << " is " << got << ", expected " << ref.value;
      return bad(Reason::non_finite_result, msg.str());
    }
    const double err = std::fabs(got - ref.value);
    if (tol.exact) {
      if (err != 0) {
        std::ostringstream msg;
        msg << where(p, at) << " is " << got << ", expected exactly " << ref.value;
        return bad(Reason::wrong_result, msg.str());
      }
      continue;
    }
    if (err > allowed) {
      std::ostringstream msg;
      msg.precision(9);
      msg << where(p, at) << " is " << got << ", expected " << ref.value << " (error " << err << " > allowed "
          << allowed << ")";
      return bad(Reason::wrong_result, msg.str());
    }
    worst = std::max(worst, err / std::max(ref.magnitude, tol.floor > 0 ? tol.floor : 1e-300));
    err2 += err * err;
    ref2 += ref.value * ref.value;
  }
  if (ref2 > 0 && std::sqrt(err2 / ref2) > tol.norm) {
    std::ostringstream msg;
    msg << "relative error norm " << std::sqrt(err2 / ref2) << " > " << tol.norm << " over "
        << sample.indices.size() << " elements";
    return bad(Reason::wrong_result, msg.str());
  }

  // A strided output has gaps the kernel must not touch.
  const std::int64_t elements = p.batch * p.m * p.n;
  const std::int64_t span = static_cast<std::int64_t>(set.c.bytes() / width);
  if (sample.full && span > elements) {
    std::vector<bool> is_element(static_cast<std::size_t>(span), false);
    for (std::int64_t off : sample.offsets) is_element[static_cast<std::size_t>(off)] = true;
    const auto* bytes = static_cast<const unsigned char*>(out.data());
    for (std::int64_t off = 0; off < span; ++off) {
      if (is_element[static_cast<std::size_t>(off)]) continue;
      for (std::size_t byte = 0; byte < width; ++byte) {
        if (bytes[static_cast<std::size_t>(off) * width + byte] != kPoisonByte)
          return bad(Reason::wrong_result, "wrote outside the output's elements (offset " + std::to_string(off) +
                                               " is a gap between strided rows or columns)");
      }
    }
  }
  return worst;
}

}  // namespace gemmtune::measure
