#include "runtime/cuda/device_kernels.h"

namespace gemmtune::cuda {

namespace {

// The activations as every GPU program of the runtime computes them (the
// reference in double, the epilogue pass in float or double), the same
// formulas as numeric::activate on the host; prepended to both sources.
const char* const kActivationSource = R"CUDA(
// relu keeps NaN (x < 0 is false for it); gelu is the exact erf form. T is
// float (erfc and exp resolve to erfcf and expf) or double. The gelus are
// written without the cancellation of 1 + erf(u) and 1 + tanh(u) for
// negative u (a float 1 + erf(-2.12) keeps ~2e-5 of relative precision):
// 1 + erf(u) = erfc(-u), and 0.5 * x * (1 + tanh(u)) = x / (1 + exp(-2u)).
template <int ACT, class T> __device__ __forceinline__ T activate(T x) {
  const T half = T(0.5), one = T(1);
  if constexpr (ACT == 1) return x < T(0) ? T(0) : x;
  else if constexpr (ACT == 2) return half * x * erfc(x * T(-0.70710678118654752440));
  else if constexpr (ACT == 3) return x / (one + exp(-x));
  else if constexpr (ACT == 4) return x / (one + exp(T(-1.5957691216057307118) * (x + T(0.044715) * x * x * x)));
  else return x;
}
template <int ACT> __device__ __forceinline__ int activate(int x) {
  if constexpr (ACT == 1) return x < 0 ? 0 : x;
  else return x;
}
)CUDA";

}  // namespace

// Compiled with --fmad=false so that the reference rounds exactly as the
// host reference does (a separate multiply and add at every step).
// DType codes: f32 0, f64 1, f16 2, bf16 3, i8 4, u8 5, i32 6, e4m3 7, e5m2 8.
// Activation: none 0, relu 1, gelu 2, silu 3, gelu_tanh 4. BiasKind: none 0, row 1, full 2.
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

struct GatherParams {
  const unsigned char* src;
  const i64* offsets;
  unsigned char* out;
  i64 count;
  int width;
  int pad;
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

__device__ double activate(int act, double x) {
  switch (act) {
    case 1: return activate<1>(x);
    case 2: return activate<2>(x);
    case 3: return activate<3>(x);
    case 4: return activate<4>(x);
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

// Byte by byte: no alignment is assumed of src (a caller's tensor).
extern "C" __global__ void gemmtune_gather(GatherParams p) {
  const i64 s = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (s >= p.count) return;
  const unsigned char* from = p.src + p.offsets[s] * p.width;
  unsigned char* to = p.out + s * p.width;
  for (int b = 0; b < p.width; ++b) to[b] = from[b];
}
)CUDA";

}  // namespace gemmtune::cuda

namespace gemmtune::cuda {

// One elementwise pass, templated on the output, input and bias dtypes and
// the activation (codes as above), instantiated as extern "C" kernels by
// epilogue_pass.cpp (only the ones a problem needs are compiled):
//   dst = act(src + beta * bias), rounded once to dst's dtype,
// over (batch, outer row, inner element), where the inner axis is the one
// with unit stride in dst. A null src means no product (the value is 0), a
// null bias no bias. Each thread owns one 16-byte vector of dst (or one
// element when the host found the strides or alignment unfit) at a fixed
// inner position and walks rows and batches: no division anywhere, the
// bias vector of a broadcast row bias is loaded once. Arithmetic in f32 for
// 16- and 32-bit floats, f64 for f64, int for i32.
const char* const kEpilogueSource = R"CUDA(
typedef long long i64;

struct EpilogueParams {
  const void* src;
  const void* bias;
  void* dst;
  i64 src_os, src_is, src_bs;
  i64 bias_os, bias_is, bias_bs;
  i64 dst_os, dst_is, dst_bs;
  i64 batch, outer, inner;
  double beta;
  int vector;
  int pad;
};

// Element types by DType code: storage S, arithmetic C, conversions.
template <class T> struct Plain {
  typedef T S;
  typedef T C;
  static __device__ __forceinline__ C load(S v) { return v; }
  static __device__ __forceinline__ S store(C v) { return v; }
};
template <int DT> struct Elem;
template <> struct Elem<0> : Plain<float> {};
template <> struct Elem<1> : Plain<double> {};
template <> struct Elem<6> : Plain<int> {};
template <> struct Elem<2> {
  typedef unsigned short S;
  typedef float C;
  static __device__ __forceinline__ C load(S v) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v));
    return f;
  }
  static __device__ __forceinline__ S store(C v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
  }
};
template <> struct Elem<3> {
  typedef unsigned short S;
  typedef float C;
  static __device__ __forceinline__ C load(S v) { return __uint_as_float((unsigned)v << 16); }
  static __device__ __forceinline__ S store(C v) {
#if __CUDA_ARCH__ >= 800
    unsigned short h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
#else
    unsigned u = __float_as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
#endif
  }
};

