// Device code shared by the CUDA backend's template families: plain types,
// conversions between f32 and the 16-bit float formats, and the fused
// epilogue every family applies to its f32 accumulators before the one store
// of C (no extra pass over C).
//
// Compiled by NVRTC (no CUDA headers) and by nvcc for checks. The epilogue is
// configured by macros the host sets per kernel (-D...); the defaults here
// only make the file compile on its own:
//   GT_BF16      1: bf16 inputs, 0: f16
//   GT_OUT_F32   1: C is f32, 0: C has the input dtype
//   GT_BIAS      0: none, 1: row bias (one value per column n), 2: full m x n
//   GT_BIAS_F32  1: the bias is f32, 0: it has the input dtype
//   GT_ACT       0: none, 1: relu, 2: gelu (erf), 3: silu, 4: gelu_tanh
#pragma once

#ifndef GT_BF16
#define GT_BF16 1
#endif
#ifndef GT_OUT_F32
#define GT_OUT_F32 0
#endif
#ifndef GT_BIAS
#define GT_BIAS 0
#endif
#ifndef GT_BIAS_F32
#define GT_BIAS_F32 0
#endif
#ifndef GT_ACT
#define GT_ACT 0
#endif

typedef unsigned short gt_u16;
typedef unsigned int gt_u32;
typedef long long gt_i64;
typedef unsigned long long gt_u64;

// Where and how C is written; the layout is mirrored on the host
// (framework/epilogue_params.h) and checked there with static_asserts.
struct GtEpilogue {
  void* c;
  const void* bias;
  gt_i64 c_rs, c_cs, c_bs;           // elements between rows, columns, batches of C
  gt_i64 bias_rs, bias_cs, bias_bs;  // the same for the bias (row bias: bias_rs = 0)
  float alpha, beta;
  int m, n;
  int pair_store;  // 1: C's columns are contiguous and every even column 2-element aligned
  int vec_store;   // 1: C's columns are contiguous and every 8th column 16-byte aligned
};

__device__ __forceinline__ float gt_to_float(gt_u16 h) {
#if GT_BF16
  return __uint_as_float(((gt_u32)h) << 16);
#else
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
#endif
}

// Two floats rounded to nearest-even into one word (lo in the low half).
__device__ __forceinline__ gt_u32 gt_pack2(float lo, float hi) {
  gt_u32 r;
#if GT_BF16
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#else
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#endif
  return r;
}

__device__ __forceinline__ gt_u16 gt_round(float v) { return (gt_u16)(gt_pack2(v, 0.f) & 0xffffu); }

// PyTorch's definitions; relu keeps NaN (NaN < 0 is false). gelu is
// PyTorch's own float formula, 0.5 v (1 + erf(v / sqrt 2)): erff costs
// about half of erfcf's instructions (35 against 80 in PTX), and the fused
// epilogue is instruction-bound (NOTES.md, round 5). Its cancellation for
// negative v costs relative precision only where |gelu(v)| < 5e-3 |v|
// (~2e-5 of it at v = -3), far inside the verification's accumulation
// term there. gelu_tanh avoids 1 + tanh(u)'s: v / (1 + exp(-2u)).
__device__ __forceinline__ float gt_activate(float v) {
#if GT_ACT == 1
  return v < 0.f ? 0.f : v;
#elif GT_ACT == 2
  return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
#elif GT_ACT == 3
  return v / (1.f + expf(-v));
#elif GT_ACT == 4
  return v / (1.f + expf(-1.5957691216057307f * (v + 0.044715f * v * v * v)));
#else
  return v;
#endif
}

#if GT_BIAS
__device__ __forceinline__ float gt_bias(const GtEpilogue& e, gt_i64 batch, int m, int n) {
  const gt_i64 at = batch * e.bias_bs + (gt_i64)m * e.bias_rs + (gt_i64)n * e.bias_cs;
#if GT_BIAS_F32
  return __ldg((const float*)e.bias + at);
#else
  return gt_to_float(__ldg((const gt_u16*)e.bias + at));
#endif
}
#endif

// beta * bias(m, n) and beta * bias(m, n + 1) of one batch: zero without a
// bias, with beta = 0 (NaN/Inf in the bias do not propagate, as in BLAS and
// PyTorch) and outside the m x n output (nothing is read there).
struct GtBias2 {
  float b0, b1;
};

__device__ __forceinline__ GtBias2 gt_bias_pair(const GtEpilogue& e, gt_i64 batch, int m, int n) {
  GtBias2 b{0.f, 0.f};
#if GT_BIAS
  if (e.beta != 0.f && m < e.m && n < e.n) {
    b.b0 = e.beta * gt_bias(e, batch, m, n);
    if (n + 1 < e.n) b.b1 = e.beta * gt_bias(e, batch, m, n + 1);
  }
#endif
  return b;
}

