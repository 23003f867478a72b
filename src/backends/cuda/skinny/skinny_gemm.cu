// Skinny GEMM for M <= 32 rows of A (decode-time projections y = x.W^T).
//
// Why it looks like this: with M <= 32 the GEMM is a stream over B (2 bytes
// per multiply-add per row of A), so the work is to keep enough 16-byte
// loads of B in flight, each used once, and to multiply on tensor cores
// (mma.sync m16n8k16, A = the few rows of x, B = the weights). A sum over K
// may visit K in any order as long as both operands agree, so each thread
// loads 16 contiguous bytes and the fragments take them as a permutation of
// K (GT_KMAJOR); for N-contiguous B, four rows of 8 columns are paired with
// byte permutes into the fragments' (k, k+1) pairs, and the columns come out
// permuted, which only changes where results are stored. No shared-memory
// staging. The warps of a CTA split its K range and add through shared
// memory; split-K across CTAs (gridDim.y > 1) adds with f32 atomics into a
// scratch, and the last CTA of a column block writes C and leaves the
// scratch zero again.
//
// Configuration (-D from the host; defaults for standalone checks):
#include "gt_common.cuh"

#ifndef GT_KMAJOR
#define GT_KMAJOR 1   // 1: B's K contiguous (nn.Linear's W, layout nt); 0: B's N contiguous (nn)
#endif
#ifndef GT_MT
#define GT_MT 1       // 16-row MMA tiles of A: M <= 16 * GT_MT
#endif
#ifndef GT_NT
#define GT_NT 1       // 8-column MMA tiles per warp (K-major: 1, 2 or 4; N-major: always 8)
#endif
#ifndef GT_WARPS
#define GT_WARPS 8    // per CTA; they split the CTA's K range
#endif
#ifndef GT_UNROLL
#define GT_UNROLL 2   // K steps loaded before they are multiplied
#endif

struct GtSkinnyParams {
  GtEpilogue ep;
  const void* a;       // M x K, K contiguous
  const void* b;       // K-major: W (N x K) rows; N-major: B (K x N) rows
  float* work;         // split-K: M x N f32 scratch, all zero between runs
  unsigned* tickets;   // split-K: one counter per CTA column, zero between runs
  gt_i64 lda, ldb;     // elements between rows of A, and of W (K-major) or B (N-major)
  int m, n, k;
  int k_per_split;     // a multiple of the K step
};

struct GtV4 {
  gt_u32 x, y, z, w;
};

// B: used once, so not kept in L1; L2 fetches the whole 256-byte block (the
// neighbouring warps read the rest of it next).
__device__ __forceinline__ GtV4 gt_load_stream(const gt_u16* p) {
  GtV4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}
