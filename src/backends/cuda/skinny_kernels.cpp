#include "backends/cuda/skinny_kernels.h"

#include <cstdint>
#include <cstdio>
#include <set>
#include <sstream>
#include <vector>

namespace gemmtune::backends::cuda_skinny {
namespace {

// Why the kernels look like this: with M <= 32 the GEMM is a stream over B
// (2 bytes per multiply-add per row of A), so the work is to keep enough
// 16-byte loads of B in flight, each used once, and to multiply on tensor
// cores (mma.sync m16n8k16, A = the few rows of x, B = the weights). A sum
// over K may visit K in any order as long as both operands agree, so each
// thread loads 16 contiguous bytes and the fragments take them as a
// permutation of K (k_major); for n_major B, four rows of 8 columns are
// paired with byte permutes into the fragments' (k, k+1) pairs, and the
// columns come out permuted, which only changes where results are stored.
// The warps of a CTA split its K range and add through shared memory;
// split_k > 1 adds across CTAs with f32 atomics, and the last CTA of a
// column block writes C and leaves the scratch zero again.
const char* kSource = R"CUDA(
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;

struct SkinnyParams {
  const void* a; const void* b; void* c; const void* bias;
  float* work; unsigned* tickets;
  i64 lda, ldb, c_rs, c_cs, bias_stride;
  float alpha, beta;
  int m, n, k, k_per_split, activation, out_f32, bias_f32;
};

struct V4 { u32 x, y, z, w; };

// B: used once, so not kept in L1; L2 fetches the whole 256-byte block (the
// neighbouring warps read the rest of it next).
__device__ __forceinline__ V4 load_stream(const u16* p) {
  V4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}
__device__ __forceinline__ V4 load_keep(const u16* p) {  // A: read by every warp
  V4 v;
  asm volatile("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}
__device__ __forceinline__ u32 pack2(u16 lo, u16 hi) { return (u32)lo | ((u32)hi << 16); }
// 8 consecutive elements starting at p, zero past `valid` (0..8); any alignment.
__device__ __forceinline__ V4 load_guarded(const u16* p, int valid) {
  u16 e[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) e[i] = i < valid ? p[i] : (u16)0;
  V4 v;
  v.x = pack2(e[0], e[1]); v.y = pack2(e[2], e[3]); v.z = pack2(e[4], e[5]); v.w = pack2(e[6], e[7]);
  return v;
}
// 8 elements at p of which `valid` exist (<= 0: none, all zeros): one
// 16-byte load when all 8 do, else element by element.
template <bool STREAM>
__device__ __forceinline__ V4 load8(const u16* p, int valid) {
  if (valid <= 0) return V4{0, 0, 0, 0};
  if (valid < 8) return load_guarded(p, valid);
  return STREAM ? load_stream(p) : load_keep(p);
}
__device__ __forceinline__ u32 word(const V4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

template <bool BF16>
__device__ __forceinline__ void mma(float* d, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1) {
  if (BF16)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

template <bool BF16>
__device__ __forceinline__ float to_float(u16 h) {
  if (BF16) return __uint_as_float(((u32)h) << 16);
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
template <bool BF16>
__device__ __forceinline__ u16 from_float(float f) {
  u16 h;
  if (BF16) asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  else asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}

// C[m][n] = act(alpha * sum + beta * bias[n])
template <bool BF16>
__device__ __forceinline__ void store(const SkinnyParams& p, int m, int n, float sum) {
  float v = p.alpha * sum;
  if (p.bias) {
    const float b = p.bias_f32 ? ((const float*)p.bias)[n * p.bias_stride]
                               : to_float<BF16>(((const u16*)p.bias)[n * p.bias_stride]);
    v += p.beta * b;
  }
  if (p.activation == 1) v = v > 0.f ? v : 0.f;
  else if (p.activation == 2) v = 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
  else if (p.activation == 3) v = v / (1.f + expf(-v));
  else if (p.activation == 4) v = 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  const i64 at = m * p.c_rs + n * p.c_cs;
  if (p.out_f32) ((float*)p.c)[at] = v;
  else ((u16*)p.c)[at] = from_float<BF16>(v);
}

template <int MT, int NT>
__device__ __forceinline__ void zero(float (&acc)[MT][NT][4]) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int t = 0; t < NT; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mt][t][e] = 0.f;
}

// Adds the CTA's warps, then writes C (or, split across CTAs, adds into the
// scratch and lets the last CTA of the column block write C). `col(t, e)`
// maps fragment (tile t, register e) of lane `lane` to its column.
template <bool BF16, int MT, int NT, int WARPS, typename Col>
__device__ __forceinline__ void finish(const SkinnyParams& p, float (&acc)[MT][NT][4], Col col) {
  constexpr int ACC = MT * NT * 4;
  __shared__ float red[WARPS > 1 ? WARPS - 1 : 1][ACC][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (WARPS > 1) {
    if (warp > 0) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int t = 0; t < NT; ++t)
#pragma unroll
          for (int e = 0; e < 4; ++e) red[warp - 1][(mt * NT + t) * 4 + e][lane] = acc[mt][t][e];
    }
    __syncthreads();
    if (warp > 0) return;
#pragma unroll
    for (int w = 0; w < WARPS - 1; ++w)
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int t = 0; t < NT; ++t)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[mt][t][e] += red[w][(mt * NT + t) * 4 + e][lane];
  }
  const int r = lane >> 2;
  const bool split = gridDim.y > 1;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int t = 0; t < NT; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = mt * 16 + r + (e >= 2 ? 8 : 0), n = col(t, e);
        if (m < p.m && n < p.n) {
          if (split) atomicAdd(p.work + (i64)m * p.n + n, acc[mt][t][e]);
          else store<BF16>(p, m, n, acc[mt][t][e]);
        }
      }
  if (!split) return;
  __threadfence();
  __syncwarp();
  unsigned ticket = 0;
  if (lane == 0) ticket = atomicAdd(p.tickets + blockIdx.x, 1u);
  ticket = __shfl_sync(0xffffffffu, ticket, 0);
  if (ticket != gridDim.y - 1) return;
  __threadfence();
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int t = 0; t < NT; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = mt * 16 + r + (e >= 2 ? 8 : 0), n = col(t, e);
        if (m < p.m && n < p.n) {
          float* w = p.work + (i64)m * p.n + n;
          store<BF16>(p, m, n, __ldcg(w));
          __stcg(w, 0.f);
        }
      }
  if (lane == 0) p.tickets[blockIdx.x] = 0;
}

// A fragment rows for 16 K positions, as 4 words per m-tile (rows r, r+8).
// k_major: thread (r, q) holds k0+8q..k0+8q+7 of its rows (two MMAs' worth).
template <bool BF16, int MT, int NT, int WARPS, int U>
__device__ void skinny_k_major(const SkinnyParams& p) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int r = lane >> 2, q = lane & 3;
  const int n0 = blockIdx.x * (8 * NT);
  const int kbeg = blockIdx.y * p.k_per_split;
  const int kend = min(p.k, kbeg + p.k_per_split);
  const u16* A = (const u16*)p.a;
  const u16* B = (const u16*)p.b;
  float acc[MT][NT][4];
  zero(acc);