// V elements of dtype DT at base[index] (16-byte aligned), as C.
template <int DT, int V, class C>
__device__ __forceinline__ void load_vector(const void* base, i64 index, C (&out)[V]) {
  typedef typename Elem<DT>::S S;
  constexpr int kWords = (int)(V * sizeof(S) / 16);
  union {
    uint4 w[kWords];
    S s[V];
  } u;
  const uint4* p = reinterpret_cast<const uint4*>(static_cast<const S*>(base) + index);
#pragma unroll
  for (int k = 0; k < kWords; ++k) u.w[k] = p[k];
#pragma unroll
  for (int e = 0; e < V; ++e) out[e] = (C)Elem<DT>::load(u.s[e]);
}

template <int DT, int V, class C>
__device__ __forceinline__ void store_vector(void* base, i64 index, const C (&in)[V]) {
  typedef typename Elem<DT>::S S;
  constexpr int kWords = (int)(V * sizeof(S) / 16);
  union {
    uint4 w[kWords];
    S s[V];
  } u;
#pragma unroll
  for (int e = 0; e < V; ++e) u.s[e] = Elem<DT>::store(in[e]);
  uint4* p = reinterpret_cast<uint4*>(static_cast<S*>(base) + index);
#pragma unroll
  for (int k = 0; k < kWords; ++k) p[k] = u.w[k];
}

template <int DT, class C>
__device__ __forceinline__ C load_one(const void* base, i64 index) {
  return (C)Elem<DT>::load(static_cast<const typename Elem<DT>::S*>(base)[index]);
}

// beta * the bias of one whole vector: V values along the inner axis, or
// one value for all of them (inner stride 0).
template <int BIAS, int V, class C>
__device__ __forceinline__ void bias_vector(const EpilogueParams& p, i64 index, C beta, C (&out)[V]) {
  if (p.bias_is == 1) {
    load_vector<BIAS, V>(p.bias, index, out);
  } else {
    const C one = load_one<BIAS, C>(p.bias, index);
#pragma unroll
    for (int e = 0; e < V; ++e) out[e] = one;
  }
#pragma unroll
  for (int e = 0; e < V; ++e) out[e] = beta * out[e];
}

template <int OUT, int IN, int BIAS, int ACT>
__device__ __forceinline__ void epilogue(const EpilogueParams& p) {
  typedef typename Elem<OUT>::C C;
  constexpr int V = (int)(16 / sizeof(typename Elem<OUT>::S));
  const i64 lane = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  const i64 start = p.vector ? lane * V : lane;
  if (start >= p.inner) return;
  const bool whole = p.vector && start + V <= p.inner;
  const int count = p.vector ? (int)(whole ? V : p.inner - start) : 1;
  const i64 first_row = (i64)blockIdx.y * blockDim.y + threadIdx.y;
  const i64 row_step = (i64)gridDim.y * blockDim.y;
  const C beta = (C)p.beta;
  // A bias that is the same for every row (a row bias along the inner axis)
  // is read once per batch into registers (whole vectors only: the arrays
  // are indexed by constants, so they stay in registers).
  const bool shared_bias = p.bias != nullptr && p.bias_os == 0;
  for (i64 b = blockIdx.z; b < p.batch; b += gridDim.z) {
    const i64 src0 = b * p.src_bs + start * p.src_is;
    const i64 bias0 = b * p.bias_bs + start * p.bias_is;
    const i64 dst0 = b * p.dst_bs + start * p.dst_is;
    C row_bias[V];
    if (whole && shared_bias) bias_vector<BIAS, V>(p, bias0, beta, row_bias);
    for (i64 o = first_row; o < p.outer; o += row_step) {
      if (whole) {
        C x[V];
        if (p.src != nullptr) {
          load_vector<IN, V>(p.src, src0 + o * p.src_os, x);
        } else {
#pragma unroll
          for (int e = 0; e < V; ++e) x[e] = (C)0;
        }
        if (p.bias != nullptr) {
          if (!shared_bias) bias_vector<BIAS, V>(p, bias0 + o * p.bias_os, beta, row_bias);
#pragma unroll
          for (int e = 0; e < V; ++e) x[e] += row_bias[e];
        }
#pragma unroll
        for (int e = 0; e < V; ++e) x[e] = activate<ACT>(x[e]);
        store_vector<OUT, V>(p.dst, dst0 + o * p.dst_os, x);
      } else {
        for (int e = 0; e < count; ++e) {
          C x = p.src != nullptr ? load_one<IN, C>(p.src, src0 + o * p.src_os + e * p.src_is) : (C)0;
          if (p.bias != nullptr) x += beta * load_one<BIAS, C>(p.bias, bias0 + o * p.bias_os + e * p.bias_is);
          static_cast<typename Elem<OUT>::S*>(p.dst)[dst0 + o * p.dst_os + e * p.dst_is] =
              Elem<OUT>::store(activate<ACT>(x));
        }
      }
    }
  }
}
)CUDA";

std::string reference_kernel_source() { return std::string(kActivationSource) + kKernelSource; }

std::string epilogue_template_source() { return std::string(kActivationSource) + kEpilogueSource; }

}  // namespace gemmtune::cuda
