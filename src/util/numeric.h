// Scalar conversions between the storage dtypes and float/double, all
// round-to-nearest-even. Used by the reference, input generation, .npy
// conversion and the CPU backends' edge paths (hot loops use SIMD instead).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "gemmtune/types.h"

namespace gemmtune::numeric {

inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// bf16: the top 16 bits of an f32.
inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
inline float bf16_to_float(std::uint16_t h) { return bits_float(static_cast<std::uint32_t>(h) << 16); }

// IEEE binary16.
inline std::uint16_t float_to_f16(float f) {
  std::uint32_t u = float_bits(f);
  std::uint32_t sign = (u >> 16) & 0x8000u;
  std::uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);   // NaN
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {  // subnormal or zero in f16: scale to an integer count of 2^-24
    float a = bits_float(abs);
    float q = std::nearbyint(a * 16777216.0f);  // exact: a < 2^-14, product < 2^10
    return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(q));
  }
  std::uint32_t mant = abs & 0x7fffffu;
  std::uint32_t exp = (abs >> 23) - 127 + 15;
  std::uint32_t h = (exp << 10) | (mant >> 13);
  std::uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into exponent: fine
  return static_cast<std::uint16_t>(sign | h);
}
inline float f16_to_float(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    float v = static_cast<float>(mant) / 16777216.0f;  // mant * 2^-24
    return sign ? -v : v;
  }
  if (exp == 31) return bits_float(sign | 0x7f800000u | (mant << 13));
  return bits_float(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

// OCP fp8. E4M3 ("fn"): bias 7, no infinities, 0x7f/0xff are NaN, max 448.
// E5M2: bias 15, IEEE-like with infinities, max 57344.
// float -> fp8 saturates finite values to the largest finite value.
struct Fp8Format {
  int exp_bits, mant_bits, bias;
  float max_finite;
  bool has_inf;
};
inline constexpr Fp8Format kE4M3{4, 3, 7, 448.0f, false};
inline constexpr Fp8Format kE5M2{5, 2, 15, 57344.0f, true};

inline float fp8_to_float(std::uint8_t v, const Fp8Format& fmt) {
  int sign = v >> 7;
  int exp = (v >> fmt.mant_bits) & ((1 << fmt.exp_bits) - 1);
  int mant = v & ((1 << fmt.mant_bits) - 1);
  int exp_max = (1 << fmt.exp_bits) - 1;
  float out;
  if (!fmt.has_inf && exp == exp_max && mant == (1 << fmt.mant_bits) - 1) {
    out = NAN;
  } else if (fmt.has_inf && exp == exp_max) {
    out = mant ? NAN : INFINITY;
  } else if (exp == 0) {
    out = std::ldexp(static_cast<float>(mant), 1 - fmt.bias - fmt.mant_bits);
  } else {
    out = std::ldexp(1.0f + static_cast<float>(mant) / (1 << fmt.mant_bits), exp - fmt.bias);
  }
  return sign ? -out : out;
}

inline std::uint8_t float_to_fp8(float f, const Fp8Format& fmt) {
  std::uint8_t sign = std::signbit(f) ? 0x80 : 0;
  if (std::isnan(f)) return fmt.has_inf ? 0x7f : 0x7f;  // canonical NaN (both formats)
  float a = std::fabs(f);
  if (a >= fmt.max_finite) a = fmt.max_finite;  // saturate (also infinities)
  // Smallest normal exponent is 1 - bias; below it the quantum is fixed.
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int exp_unbiased = e - 1;
  int min_exp = 1 - fmt.bias;
  if (exp_unbiased < min_exp) exp_unbiased = min_exp;
  float quantum = std::ldexp(1.0f, exp_unbiased - fmt.mant_bits);
  float q = std::nearbyint(a / quantum) * quantum;  // ties to even (default rounding mode)
  if (q > fmt.max_finite) q = fmt.max_finite;
  if (q == 0.0f) return sign;
  int qe;
  float qm = std::frexp(q, &qe);
  int biased = qe - 1 + fmt.bias;
  std::uint8_t code;
  if (biased <= 0) {  // subnormal
    int mant = static_cast<int>(std::lround(q / std::ldexp(1.0f, min_exp - fmt.mant_bits)));
    code = static_cast<std::uint8_t>(mant);
  } else {
    int mant = static_cast<int>(std::lround((qm * 2.0f - 1.0f) * (1 << fmt.mant_bits)));
    code = static_cast<std::uint8_t>((biased << fmt.mant_bits) | mant);
  }
  return static_cast<std::uint8_t>(sign | code);
}

// Reads element `index` of a buffer of the given dtype as a double.
inline double load_as_double(const void* data, DType dtype, std::int64_t index) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(data)[index];
    case DType::f64: return static_cast<const double*>(data)[index];
    case DType::f16: return f16_to_float(static_cast<const std::uint16_t*>(data)[index]);
    case DType::bf16: return bf16_to_float(static_cast<const std::uint16_t*>(data)[index]);
    case DType::i8: return static_cast<const std::int8_t*>(data)[index];
    case DType::u8: return static_cast<const std::uint8_t*>(data)[index];
    case DType::i32: return static_cast<const std::int32_t*>(data)[index];
    case DType::f8e4m3: return fp8_to_float(static_cast<const std::uint8_t*>(data)[index], kE4M3);
    case DType::f8e5m2: return fp8_to_float(static_cast<const std::uint8_t*>(data)[index], kE5M2);
  }
  return 0;
}