  for (int base = kbeg + warp * U * 32; base < kend; base += WARPS * U * 32) {
    V4 bw[U][NT];
    V4 aw[U][MT][2];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int k = base + u * 32 + 8 * q;
      const int valid = kend - k;
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        const int n = n0 + 8 * t + r;
        bw[u][t] = load8<true>(B + (i64)n * p.ldb + k, n < p.n ? valid : 0);
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int m = mt * 16 + r + 8 * h;
          aw[u][mt][h] = load8<false>(A + (i64)m * p.lda + k, m < p.m ? valid : 0);
        }
    }
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int s = 0; s < 2; ++s)  // two MMAs over the 32 K positions of a step
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int t = 0; t < NT; ++t)
            mma<BF16>(acc[mt][t], word(aw[u][mt][0], 2 * s), word(aw[u][mt][1], 2 * s), word(aw[u][mt][0], 2 * s + 1),
                      word(aw[u][mt][1], 2 * s + 1), word(bw[u][t], 2 * s), word(bw[u][t], 2 * s + 1));
  }
  finish<BF16, MT, NT, WARPS>(p, acc, [&](int t, int e) { return n0 + 8 * t + 2 * q + (e & 1); });
}

// n_major: thread (r, q) loads rows k0+4q..k0+4q+3 of columns n0+8r..n0+8r+7;
// pairs (k, k+1) of one column become a B fragment register, so register
// j of the MMA for tile e covers column n0 + 8 * (fragment column) + e.
template <bool BF16, int MT, int WARPS, int U>
__device__ void skinny_n_major(const SkinnyParams& p) {
  constexpr int NT = 8;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int r = lane >> 2, q = lane & 3;
  const int n0 = blockIdx.x * 64;
  const int kbeg = blockIdx.y * p.k_per_split;
  const int kend = min(p.k, kbeg + p.k_per_split);
  const u16* A = (const u16*)p.a;
  const u16* B = (const u16*)p.b;
  const int ncol = n0 + 8 * r;
  const int nvalid = p.n - ncol;
  float acc[MT][NT][4];
  zero(acc);

  for (int base = kbeg + warp * U * 16; base < kend; base += WARPS * U * 16) {
    V4 bw[U][4];
    u32 aw[U][MT][2][2];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int k = base + u * 16 + 4 * q;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        bw[u][j] = load8<true>(B + (i64)(k + j) * p.ldb + ncol, k + j < kend ? nvalid : 0);
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int m = mt * 16 + r + 8 * h;
          const u16* src = A + (i64)m * p.lda + k;
          if (m < p.m && k + 4 <= kend) {  // 8 aligned bytes: k is a multiple of 4, lda of 8
            asm volatile("ld.global.nc.v2.u32 {%0,%1}, [%2];"
                         : "=r"(aw[u][mt][h][0]), "=r"(aw[u][mt][h][1]) : "l"(src));
          } else {
            u16 e[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) e[i] = (m < p.m && k + i < kend) ? src[i] : (u16)0;
            aw[u][mt][h][0] = pack2(e[0], e[1]);
            aw[u][mt][h][1] = pack2(e[2], e[3]);
          }
        }
    }
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        const u32 w0 = word(bw[u][0], t >> 1), w1 = word(bw[u][1], t >> 1);
        const u32 w2 = word(bw[u][2], t >> 1), w3 = word(bw[u][3], t >> 1);
        const u32 sel = (t & 1) ? 0x7632u : 0x5410u;
        const u32 b0 = __byte_perm(w0, w1, sel), b1 = __byte_perm(w2, w3, sel);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
          mma<BF16>(acc[mt][t], aw[u][mt][0][0], aw[u][mt][1][0], aw[u][mt][0][1], aw[u][mt][1][1], b0, b1);
      }
  }
  finish<BF16, MT, NT, WARPS>(p, acc, [&](int t, int e) { return n0 + 8 * (2 * q + (e & 1)) + t; });
}
)CUDA";

}  // namespace