__device__ __forceinline__ GtV4 gt_load_keep(const gt_u16* p) {  // A: read by every warp
  GtV4 v;
  asm volatile("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}
__device__ __forceinline__ gt_u32 gt_pair16(gt_u16 lo, gt_u16 hi) { return (gt_u32)lo | ((gt_u32)hi << 16); }
// 8 elements at p of which `valid` exist (<= 0: none, all zeros): one 16-byte
// load when all 8 do, else element by element (any alignment).
template <bool STREAM>
__device__ __forceinline__ GtV4 gt_load8(const gt_u16* p, int valid) {
  if (valid <= 0) return GtV4{0, 0, 0, 0};
  if (valid >= 8) return STREAM ? gt_load_stream(p) : gt_load_keep(p);
  gt_u16 e[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) e[i] = i < valid ? p[i] : (gt_u16)0;
  return GtV4{gt_pair16(e[0], e[1]), gt_pair16(e[2], e[3]), gt_pair16(e[4], e[5]), gt_pair16(e[6], e[7])};
}
__device__ __forceinline__ gt_u32 gt_word(const GtV4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

__device__ __forceinline__ void gt_mma(float* d, gt_u32 a0, gt_u32 a1, gt_u32 a2, gt_u32 a3, gt_u32 b0, gt_u32 b1) {
#if GT_BF16
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#endif
}

#if GT_KMAJOR
#define GT_TILES GT_NT
#define GT_KSTEP 32
#else
#define GT_TILES 8
#define GT_KSTEP 16
#endif

// Adds the CTA's warps, then writes C (or, split across CTAs, adds into the
// scratch and lets the last CTA of the column block write C). `col(t, e)`
// maps fragment (tile t, register e) of this lane to its column, n0 + 0 ..
// COLS - 1. The CTA's result goes through shared memory row by row first, so
// that each store or atomic of a warp covers 32 consecutive columns: in
// fragment order one atomic instruction touched 32 different 32-byte
// sectors, and 16 x 4096 x 16 splits of them cost ~23 us (round 8, H100).
template <typename Col>
__device__ __forceinline__ void gt_finish(const GtSkinnyParams& p, float (&acc)[GT_MT][GT_TILES][4], int n0, Col col) {
  constexpr int ACC = GT_MT * GT_TILES * 4;
  constexpr int ROWS = 16 * GT_MT, COLS = 8 * GT_TILES, PITCH = COLS + 1;  // + 1: rows start in other banks
  constexpr int RED = (GT_WARPS > 1 ? GT_WARPS - 1 : 1) * ACC * 32, TILE = ROWS * PITCH;
  __shared__ float smem[RED > TILE ? RED : TILE];  // the warps' partials, then the CTA's tile
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (GT_WARPS > 1) {
    if (warp > 0) {
#pragma unroll
      for (int mt = 0; mt < GT_MT; ++mt)
#pragma unroll
        for (int t = 0; t < GT_TILES; ++t)
#pragma unroll
          for (int e = 0; e < 4; ++e) smem[((warp - 1) * ACC + (mt * GT_TILES + t) * 4 + e) * 32 + lane] = acc[mt][t][e];
    }
    __syncthreads();
    if (warp > 0) return;
#pragma unroll
    for (int w = 0; w < GT_WARPS - 1; ++w)
#pragma unroll
      for (int mt = 0; mt < GT_MT; ++mt)
#pragma unroll
        for (int t = 0; t < GT_TILES; ++t)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[mt][t][e] += smem[(w * ACC + (mt * GT_TILES + t) * 4 + e) * 32 + lane];
    __syncwarp();  // every lane has read the partials before the tile overwrites them
  }
  const int r = lane >> 2;
#pragma unroll
  for (int mt = 0; mt < GT_MT; ++mt)
#pragma unroll
    for (int t = 0; t < GT_TILES; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) smem[(mt * 16 + r + (e >= 2 ? 8 : 0)) * PITCH + col(t, e) - n0] = acc[mt][t][e];
  __syncwarp();
  const int elements = min(ROWS, p.m) * COLS;
  const bool split = gridDim.y > 1;
  for (int i = lane; i < elements; i += 32) {
    const int m = i / COLS, c = i % COLS, n = n0 + c;
    if (n < p.n) {
      if (split) atomicAdd(p.work + (gt_i64)m * p.n + n, smem[m * PITCH + c]);
      else gt_store_one(p.ep, 0, m, n, smem[m * PITCH + c]);
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
  for (int i = lane; i < elements; i += 32) {
    const int m = i / COLS, n = n0 + i % COLS;
    if (n < p.n) {
      float* w = p.work + (gt_i64)m * p.n + n;
      gt_store_one(p.ep, 0, m, n, __ldcg(w));
      __stcg(w, 0.f);
    }
  }
  if (lane == 0) p.tickets[blockIdx.x] = 0;
}

extern "C" __global__ void __launch_bounds__(32 * GT_WARPS) gt_skinny_gemm(const GtSkinnyParams p) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int r = lane >> 2, q = lane & 3;
  const int kbeg = blockIdx.y * p.k_per_split;
  const int kend = min(p.k, kbeg + p.k_per_split);
  const gt_u16* A = (const gt_u16*)p.a;
  const gt_u16* B = (const gt_u16*)p.b;
  float acc[GT_MT][GT_TILES][4];
#pragma unroll
  for (int mt = 0; mt < GT_MT; ++mt)
#pragma unroll
    for (int t = 0; t < GT_TILES; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mt][t][e] = 0.f;

#if GT_KMAJOR
  // Thread (r, q) holds k0+8q..k0+8q+7 of its rows (two MMAs' worth).
  const int n0 = blockIdx.x * (8 * GT_NT);
  for (int base = kbeg + warp * GT_UNROLL * 32; base < kend; base += GT_WARPS * GT_UNROLL * 32) {
    GtV4 bw[GT_UNROLL][GT_NT];
    GtV4 aw[GT_UNROLL][GT_MT][2];
#pragma unroll
    for (int u = 0; u < GT_UNROLL; ++u) {
      const int k = base + u * 32 + 8 * q;
      const int valid = kend - k;
#pragma unroll
      for (int t = 0; t < GT_NT; ++t) {
        const int n = n0 + 8 * t + r;
        bw[u][t] = gt_load8<true>(B + (gt_i64)n * p.ldb + k, n < p.n ? valid : 0);
      }
#pragma unroll
      for (int mt = 0; mt < GT_MT; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int m = mt * 16 + r + 8 * h;
          aw[u][mt][h] = gt_load8<false>(A + (gt_i64)m * p.lda + k, m < p.m ? valid : 0);
        }
    }
#pragma unroll
    for (int u = 0; u < GT_UNROLL; ++u)
#pragma unroll
      for (int s = 0; s < 2; ++s)  // two MMAs over the 32 K positions of a step
#pragma unroll
        for (int mt = 0; mt < GT_MT; ++mt)
#pragma unroll
          for (int t = 0; t < GT_NT; ++t)
            gt_mma(acc[mt][t], gt_word(aw[u][mt][0], 2 * s), gt_word(aw[u][mt][1], 2 * s),
                   gt_word(aw[u][mt][0], 2 * s + 1), gt_word(aw[u][mt][1], 2 * s + 1), gt_word(bw[u][t], 2 * s),
                   gt_word(bw[u][t], 2 * s + 1));
  }
  gt_finish(p, acc, n0, [&](int t, int e) { return n0 + 8 * t + 2 * q + (e & 1); });
#else
  // Thread (r, q) loads rows k0+4q..k0+4q+3 of columns n0+8r..n0+8r+7; pairs
  // (k, k+1) of one column become a B fragment register, so register j of
  // the MMA for tile e covers column n0 + 8 * (fragment column) + e.
  const int n0 = blockIdx.x * 64;
  const int ncol = n0 + 8 * r;
  const int nvalid = p.n - ncol;
  for (int base = kbeg + warp * GT_UNROLL * 16; base < kend; base += GT_WARPS * GT_UNROLL * 16) {
    GtV4 bw[GT_UNROLL][4];
    gt_u32 aw[GT_UNROLL][GT_MT][2][2];
#pragma unroll
    for (int u = 0; u < GT_UNROLL; ++u) {
      const int k = base + u * 16 + 4 * q;
#pragma unroll
      for (int j = 0; j < 4; ++j) bw[u][j] = gt_load8<true>(B + (gt_i64)(k + j) * p.ldb + ncol, k + j < kend ? nvalid : 0);
#pragma unroll
      for (int mt = 0; mt < GT_MT; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int m = mt * 16 + r + 8 * h;
          const gt_u16* src = A + (gt_i64)m * p.lda + k;
          if (m < p.m && k + 4 <= kend) {  // 8 aligned bytes: k is a multiple of 4, lda of 8
            asm volatile("ld.global.nc.v2.u32 {%0,%1}, [%2];" : "=r"(aw[u][mt][h][0]), "=r"(aw[u][mt][h][1]) : "l"(src));
          } else {
            gt_u16 e[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) e[i] = (m < p.m && k + i < kend) ? src[i] : (gt_u16)0;
            aw[u][mt][h][0] = gt_pair16(e[0], e[1]);
            aw[u][mt][h][1] = gt_pair16(e[2], e[3]);
          }
        }
    }
#pragma unroll
    for (int u = 0; u < GT_UNROLL; ++u)
#pragma unroll
      for (int t = 0; t < 8; ++t) {
        const gt_u32 w0 = gt_word(bw[u][0], t >> 1), w1 = gt_word(bw[u][1], t >> 1);
        const gt_u32 w2 = gt_word(bw[u][2], t >> 1), w3 = gt_word(bw[u][3], t >> 1);
        const gt_u32 sel = (t & 1) ? 0x7632u : 0x5410u;
        const gt_u32 b0 = __byte_perm(w0, w1, sel), b1 = __byte_perm(w2, w3, sel);
#pragma unroll
        for (int mt = 0; mt < GT_MT; ++mt)
          gt_mma(acc[mt][t], aw[u][mt][0][0], aw[u][mt][1][0], aw[u][mt][0][1], aw[u][mt][1][1], b0, b1);
      }
  }
  gt_finish(p, acc, n0, [&](int t, int e) { return n0 + 8 * (2 * q + (e & 1)) + t; });
#endif
}
