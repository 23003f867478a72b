#include "runtime/cuda/device_kernels.h"

namespace gemmtune::cuda {

// Compiled with --fmad=false so that the reference rounds exactly as the
// host reference does (a separate multiply and add at every step).
// DType codes: f32 0, f64 1, f16 2, bf16 3, i8 4, u8 5, i32 6, e4m3 7, e5m2 8.
// Activation: none 0, relu 1, gelu 2, silu 3. BiasKind: none 0, row 1, full 2.
// ScaleKind: none 0, per_tensor 1, per_channel 2.
const char* const kKernelSource = R"CUDA(
typedef long long i64;
typedef unsigned long long u64;

struct DeviceMatrix {
  i64 rows, cols, rs, cs, bs;
  const void* data;
  int dtype;
  int pad;
};

struct ReferenceParams {
  DeviceMatrix a, b, bias;
  i64 k;
  i64 count;
  double alpha, beta;
  const float* scale_a;
  const float* scale_b;
  const i64* indices;
  double* out;
  int integer;
  int bias_kind;
  int activation;
  int scale_a_kind;
  int scale_b_kind;
  int wide;
};

struct FillParams {
  DeviceMatrix bias;
  void* dst;
  i64 dst_rs, dst_cs, dst_bs;
  i64 batch, m, n;
  double scale;
  int dst_dtype;
  int row_bias;
};

struct FinishParams {
  DeviceMatrix src;
  void* dst;
  i64 dst_rs, dst_cs, dst_bs;
  i64 batch, m, n;
  int dst_dtype;
  int activation;
};

__device__ double nan_value() { return __longlong_as_double(0x7ff8000000000000LL); }
__device__ double inf_value() { return __longlong_as_double(0x7ff0000000000000LL); }

__device__ double f16_to_double(unsigned h) {
  unsigned sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  double v;
  if (exp == 0) v = ldexp((double)mant, -24);
  else if (exp == 31) v = mant ? nan_value() : inf_value();
  else v = ldexp((double)(mant | 0x400u), (int)exp - 25);
  return sign ? -v : v;
}

// OCP fp8: E4M3 (bias 7, no infinities, S.1111.111 is NaN) and E5M2 (bias 15).
__device__ double fp8_to_double(unsigned v, bool e4m3) {
  const int mant_bits = e4m3 ? 3 : 2, exp_bits = e4m3 ? 4 : 5, bias = e4m3 ? 7 : 15;
  unsigned sign = (v >> 7) & 1u;
  int exp = (int)((v >> mant_bits) & ((1u << exp_bits) - 1u));
  int mant = (int)(v & ((1u << mant_bits) - 1u));
  int exp_max = (1 << exp_bits) - 1;
  double out;
  if (e4m3 && exp == exp_max && mant == (1 << mant_bits) - 1) out = nan_value();
  else if (!e4m3 && exp == exp_max) out = mant ? nan_value() : inf_value();
  else if (exp == 0) out = ldexp((double)mant, 1 - bias - mant_bits);
  else out = ldexp(1.0 + (double)mant / (double)(1 << mant_bits), exp - bias);
  return sign ? -out : out;
}

__device__ double load(const void* data, int dtype, i64 index) {
  switch (dtype) {
    case 0: return (double)((const float*)data)[index];
    case 1: return ((const double*)data)[index];
    case 2: return f16_to_double(((const unsigned short*)data)[index]);
    case 3: return (double)__uint_as_float(((unsigned)((const unsigned short*)data)[index]) << 16);
    case 4: return (double)((const signed char*)data)[index];
    case 5: return (double)((const unsigned char*)data)[index];
    case 6: return (double)((const int*)data)[index];
    case 7: return fp8_to_double(((const unsigned char*)data)[index], true);
    case 8: return fp8_to_double(((const unsigned char*)data)[index], false);
  }
  return nan_value();
}

__device__ unsigned short float_to_bf16(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}

__device__ unsigned short float_to_f16(float f) {
  unsigned u = __float_as_uint(f);
  unsigned sign = (u >> 16) & 0x8000u;
  unsigned a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (unsigned short)(sign | 0x7e00u);
  if (a >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);
  if (a < 0x38800000u) {
    float q = rintf(__uint_as_float(a) * 16777216.0f);
    return (unsigned short)(sign | (unsigned)q);
  }
  unsigned mant = a & 0x7fffffu;
  unsigned exp = (a >> 23) - 127u + 15u;
  unsigned h = (exp << 10) | (mant >> 13);
  unsigned rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return (unsigned short)(sign | h);
}

// Integers round to nearest and wrap like a two's-complement cast, as the
// host's store_from_double does.
__device__ void store(void* data, int dtype, i64 index, double v) {
  switch (dtype) {
    case 0: ((float*)data)[index] = (float)v; return;
    case 1: ((double*)data)[index] = v; return;
    case 2: ((unsigned short*)data)[index] = float_to_f16((float)v); return;
    case 3: ((unsigned short*)data)[index] = float_to_bf16((float)v); return;
    case 4:
    case 5:
    case 6: {
      double r = rint(v);
      u64 wide = (u64)(i64)fmod(r, 18446744073709551616.0);
      if (dtype == 6) ((unsigned*)data)[index] = (unsigned)wide;
      else ((unsigned char*)data)[index] = (unsigned char)wide;
      return;
    }
  }
}

__device__ double activate(int act, double x) {
  switch (act) {
    case 1: return x < 0 ? 0.0 : x;  // keeps NaN
    case 2: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
    case 3: return x / (1.0 + exp(-x));
  }
  return x;
}

__device__ float activate_f(int act, float x) {
  switch (act) {
    case 1: return x < 0.0f ? 0.0f : x;  // keeps NaN
    case 2: return 0.5f * x * (1.0f + erff(x * 0.70710678f));
    case 3: return x / (1.0f + expf(-x));
  }
  return x;
}

__device__ double scale_value(int kind, const float* scales, i64 index) {
  if (kind == 1) return (double)scales[0];
  if (kind == 2) return (double)scales[index];
  return 1.0;
}

extern "C" __global__ void gemmtune_reference(ReferenceParams p) {
  const i64 s = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (s >= p.count) return;
  const i64 batch = p.indices[3 * s], i = p.indices[3 * s + 1], j = p.indices[3 * s + 2];
  const i64 a_base = batch * p.a.bs + i * p.a.rs;
  const i64 b_base = batch * p.b.bs + j * p.b.cs;
  double value, magnitude;
  if (p.integer) {
    i64 sum = 0;
    for (i64 kk = 0; kk < p.k; ++kk)
      sum += (i64)load(p.a.data, p.a.dtype, a_base + kk * p.a.cs) * (i64)load(p.b.data, p.b.dtype, b_base + kk * p.b.rs);
    const int wrapped = (int)(unsigned)(u64)sum;
    p.out[2 * s] = activate(p.activation, (double)wrapped);
    p.out[2 * s + 1] = fabs((double)wrapped);
    return;
  }
  double sum = 0, abs_sum = 0;
  // alpha = 0 (or K = 0) drops the product and beta = 0 the bias: not
  // evaluated, so NaN/Inf in them do not propagate (as on the host).
  const bool product = p.k > 0 && p.alpha != 0.0;
  if (!product) {
  } else if (p.wide) {
    // f64 inputs: products and sum carried as double-double (TwoProduct via
    // fma, TwoSum), about as exact as the host's long double.
    double hi = 0, lo = 0;
    for (i64 kk = 0; kk < p.k; ++kk) {
      const double a = load(p.a.data, p.a.dtype, a_base + kk * p.a.cs);
      const double b = load(p.b.data, p.b.dtype, b_base + kk * p.b.rs);
      const double prod = a * b;
      const double prod_err = fma(a, b, -prod);
      const double t = hi + prod;
      const double bb = t - hi;
      const double sum_err = (hi - (t - bb)) + (prod - bb);
      hi = t;
      lo += sum_err + prod_err;
      abs_sum += fabs(prod);
    }
    sum = hi + lo;
  } else {
    for (i64 kk = 0; kk < p.k; ++kk) {
      const double prod = load(p.a.data, p.a.dtype, a_base + kk * p.a.cs) *
                          load(p.b.data, p.b.dtype, b_base + kk * p.b.rs);
      sum += prod;
      abs_sum += fabs(prod);
    }
  }
  double scale = fabs(p.alpha);
  double signed_scale = p.alpha;
  if (p.scale_a_kind != 0 || p.scale_b_kind != 0) {
    const double sc = scale_value(p.scale_a_kind, p.scale_a, i) * scale_value(p.scale_b_kind, p.scale_b, j);
    signed_scale *= sc;
    scale *= fabs(sc);
  }
  double pre = product ? signed_scale * sum : 0.0;
  magnitude = product ? scale * abs_sum : 0.0;
  if (p.bias_kind != 0 && p.beta != 0.0) {
    const i64 row = p.bias_kind == 1 ? 0 : i;
    const double bias = load(p.bias.data, p.bias.dtype, batch * p.bias.bs + row * p.bias.rs + j * p.bias.cs);
    pre += p.beta * bias;
    magnitude += fabs(p.beta * bias);
  }
  value = activate(p.activation, pre);
  p.out[2 * s] = value;
  p.out[2 * s + 1] = p.activation == 0 ? magnitude : 1.13 * magnitude;
}

extern "C" __global__ void gemmtune_fill(FillParams p) {
  const i64 total = p.batch * p.m * p.n;
  const i64 plane = p.m * p.n;
  for (i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (i64)gridDim.x * blockDim.x) {
    const i64 b = t / plane, r = t - b * plane, i = r / p.n, j = r - i * p.n;
    double v = 0.0;
    if (p.bias.data) {
      const i64 row = p.row_bias ? 0 : i;
      v = p.scale * load(p.bias.data, p.bias.dtype, b * p.bias.bs + row * p.bias.rs + j * p.bias.cs);
    }
    store(p.dst, p.dst_dtype, b * p.dst_bs + i * p.dst_rs + j * p.dst_cs, v);
  }
}

extern "C" __global__ void gemmtune_finish(FinishParams p) {
  const i64 total = p.batch * p.m * p.n;
  const i64 plane = p.m * p.n;
  // Single precision is plenty for 16- and 32-bit float outputs; f64 and
  // integers keep double so no value is rounded on the way.
  const bool wide = p.dst_dtype == 1 || p.src.dtype == 1 || p.src.dtype >= 4;
  for (i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (i64)gridDim.x * blockDim.x) {
    const i64 b = t / plane, r = t - b * plane, i = r / p.n, j = r - i * p.n;
    const double x = load(p.src.data, p.src.dtype, b * p.src.bs + i * p.src.rs + j * p.src.cs);
    const double y = wide ? activate(p.activation, x) : (double)activate_f(p.activation, (float)x);
    store(p.dst, p.dst_dtype, b * p.dst_bs + i * p.dst_rs + j * p.dst_cs, y);
  }
}
)CUDA";

}  // namespace gemmtune::cuda