std::string skinny_kernel_name(const SkinnyConfig& c) {
  std::ostringstream out;
  out << "gt_skinny_" << (c.layout == BLayout::k_major ? "kmajor" : "nmajor") << (c.bf16 ? "_bf16" : "_f16") << "_m"
      << c.m_tiles << "_t" << c.n_tiles << "_w" << c.warps << "_u" << c.unroll;
  return out.str();
}

std::vector<SkinnyConfig> skinny_family(BLayout layout, bool bf16, int m_tiles, bool exhaustive) {
  struct Tiling {
    int n_tiles, warps, unroll;
  };
  std::vector<Tiling> list;
  if (layout == BLayout::k_major) {
    if (!exhaustive) {
      // The five tilings that came closest to the best of the exhaustive
      // space over the decode shapes (H200, bench/RESULTS.md).
      list = {{1, 8, 2}, {2, 8, 2}, {1, 4, 2}, {2, 4, 1}, {2, 4, 4}};
    } else {
      // Registers bound unroll x tiles; shared memory bounds warps x tiles.
      for (int nt : {1, 2, 4})
        for (int w : {4, 8, 16})
          for (int u : {1, 2, 4, 8})
            if (m_tiles * nt * u <= 16 && (w < 16 || m_tiles * nt <= 2)) list.push_back({nt, w, u});
    }
  } else {
    // 64 columns per warp; the CTA's warps add through shared memory, which
    // limits two row tiles to 4 warps.
    if (!exhaustive) {
      list = m_tiles == 1 ? std::vector<Tiling>{{8, 4, 1}, {8, 8, 4}, {8, 4, 4}}
                          : std::vector<Tiling>{{8, 4, 1}, {8, 4, 2}, {8, 4, 4}};
    } else {
      for (int w : {4, 8})
        for (int u : {1, 2, 4})
          if (m_tiles == 1 || w == 4) list.push_back({8, w, u});
    }
  }
  std::vector<SkinnyConfig> out;
  for (const Tiling& t : list) {
    SkinnyConfig c;
    c.layout = layout;
    c.bf16 = bf16;
    c.m_tiles = m_tiles;
    c.n_tiles = t.n_tiles;
    c.warps = t.warps;
    c.unroll = t.unroll;
    out.push_back(c);
  }
  return out;
}

std::string skinny_source_digest() {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const char* s = kSource; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

std::string skinny_module_source(const std::vector<SkinnyConfig>& configs) {
  std::ostringstream out;
  out << kSource;
  std::set<std::string> seen;
  for (const SkinnyConfig& c : configs) {
    const std::string name = skinny_kernel_name(c);
    if (!seen.insert(name).second) continue;
    out << "extern \"C\" __global__ void __launch_bounds__(" << 32 * c.warps << ") " << name
        << "(SkinnyParams p) { ";
    if (c.layout == BLayout::k_major)
      out << "skinny_k_major<" << (c.bf16 ? "true" : "false") << ", " << c.m_tiles << ", " << c.n_tiles << ", "
          << c.warps << ", " << c.unroll << ">(p); }\n";
    else
      out << "skinny_n_major<" << (c.bf16 ? "true" : "false") << ", " << c.m_tiles << ", " << c.warps << ", "
          << c.unroll << ">(p); }\n";
  }
  return out.str();
}

}  // namespace gemmtune::backends::cuda_skinny