// beta * bias(m, n + i) for i < cols (at most 8) of one batch, zero for the
// rest, without a bias and with beta = 0 (as gt_bias_pair). Contiguous,
// 16-byte aligned bias rows are read with vector loads.
__device__ __forceinline__ void gt_bias8(const GtEpilogue& e, gt_i64 batch, int m, int n, int cols, float (&b)[8]) {
#pragma unroll
  for (int i = 0; i < 8; ++i) b[i] = 0.f;
#if GT_BIAS
  if (e.beta == 0.f) return;
  const gt_i64 at = batch * e.bias_bs + (gt_i64)m * e.bias_rs + (gt_i64)n * e.bias_cs;
#if GT_BIAS_F32
  const float* src = (const float*)e.bias + at;
  if (cols == 8 && e.bias_cs == 1 && ((unsigned long long)src & 15) == 0) {
    const float4 lo = __ldg((const float4*)src);
    const float4 hi = __ldg((const float4*)src + 1);
    const float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
    for (int i = 0; i < 8; ++i) b[i] = e.beta * v[i];
    return;
  }
#pragma unroll
  for (int i = 0; i < 8; ++i)
    if (i < cols) b[i] = e.beta * __ldg(src + i * e.bias_cs);
#else
  const gt_u16* src = (const gt_u16*)e.bias + at;
  if (cols == 8 && e.bias_cs == 1 && ((unsigned long long)src & 15) == 0) {
    const uint4 w = __ldg((const uint4*)src);
    const gt_u32 words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      b[2 * i] = e.beta * gt_to_float((gt_u16)(words[i] & 0xffffu));
      b[2 * i + 1] = e.beta * gt_to_float((gt_u16)(words[i] >> 16));
    }
    return;
  }
#pragma unroll
  for (int i = 0; i < 8; ++i)
    if (i < cols) b[i] = e.beta * gt_to_float(__ldg(src + i * e.bias_cs));
#endif
#endif
}

// Whether the bias is one value per column (the same for every row), so
// that one gt_bias_pair serves every row of a column pair.
__device__ __forceinline__ bool gt_row_bias(const GtEpilogue& e) { return e.bias_rs == 0; }

// C(m, n) = act(alpha * acc + beta * bias) with beta * bias given. A zero
// alpha ignores the product (NaN/Inf in A and B do not propagate).
__device__ __forceinline__ float gt_epilogue_value(const GtEpilogue& e, float acc, float scaled_bias) {
  const float x = (e.alpha == 0.f ? 0.f : e.alpha * acc) + scaled_bias;
  return gt_activate(x);
}

// Stores C(m, n) and C(m, n + 1) (n even) of one batch, with
// b = gt_bias_pair(e, batch, m, n), skipping what lies outside the m x n
// output.
__device__ __forceinline__ void gt_store_pair_biased(const GtEpilogue& e, gt_i64 batch, int m, int n, float a0,
                                                     float a1, GtBias2 b) {
  if (m >= e.m || n >= e.n) return;
  const bool both = n + 1 < e.n;
  const float v0 = gt_epilogue_value(e, a0, b.b0);
  const float v1 = both ? gt_epilogue_value(e, a1, b.b1) : 0.f;
  const gt_i64 at = batch * e.c_bs + (gt_i64)m * e.c_rs + (gt_i64)n * e.c_cs;
#if GT_OUT_F32
  float* c = (float*)e.c + at;
  if (both && e.pair_store) {
    *(float2*)c = make_float2(v0, v1);
  } else {
    c[0] = v0;
    if (both) c[e.c_cs] = v1;
  }
#else
  gt_u16* c = (gt_u16*)e.c + at;
  if (both && e.pair_store) {
    *(gt_u32*)c = gt_pack2(v0, v1);
  } else {
    c[0] = gt_round(v0);
    if (both) c[e.c_cs] = gt_round(v1);
  }
#endif
}

__device__ __forceinline__ void gt_store_pair(const GtEpilogue& e, gt_i64 batch, int m, int n, float a0, float a1) {
  gt_store_pair_biased(e, batch, m, n, a0, a1, gt_bias_pair(e, batch, m, n));
}

__device__ __forceinline__ gt_u32 gt_smem_addr(const void* p) { return (gt_u32)__cvta_generic_to_shared(p); }

// Stores C(m, n) alone (families whose fragments do not pair columns).
__device__ __forceinline__ void gt_store_one(const GtEpilogue& e, gt_i64 batch, int m, int n, float a) {
  if (m >= e.m || n >= e.n) return;
  const float v = gt_epilogue_value(e, a, gt_bias_pair(e, batch, m, n).b0);
  const gt_i64 at = batch * e.c_bs + (gt_i64)m * e.c_rs + (gt_i64)n * e.c_cs;
#if GT_OUT_F32
  ((float*)e.c)[at] = v;
#else
  ((gt_u16*)e.c)[at] = gt_round(v);
#endif
}