// Stores a double into element `index`, rounding to the dtype. Integers
// round to nearest and wrap modulo 2^bits like a two's-complement cast.
inline void store_from_double(void* data, DType dtype, std::int64_t index, double v) {
  switch (dtype) {
    case DType::f32: static_cast<float*>(data)[index] = static_cast<float>(v); return;
    case DType::f64: static_cast<double*>(data)[index] = v; return;
    case DType::f16:
      static_cast<std::uint16_t*>(data)[index] = float_to_f16(static_cast<float>(v));
      return;
    case DType::bf16:
      static_cast<std::uint16_t*>(data)[index] = float_to_bf16(static_cast<float>(v));
      return;
    case DType::i8:
    case DType::u8:
    case DType::i32: {
      double r = std::nearbyint(v);
      auto wide = static_cast<std::uint64_t>(static_cast<std::int64_t>(std::fmod(r, 18446744073709551616.0)));
      if (dtype == DType::i32) static_cast<std::uint32_t*>(data)[index] = static_cast<std::uint32_t>(wide);
      else static_cast<std::uint8_t*>(data)[index] = static_cast<std::uint8_t>(wide);
      return;
    }
    case DType::f8e4m3:
      static_cast<std::uint8_t*>(data)[index] = float_to_fp8(static_cast<float>(v), kE4M3);
      return;
    case DType::f8e5m2:
      static_cast<std::uint8_t*>(data)[index] = float_to_fp8(static_cast<float>(v), kE5M2);
      return;
  }
}

// `v` as an element of `dtype` holds it: rounded to nearest, an infinity
// past a float dtype's range (fp8 saturates instead).
inline double rounded_as(DType dtype, double v) {
  alignas(8) unsigned char cell[8] = {};
  store_from_double(cell, dtype, 0, v);
  return load_as_double(cell, dtype, 0);
}

// Activations in double precision: the reference's definitions.
inline double activate(Activation act, double x) {
  switch (act) {
    case Activation::none: return x;
    case Activation::relu: return x < 0 ? 0.0 : x;  // keeps NaN, as PyTorch does
    // The gelus without the cancellation of 1 + erf(u) and 1 + tanh(u) for
    // negative u: 1 + erf(u) = erfc(-u); 0.5 x (1 + tanh(u)) = x / (1 + e^-2u).
    case Activation::gelu: return 0.5 * x * std::erfc(x * -0.70710678118654752440);
    case Activation::silu: return x / (1.0 + std::exp(-x));
    case Activation::gelu_tanh: return x / (1.0 + std::exp(-1.5957691216057307118 * (x + 0.044715 * x * x * x)));
  }
  return x;
}

}  // namespace gemmtune::numeric
